// The fast wasm BatchMatMul (./src/wasm/batched-matmul.ts) as setBackend installs it: every batched,
// broadcast and transposed product gives the cpu backend's values, forward and through tf.grad, without
// leaking tensors or wasm views.
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { setBackend } from '../src/index.js';
import { compute, expectMatchesCpu } from './wasm-batch-matmul-cases.js';

describe('wasm BatchMatMul fast path (installed by setBackend)', () => {
  const suiteBackend = tf.getBackend();
  afterAll(async () => {
    await setBackend(suiteBackend as 'cpu' | 'wasm', { quiet: true });
  });

  it('matches cpu for batched, broadcast and transposed products and their gradients', async () => {
    await setBackend('cpu', { quiet: true });
    const expected = await compute();
    expect(await setBackend('wasm', { quiet: true })).toBe('wasm');
    await expectMatchesCpu(expected);
  });

  it('still reports a mismatched inner dimension with tfjs shape error', async () => {
    expect(await setBackend('wasm', { quiet: true })).toBe('wasm');
    expect(() => tf.tidy(() => tf.matMul(tf.ones([2, 3, 4]), tf.ones([2, 5, 6])))).toThrow(/inner shapes/);
  });
});
