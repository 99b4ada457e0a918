// mlzoo's Sum on wasm (./src/wasm/reduction-kernels.ts): sums over leading axes add halves of the
// input natively; every axis pattern, keepDims and the gradient give the cpu backend's values.
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { Random, setBackend } from '../src/index.js';
import { collapseLeadingReduction } from '../src/wasm/reduction-kernels.js';

type Case = { shape: number[]; axis: number | number[]; keepDims?: boolean; dtype?: 'float32' | 'int32' };

const cases: Case[] = [
  // the fast path: leading axes, even and odd row counts, many halvings
  { shape: [1000, 3], axis: 0 },
  { shape: [129, 65], axis: 0 },
  { shape: [2, 5], axis: 0 },
  { shape: [3, 5], axis: 0, keepDims: true },
  { shape: [4, 6, 8], axis: [0, 1] },
  { shape: [4, 6, 8], axis: [1, 0], keepDims: true },
  { shape: [1, 7, 5], axis: [0, 1] },
  { shape: [7, 1, 5], axis: -3 },
  { shape: [1, 7, 5], axis: 1 },
  // the original kernel: innermost axes, kept axes before the reduced ones, gaps, size-1 axes, int32
  { shape: [6, 4], axis: 1 },
  { shape: [6, 4], axis: [0, 1] },
  { shape: [3, 4, 5], axis: 1 },
  { shape: [3, 4, 5], axis: [0, 2] },
  { shape: [1, 4], axis: 0 },
  { shape: [5, 3], axis: 0, dtype: 'int32' },
  { shape: [0, 3], axis: 0 },
];

const random = new Random(3);
const values = cases.map((entry) =>
  Float32Array.from({ length: entry.shape.reduce((x, y) => x * y, 1) }, () =>
    entry.dtype === 'int32' ? Math.round(random.normal() * 10) : random.normal(),
  ),
);

async function compute(): Promise<Float32Array[][]> {
  const results: Float32Array[][] = [];
  for (const [index, entry] of cases.entries()) {
    const tensors = tf.tidy(() => {
      const x = tf.tensor(values[index]!, entry.shape, entry.dtype ?? 'float32');
      const sum = tf.sum(x, entry.axis, entry.keepDims ?? false);
      if (entry.dtype === 'int32') return [sum];
      // a non-uniform cotangent through the op's gradient
      const weights = tf.linspace(-1, 2, sum.size).reshape(sum.shape);
      const gradient = tf.grad((input: tf.Tensor) =>
        tf.sum(tf.mul(tf.sum(input, entry.axis, entry.keepDims ?? false), weights)),
      )(x);
      return [sum, gradient];
    });
    results.push(await Promise.all(tensors.map(async (tensor) => Float32Array.from(await tensor.data()))));
    expect(tensors[0]!.shape, JSON.stringify(entry)).toEqual(
      tf.tidy(() => tf.sum(tf.zeros(entry.shape), entry.axis, entry.keepDims ?? false).shape),
    );
    tf.dispose(tensors);
  }
  return results;
}

describe('wasm Sum over leading axes (installed by setBackend)', () => {
  const suiteBackend = tf.getBackend();
  afterAll(async () => {
    await setBackend(suiteBackend as 'cpu' | 'wasm', { quiet: true });
  });

  it('finds the [outer, reduced, inner] layout only for adjacent, non-innermost reduced axes', () => {
    expect(collapseLeadingReduction([6400, 384], [0])).toEqual({ outer: 1, reduced: 6400, inner: 384 });
    expect(collapseLeadingReduction([128, 50, 128], [0, 1])).toEqual({ outer: 1, reduced: 6400, inner: 128 });
    expect(collapseLeadingReduction([3, 4, 5], [1])).toEqual({ outer: 3, reduced: 4, inner: 5 });
    expect(collapseLeadingReduction([4, 1, 6, 8], [0, 2])).toEqual({ outer: 1, reduced: 24, inner: 8 });
    expect(collapseLeadingReduction([3, 4, 5], [0, 2])).toBeUndefined();
    expect(collapseLeadingReduction([6, 4], [1])).toBeUndefined();
    expect(collapseLeadingReduction([1, 4], [0])).toBeUndefined();
  });

  it('matches cpu for every axis pattern, keepDims and the gradient, without leaks', async () => {
    await setBackend('cpu', { quiet: true });
    const expected = await compute();
    expect(await setBackend('wasm', { quiet: true })).toBe('wasm');
    const before = tf.memory().numTensors;
    const actual = await compute();
    expect(tf.memory().numTensors).toBe(before);
    for (const [index, entry] of cases.entries()) {
      for (const [part, result] of actual[index]!.entries()) {
        const reference = expected[index]![part]!;
        expect(result.length, `${JSON.stringify(entry)} part ${part}`).toBe(reference.length);
        let worst = 0;
        result.forEach((value, position) => {
          worst = Math.max(
            worst,
            Math.abs(value - reference[position]!) / (1 + Math.abs(reference[position]!)),
          );
        });
        expect(worst, `${JSON.stringify(entry)} part ${part}`).toBeLessThan(1e-5);
      }
    }
  });
});
