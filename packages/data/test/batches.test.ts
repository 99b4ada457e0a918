import { Random } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  batchCount,
  batches,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  normalize,
  shuffleIndices,
} from '../src/index.js';

describe('shuffleIndices', () => {
  it('is a permutation determined by the seed', () => {
    const first = shuffleIndices(100, new Random(7));
    expect(first).toEqual(shuffleIndices(100, new Random(7)));
    expect(first).not.toEqual(shuffleIndices(100, new Random(8)));
    expect([...first].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, index) => index));
    expect(first).not.toEqual(Int32Array.from({ length: 100 }, (_, index) => index));
    expect(shuffleIndices(0, new Random(1))).toEqual(new Int32Array(0));
    expect(() => shuffleIndices(2.5, new Random(1))).toThrow(
      'shuffleIndices: n must be a non-negative integer, got 2.5',
    );
  });
});

describe('batches', () => {
  it('yields batches in order with a smaller last batch, and nothing leaks', async () => {
    const x = tf.tensor2d(Array.from({ length: 10 }, (_, index) => [index, 10 * index]));
    const y = tf.tensor1d(
      Array.from({ length: 10 }, (_, index) => index),
      'int32',
    );
    const before = tf.memory().numTensors;
    const seen: number[][] = [];
    for (const batch of batches({ x, y }, { batchSize: 4 })) {
      const labels = [...(await batch.y.data())];
      const features = (await batch.x.array()) as number[][];
      expect(features.map((row) => row[0])).toEqual(labels);
      expect(features.map((row) => row[1])).toEqual(labels.map((label) => 10 * label));
      expect(batch.y.dtype).toBe('int32');
      seen.push(labels);
      tf.dispose(batch);
    }
    expect(seen).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect(tf.memory().numTensors).toBe(before);
    expect(
      [...batches({ x, y }, { batchSize: 4, dropLast: true })].map((batch) => {
        const size = batch.x.shape[0];
        tf.dispose(batch);
        return size;
      }),
    ).toEqual([4, 4]);
    expect(batchCount(10, 4)).toBe(3);
    expect(batchCount(10, 4, true)).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  });

  it('shuffles reproducibly with a seed and covers every example once per pass', async () => {
    const y = tf.tensor1d(
      Array.from({ length: 23 }, (_, index) => index),
      'int32',
    );
    const order = async (seed: number) => {
      const values: number[] = [];
      for (const batch of batches({ y }, { batchSize: 5, shuffle: true, random: new Random(seed) })) {
        values.push(...(await batch.y.data()));
        tf.dispose(batch);
      }
      return values;
    };
    const first = await order(3);
    expect(first).toEqual(await order(3));
    expect(first).not.toEqual(await order(4));
    expect([...first].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, index) => index));
    // The order is shuffleIndices with the same seed.
    expect(first).toEqual([...shuffleIndices(23, new Random(3))]);
    y.dispose();
  });

  it('batches image tensors along the first axis', () => {
    const images = tf.zeros([7, 28, 28, 1]);
    const shapes: number[][] = [];
    for (const batch of batches({ images }, { batchSize: 3 })) {
      shapes.push(batch.images.shape);
      tf.dispose(batch);
    }
    expect(shapes).toEqual([
      [3, 28, 28, 1],
      [3, 28, 28, 1],
      [1, 28, 28, 1],
    ]);
    images.dispose();
  });

  it('rejects mismatched inputs and bad sizes with a sentence', () => {
    const x = tf.zeros([4, 2]);
    const y = tf.zeros([5]);
    expect(() => [...batches({ x, y }, { batchSize: 2 })]).toThrow(
      'batches: y has 5 examples (shape [5]) but x has 4',
    );
    expect(() => [...batches({ x }, { batchSize: 0 })]).toThrow(
      'batches: batchSize must be a positive integer, got 0',
    );
    expect(() => [...batches({}, { batchSize: 2 })]).toThrow('batches: data has no tensors');
    tf.dispose([x, y]);
  });
});

describe('normalize', () => {
  it('normalises per channel and leaves the input alone', async () => {
    const images = tf.tensor4d([0, 0.5, 1, 0.25, 0.5, 0.75], [1, 1, 2, 3]);
    const before = tf.memory().numTensors;
    const output = normalize(images, [0.5, 0.5, 0.25], [0.5, 0.25, 0.25]);
    expect(tf.memory().numTensors).toBe(before + 1);
    const expected = [-1, 0, 3, -0.5, 0, 2];
    const values = await output.data();
    for (const [index, value] of expected.entries()) expect(values[index]).toBeCloseTo(value, 6);
    expect(output.shape).toEqual([1, 1, 2, 3]);
    output.dispose();
    expect(images.isDisposed).toBe(false);
    images.dispose();
  });

  it('broadcasts one mean/std over a single channel (Fashion-MNIST constants)', async () => {
    const images = tf.fill([2, 28, 28, 1], FASHION_MNIST_MEAN);
    const output = normalize(images, FASHION_MNIST_MEAN, FASHION_MNIST_STD);
    const { maximum, minimum } = tf.tidy(() => ({ maximum: tf.max(output), minimum: tf.min(output) }));
    expect((await maximum.data())[0]).toBeCloseTo(0, 6);
    expect((await minimum.data())[0]).toBeCloseTo(0, 6);
    tf.dispose([images, output, maximum, minimum]);
  });

  it('rejects a wrong number of channels or a non-positive std', () => {
    const images = tf.zeros([1, 2, 2, 3]);
    expect(() => normalize(images, [0.5], [1, 1, 1])).toThrow(
      'normalize: mean has 1 values but the images have 3 channels (shape [1, 2, 2, 3])',
    );
    expect(() => normalize(images, 0, [1, 0, 1])).toThrow(
      'normalize: std must be positive, got 0 for channel 1',
    );
    images.dispose();
  });
});
