// The products that check mlzoo's wasm BatchMatMul (./src/wasm/batched-matmul.ts) against the cpu
// backend: batched, broadcast, transposed and swapped-order products, and their gradients. Each entry
// point that installs the kernel has a test file running these.
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Random, setBackend } from '../src/index.js';

// tfjs-core's BatchMatMul gradient does not reduce broadcast batch dimensions (it throws on cpu too),
// so products that broadcast are checked forward only.
type Case = {
  name: string;
  a: number[];
  b: number[];
  transposeA?: boolean;
  transposeB?: boolean;
  broadcasts?: boolean;
};

export const cases: Case[] = [
  {
    name: 'attention scores [B, H, N, D] x [B, H, N, D]^T',
    a: [2, 3, 5, 4],
    b: [2, 3, 5, 4],
    transposeB: true,
  },
  { name: 'attention values [B, H, N, N] x [B, H, N, D]', a: [2, 3, 5, 5], b: [2, 3, 5, 4] },
  { name: 'gradient shape [G, M, K]^T x [G, M, N]', a: [4, 6, 3], b: [4, 6, 2], transposeA: true },
  { name: 'both transposed', a: [3, 4, 6], b: [3, 5, 4], transposeA: true, transposeB: true },
  { name: 'activation [B, N, C] x weight [C, D]', a: [3, 5, 4], b: [4, 6], broadcasts: true },
  { name: 'activation x transposed weight', a: [2, 3, 5, 4], b: [6, 4], transposeB: true, broadcasts: true },
  { name: 'activation [B, N, C] x [1, C, D]', a: [3, 5, 4], b: [1, 4, 6], broadcasts: true },
  { name: 'matrix x batch [M, K] x [G, K, N]', a: [5, 4], b: [3, 4, 6], broadcasts: true },
  { name: '[1, M, K] x [G, K, N]', a: [1, 5, 4], b: [3, 4, 6], broadcasts: true },
  { name: 'leading ones [1, G, M, K] x [G, K, N]', a: [1, 3, 5, 4], b: [3, 4, 2], broadcasts: true },
  {
    name: 'two-way broadcast [G, 1, M, K] x [1, H, K, N]',
    a: [2, 1, 3, 4],
    b: [1, 3, 4, 2],
    broadcasts: true,
  },
  { name: 'plain 2-D', a: [7, 5], b: [5, 3] },
  // a^T b with b much wider than a is computed as (b^T a)^T
  { name: 'wide weight gradient [K, M]^T x [K, N]', a: [300, 16], b: [300, 256], transposeA: true },
  { name: 'wide weight gradient, batch of one', a: [1, 300, 16], b: [1, 300, 256], transposeA: true },
  { name: 'narrow weight gradient [K, M]^T x [K, N]', a: [300, 64], b: [300, 96], transposeA: true },
  { name: 'batch of one', a: [1, 7, 5], b: [1, 5, 3] },
];

const random = new Random(11);
const inputs = cases.map((entry) => ({
  a: Float32Array.from({ length: entry.a.reduce((x, y) => x * y, 1) }, () => random.normal()),
  b: Float32Array.from({ length: entry.b.reduce((x, y) => x * y, 1) }, () => random.normal()),
}));

export async function compute(): Promise<Float32Array[][]> {
  const results: Float32Array[][] = [];
  for (const [index, entry] of cases.entries()) {
    const { a, b } = inputs[index]!;
    const tensors = tf.tidy(() => {
      const left = tf.tensor(a, entry.a);
      const right = tf.tensor(b, entry.b);
      const product = (x: tf.Tensor, y: tf.Tensor) =>
        tf.matMul(x, y, entry.transposeA ?? false, entry.transposeB ?? false);
      // a non-uniform cotangent: the gradient of sum(product * weights)
      const out = product(left, right);
      if (entry.broadcasts) return [out];
      const weights = tf.linspace(-1, 1, out.size).reshape(out.shape);
      const [gradientA, gradientB] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        tf.sum(tf.mul(product(x, y), weights)),
      )([left, right]);
      return [out, gradientA!, gradientB!];
    });
    results.push(await Promise.all(tensors.map(async (tensor) => (await tensor.data()) as Float32Array)));
    tf.dispose(tensors);
  }
  return results;
}

/** Computes every case on the current backend and compares with `expected` (computed on cpu). */
export async function expectMatchesCpu(expected: Float32Array[][]): Promise<void> {
  const before = tf.memory().numTensors;
  const actual = await compute();
  expect(tf.memory().numTensors).toBe(before);
  for (const [index, entry] of cases.entries()) {
    for (const [part, values] of actual[index]!.entries()) {
      const reference = expected[index]![part]!;
      expect(values.length, `${entry.name} part ${part}`).toBe(reference.length);
      let worst = 0;
      values.forEach((value, position) => {
        worst = Math.max(
          worst,
          Math.abs(value - reference[position]!) / (1 + Math.abs(reference[position]!)),
        );
      });
      expect(worst, `${entry.name} part ${part}`).toBeLessThan(1e-4);
    }
  }
}

/**
 * Checks the kernel as `install` alone registers it (an entry point other than setBackend), selected with
 * tfjs's own setBackend. Each test file runs in its own process; under MLZOO_BACKEND=wasm the setup file
 * has installed every fix before this runs.
 */
export function describeEntryPoint(name: string, install: () => boolean): void {
  describe(`wasm BatchMatMul through ${name}`, () => {
    const suiteBackend = tf.getBackend();
    afterAll(async () => {
      await tf.setBackend(suiteBackend);
    });

    it('matches cpu for batched, broadcast, transposed and swapped products and their gradients', async () => {
      // mlzoo's setBackend loads the cpu package; for cpu it installs nothing on wasm
      await setBackend('cpu', { quiet: true });
      const expected = await compute();
      expect(install()).toBe(true);
      expect(install()).toBe(true);
      expect(await tf.setBackend('wasm')).toBe(true);
      await tf.ready();
      await expectMatchesCpu(expected);
    });
  });
}
