import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Random, setBackend } from '../src/index.js';

describe('wasm BatchMatMul transpose fix (installed by setBackend)', () => {
  it('gives the products of the cpu backend for every transpose combination, without leaks', async () => {
    const suiteBackend = tf.getBackend();
    const random = new Random(5);
    const values = (count: number) => Float32Array.from({ length: count }, () => random.normal());
    const a = values(2 * 6 * 4);
    const b = values(2 * 4 * 5);
    const cases: Array<[boolean, boolean, number[], number[]]> = [
      [false, false, [2, 6, 4], [2, 4, 5]],
      [true, false, [2, 4, 6], [2, 4, 5]],
      [false, true, [2, 6, 4], [2, 5, 4]],
      [true, true, [2, 4, 6], [2, 5, 4]],
    ];
    const products = async () => {
      const results: Float32Array[] = [];
      for (const [transposeA, transposeB, shapeA, shapeB] of cases) {
        const product = tf.tidy(() =>
          tf.matMul(tf.tensor(a, shapeA), tf.tensor(b, shapeB), transposeA, transposeB),
        );
        results.push((await product.data()) as Float32Array);
        product.dispose();
      }
      return results;
    };
    await setBackend('cpu');
    const expected = await products();
    try {
      expect(await setBackend('wasm')).toBe('wasm');
      expect(tf.getKernel('BatchMatMul', 'wasm')).toBeDefined();
      const before = tf.memory().numTensors;
      const actual = await products();
      expect(tf.memory().numTensors).toBe(before);
      actual.forEach((result, index) => {
        expect(result.length).toBe(expected[index]!.length);
        result.forEach((value, position) => {
          expect(value).toBeCloseTo(expected[index]![position]!, 4);
        });
      });
    } finally {
      await tf.setBackend(suiteBackend);
    }
  });
});
