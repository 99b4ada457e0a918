// Runs the README's quick start through the public import paths (keep the two in sync).
import '@tensorflow/tfjs-backend-cpu';
import { Random } from '@mlzoo/core';
import { batches, FASHION_MNIST_MEAN, FASHION_MNIST_STD, normalize } from '@mlzoo/data';
import { loadFashionMnist } from '@mlzoo/data/node';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

it('runs the README quick start', async () => {
  const before = tf.memory().numTensors;
  const batchSizes: number[] = [];
  // --- README quick start ---
  const { images, labels, classNames } = await loadFashionMnist({ split: 'train' }); // bundled: 2,000 images
  const inputs = normalize(images, FASHION_MNIST_MEAN, FASHION_MNIST_STD);
  for (const batch of batches(
    { x: inputs, y: labels },
    { batchSize: 64, shuffle: true, random: new Random(0) },
  )) {
    // batch.x: [64, 28, 28, 1] float32, batch.y: [64] int32 (the last batch has 16)
    batchSizes.push(batch.x.shape[0]);
    expect(batch.x.shape.slice(1)).toEqual([28, 28, 1]);
    expect(batch.y.dtype).toBe('int32');
    tf.dispose(batch); // each batch's tensors belong to the caller
  }
  const firstName = classNames[(await labels.data())[0]!]; // 'Ankle boot'
  tf.dispose([images, labels, inputs]);
  // --- end ---
  expect(firstName).toBe('Ankle boot');
  expect(batchSizes.length).toBe(32);
  expect(batchSizes.at(-1)).toBe(16);
  expect(tf.memory().numTensors).toBe(before);
});
