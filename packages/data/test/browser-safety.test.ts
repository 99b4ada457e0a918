// The main entry must bundle for browsers without Node built-ins; the node entry is where they live.
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const entry = (name: string) => fileURLToPath(new URL(`../src/${name}`, import.meta.url));

async function bundleForBrowser(name: string) {
  return build({
    entryPoints: [entry(name)],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    conditions: ['@mlzoo/source'],
    external: ['@tensorflow/*', '@mlzoo/*'],
    logLevel: 'silent',
  });
}

describe('browser safety', () => {
  it("bundles '@mlzoo/data' for the browser with no node: imports", async () => {
    const result = await bundleForBrowser('index.ts');
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/from\s+["']node:/);
    expect(code).not.toMatch(/require\(["'](node:)?(fs|zlib|path|stream)["']\)/);
  });

  it("keeps the Node-only code (node:fs, pngjs) in '@mlzoo/data/node'", async () => {
    await expect(bundleForBrowser('node.ts')).rejects.toThrow(/Could not resolve/);
  });
});
