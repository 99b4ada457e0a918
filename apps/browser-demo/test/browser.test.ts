// Runs the demo page in Debian's Chromium through playwright-core: real browser, real bundle.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain .mjs helper without types
import { startStaticServer } from '../scripts/static-server.mjs';
import type { DemoResult } from '../src/main.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

describe('browser demo in Chromium', () => {
  let server: { url: string; close: () => Promise<void> };
  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium not found at ${CHROMIUM}: install Debian's chromium (.ci/run does) or set CHROMIUM_PATH`,
      );
    }
    execFileSync(process.execPath, [fileURLToPath(new URL('../scripts/build.mjs', import.meta.url))], {
      stdio: 'inherit',
    });
    server = await startStaticServer(new URL('../dist/', import.meta.url));
  });
  afterAll(async () => {
    await server?.close();
  });

  async function runDemo(query: string): Promise<DemoResult> {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${server.url}${query}`);
      await page.waitForFunction(() => window.mlzooDemo?.result || window.mlzooDemo?.error, null, {
        timeout: 240_000,
      });
      const outcome = await page.evaluate(() => window.mlzooDemo!);
      expect(outcome.error).toBeUndefined();
      expect(errors).toEqual([]);
      expect(await page.textContent('#status')).toContain('reloaded model predicts identically');
      const result = outcome.result as DemoResult;
      console.info(`browser demo${query}: ${JSON.stringify(result)}`);
      return result;
    } finally {
      await browser.close();
    }
  }

  let cpuAccuracy = 0;
  it('trains, evaluates, saves and reloads safetensors in the page (cpu backend)', async () => {
    const result = await runDemo('');
    expect(result.backend).toBe('cpu');
    expect(result.trainImages).toBe(2000);
    expect(result.testImages).toBe(500);
    expect(result.accuracy).toBeGreaterThan(0.72);
    expect(result.reloadIdentical).toBe(true);
    cpuAccuracy = result.accuracy;
  }, 240_000);

  it('does the same on WebGPU (the SwiftShader adapter of Chromium) with accuracy close to cpu', async () => {
    const result = await runDemo('?backend=webgpu');
    expect(result.backend).toBe('webgpu');
    expect(result.reloadIdentical).toBe(true);
    // same seed and data; float differences between backends move the trajectory a little
    expect(Math.abs(result.accuracy - cpuAccuracy)).toBeLessThan(0.04);
  }, 300_000);
});
