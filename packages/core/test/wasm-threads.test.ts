// The threaded wasm start in Node (wasm-threads.ts). Each case runs in a child process: a tfjs engine
// starts its wasm backend once, so thread counts can only be compared across processes. The child
// imports the built package (dist/), as a user's program would.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { setBackend } from '../src/index.js';

const distribution = fileURLToPath(new URL('../dist/index.js', import.meta.url));

// Computes a matmul, a softmax-attention-like chain, a conv and their gradients on wasm, and the same
// on cpu in the same process, and prints the thread count and the largest difference.
const childProgram = `
const core = await import(${JSON.stringify(distribution)});
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-cpu');
const threads = process.env.THREADS === undefined ? undefined : Number(process.env.THREADS);
await core.setBackend('wasm', { quiet: true, ...(threads === undefined ? {} : { wasmThreads: threads }) });
function compute() {
  const random = (shape, seed) => tf.randomUniform(shape, -1, 1, 'float32', seed);
  return tf.tidy(() => {
    const x = random([64, 96], 1), w = random([96, 80], 2), image = random([2, 12, 12, 3], 3), kernel = random([3, 3, 3, 8], 4);
    const loss = (a, b, c) => tf.add(tf.sum(tf.softmax(tf.matMul(a, b))), tf.sum(tf.square(tf.conv2d(image, c, 1, 'same'))));
    const [ga, gb, gc] = tf.grads(loss)([x, w, kernel]);
    return [loss(x, w, kernel), ga, gb, gc].map((t) => Array.from(t.dataSync()));
  });
}
const onWasm = compute();
const count = core.wasmThreadCount();
await tf.setBackend('cpu');
const onCpu = compute();
let difference = 0;
onWasm.forEach((values, i) => values.forEach((v, j) => { difference = Math.max(difference, Math.abs(v - onCpu[i][j]) / (1 + Math.abs(onCpu[i][j]))); }));
console.log(JSON.stringify({ threads: count, difference }));
`;

function runChild(environment: Record<string, string>): { threads: number; difference: number } {
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', childProgram], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    env: { ...process.env, ...environment },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  return JSON.parse(output.trim().split('\n').at(-1) ?? '{}');
}

describe('wasm threads in Node', () => {
  it('needs the built package', () => {
    expect(existsSync(distribution), `${distribution} is missing: build @mlzoo/core first`).toBe(true);
  });

  it('starts the threaded build with the threads asked for, matches cpu, and lets the process exit', () => {
    // execFileSync returning at all shows the pool's workers do not keep the process alive
    const result = runChild({ THREADS: '2' });
    expect(result.threads).toBe(2);
    expect(result.difference).toBeLessThan(1e-4);
  });

  it('MLZOO_WASM_THREADS=1 keeps tfjs stock single-threaded start', () => {
    const result = runChild({ MLZOO_WASM_THREADS: '1' });
    expect(result.threads).toBe(1);
    expect(result.difference).toBeLessThan(1e-4);
  });

  it('MLZOO_WASM_THREADS sets the default; one thread without it', () => {
    expect(runChild({ MLZOO_WASM_THREADS: '3' }).threads).toBe(3);
    expect(runChild({ MLZOO_WASM_THREADS: '' }).threads).toBe(1);
  });

  it('rejects a malformed MLZOO_WASM_THREADS with an error naming it', () => {
    let stderr = '';
    try {
      runChild({ MLZOO_WASM_THREADS: 'two' });
    } catch (error) {
      stderr = String((error as { stderr?: unknown }).stderr ?? '');
    }
    expect(stderr).toMatch(/MLZOO_WASM_THREADS: expected a positive integer or 'auto', got 'two'/);
  });

  it('rejects a wasmThreads option that is not a positive integer, naming the option and the value', async () => {
    const before = tf.getBackend();
    for (const [value, shown] of [
      [Number.NaN, 'NaN'],
      [2.5, '2.5'],
      [0, '0'],
      [-2, '-2'],
      [Number.POSITIVE_INFINITY, 'Infinity'],
    ] as const) {
      for (const request of ['wasm', 'cpu', 'auto'] as const) {
        await expect(setBackend(request, { quiet: true, wasmThreads: value })).rejects.toThrow(
          `setBackend: wasmThreads: expected a positive integer, got ${shown}`,
        );
      }
    }
    // the check runs before any backend starts
    expect(tf.getBackend()).toBe(before);
  });
});
