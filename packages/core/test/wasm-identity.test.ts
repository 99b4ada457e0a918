// The sharing Identity on wasm (wasm-identity.ts): clones share bytes, outlive their source, and
// training (which clones every tensor a gradient saves) gives the cpu backend's results.
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { setBackend } from '../src/index.js';

async function trainTwoSteps(): Promise<Float32Array> {
  return tf.tidy(() => {
    const weight = tf.variable(tf.linspace(-1, 1, 12).reshape([4, 3]));
    const input = tf.linspace(-2, 2, 8).reshape([2, 4]);
    const optimizer = tf.train.adam(0.1);
    for (let step = 0; step < 2; step++) {
      optimizer.minimize(() => tf.sum(tf.square(tf.tanh(tf.matMul(input, weight)))));
    }
    const values = weight.dataSync() as Float32Array;
    optimizer.dispose();
    weight.dispose();
    return values;
  });
}

describe('wasm Identity shares data (installed by setBackend)', () => {
  const suiteBackend = tf.getBackend();
  afterAll(async () => {
    await setBackend(suiteBackend as 'cpu' | 'wasm', { quiet: true });
  });

  it('clones without allocating, and a clone outlives its source', async () => {
    expect(await setBackend('wasm', { quiet: true })).toBe('wasm');
    const source = tf.tensor([1, 2, 3, 4], [2, 2]);
    const bytesBefore = tf.memory().numBytes;
    const dataBefore = tf.engine().backend.numDataIds();
    const copy = tf.clone(source);
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore);
    expect(tf.memory().numBytes).toBe(bytesBefore + 16);
    source.dispose();
    expect(Array.from(await copy.data())).toEqual([1, 2, 3, 4]);
    copy.dispose();
    expect(tf.engine().backend.numDataIds()).toBe(dataBefore - 1);
  });

  it('gives the same training trajectory as cpu', async () => {
    await setBackend('cpu', { quiet: true });
    const expected = await trainTwoSteps();
    expect(await setBackend('wasm', { quiet: true })).toBe('wasm');
    const before = tf.memory().numTensors;
    const actual = await trainTwoSteps();
    expect(tf.memory().numTensors).toBe(before);
    for (const [index, value] of actual.entries()) expect(value).toBeCloseTo(expected[index]!, 5);
  });
});
