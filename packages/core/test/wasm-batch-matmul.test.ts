// The fast wasm BatchMatMul (wasm-batch-matmul.ts): every batched, broadcast and transposed product
// gives the cpu backend's values, forward and through tf.grad, without leaking tensors or wasm views.
import '@tensorflow/tfjs-backend-wasm';
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

const cases: Case[] = [
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
  { name: 'batch of one', a: [1, 7, 5], b: [1, 5, 3] },
];

const random = new Random(11);
const inputs = cases.map((entry) => ({
  a: Float32Array.from({ length: entry.a.reduce((x, y) => x * y, 1) }, () => random.normal()),
  b: Float32Array.from({ length: entry.b.reduce((x, y) => x * y, 1) }, () => random.normal()),
}));

async function compute(): Promise<Float32Array[][]> {
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

describe('wasm BatchMatMul fast path (installed by setBackend)', () => {
  const suiteBackend = tf.getBackend();
  afterAll(async () => {
    await setBackend(suiteBackend as 'cpu' | 'wasm', { quiet: true });
  });

  it('matches cpu for batched, broadcast and transposed products and their gradients', async () => {
    await setBackend('cpu', { quiet: true });
    const expected = await compute();
    expect(await setBackend('wasm', { quiet: true })).toBe('wasm');
    const before = tf.memory().numTensors;
    const actual = await compute();
    expect(tf.memory().numTensors).toBe(before);
    for (const [index, entry] of cases.entries()) {
      for (const [part, values] of actual[index]!.entries()) {
        const reference = expected[index]![part]!;
        expect(values.length, `${entry.name} part ${part}`).toBe(reference.length);
        let worst = 0;
        values.forEach((value, position) => {
          worst = Math.max(worst, Math.abs(value - reference[position]!));
        });
        expect(worst, `${entry.name} part ${part}`).toBeLessThan(1e-4);
      }
    }
  });

  it('still reports a mismatched inner dimension with tfjs shape error', async () => {
    expect(await setBackend('wasm', { quiet: true })).toBe('wasm');
    expect(() => tf.tidy(() => tf.matMul(tf.ones([2, 3, 4]), tf.ones([2, 5, 6])))).toThrow(/inner shapes/);
  });
});
