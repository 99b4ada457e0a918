// Seeded shuffling and mini-batching of tensors along their first axis.
import { defaultRandom, type Random } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

/** A seeded Fisher-Yates permutation of 0..n-1 (the same seed gives the same order on every backend). */
export function shuffleIndices(n: number, random: Random = defaultRandom()): Int32Array {
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`shuffleIndices: n must be a non-negative integer, got ${n}`);
  return random.permutation(n);
}

/** Options for {@link batches}. */
export interface BatchOptions {
  batchSize: number;
  /** Visit the examples in a random order (default false: in order). */
  shuffle?: boolean;
  /** The generator for the order when shuffling (default: core's `defaultRandom()`, see `manualSeed`). */
  random?: Random;
  /** Skip the last batch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
}

/** How many batches {@link batches} yields for `count` examples. */
export function batchCount(count: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

/**
 * Yields mini-batches of every tensor in `data` (e.g. `{ x, y }`), gathered along the first axis with
 * the same example indices. The order is drawn once, when iteration starts. Each batch holds new
 * tensors that the caller owns: dispose each one (`tf.dispose(batch)`) after use, or consume it inside
 * a `tf.tidy` per step. The input tensors are never disposed. Consuming the generator inside a tidy that
 * ends before the batch is used would dispose the batch early.
 *
 * @example
 * ```ts
 * import { batches } from '@mlzoo/data';
 * import { Random } from '@mlzoo/core';
 * for (const batch of batches({ x: images, y: labels }, { batchSize: 64, shuffle: true, random: new Random(0) })) {
 *   // ... train on batch.x, batch.y ...
 *   tf.dispose(batch);
 * }
 * ```
 */
export function* batches<T extends Record<string, tf.Tensor>>(
  data: T,
  options: BatchOptions,
): Generator<T, void, undefined> {
  const { batchSize, shuffle = false, dropLast = false } = options;
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new Error(`batches: batchSize must be a positive integer, got ${batchSize}`);
  }
  const names = Object.keys(data);
  if (names.length === 0) throw new Error('batches: data has no tensors');
  const count = data[names[0]!]!.shape[0];
  for (const name of names) {
    const tensor = data[name]!;
    if (tensor.rank === 0)
      throw new Error(`batches: ${name} is a scalar; tensors need a first (example) axis`);
    if (tensor.shape[0] !== count) {
      throw new Error(
        `batches: ${name} has ${tensor.shape[0]} examples (shape [${tensor.shape.join(', ')}]) but ${names[0]} has ${count}`,
      );
    }
  }
  const order = shuffle ? shuffleIndices(count!, options.random ?? defaultRandom()) : identity(count!);
  const total = batchCount(count!, batchSize, dropLast);
  for (let batch = 0; batch < total; batch++) {
    const indices = order.subarray(batch * batchSize, Math.min((batch + 1) * batchSize, count!));
    const indexTensor = tf.tensor1d(indices, 'int32');
    const result = {} as Record<string, tf.Tensor>;
    try {
      for (const name of names) result[name] = tf.gather(data[name]!, indexTensor);
    } catch (error) {
      tf.dispose(result);
      throw error;
    } finally {
      indexTensor.dispose();
    }
    yield result as T;
  }
}

function identity(count: number): Int32Array {
  const order = new Int32Array(count);
  for (let index = 0; index < count; index++) order[index] = index;
  return order;
}
