// The README's quick start, run exactly as printed.
import { runReadmeQuickStart } from '@mlzoo/testing/readme';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';

it('README quick start runs as printed and prints what its comments say', async () => {
  const before = tf.memory().numTensors;
  const lines = await runReadmeQuickStart(new URL('../README.md', import.meta.url));
  expect(lines).toEqual(['805130', '[2,10]', '[192,64]']);
  expect(tf.memory().numTensors).toBe(before);
});
