// The README's quick start, run as written (imports through the package entry).
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { AdamW, cosineWithWarmup, hessianTopEigenvalue, LBFGS, SAM } from '../src/index.js';

it('README quick start runs', () => {
  const before = tf.memory().numTensors;
  // least squares: find w with x·w ≈ y (the answer is [1, 2])
  const x = tf.tensor2d([
    [1, 2],
    [3, 4],
    [5, 6],
    [7, 8],
  ]);
  const y = tf.tensor2d([[5], [11], [17], [23]]);
  const w = tf.tidy(() => tf.variable(tf.zeros([2, 1])));
  const loss = () => tf.tidy(() => tf.mean(tf.square(tf.sub(tf.matMul(x, w), y)))) as tf.Scalar;

  // SAM over AdamW with a cosine schedule; minimize evaluates the loss twice per step
  const schedule = cosineWithWarmup({ learningRate: 0.1, totalSteps: 200, warmupSteps: 10 });
  const sam = new SAM({ base: new AdamW({ learningRate: schedule, weightDecay: 0 }), rho: 0.05 });
  for (let step = 0; step < 200; step++) sam.minimize(loss);

  // L-BFGS with a strong-Wolfe line search finishes the job
  const lbfgs = new LBFGS({ maxIterations: 50 });
  lbfgs.minimize(loss);
  // w ≈ [1, 2]

  // sharpness: the top eigenvalue of the loss Hessian (here (2/4)·xᵀx, ≈ 101.8)
  const { eigenvalue } = hessianTopEigenvalue(loss, [w]);

  const [w0, w1] = Array.from(w.dataSync());
  expect(Math.abs(w0! - 1)).toBeLessThan(1e-3);
  expect(Math.abs(w1! - 2)).toBeLessThan(1e-3);
  expect(Math.abs(eigenvalue / (51 + Math.sqrt(51 ** 2 - 20)) - 1)).toBeLessThan(1e-2);
  sam.dispose();
  lbfgs.dispose();
  tf.dispose([x, y, w]);
  expect(tf.memory().numTensors).toBe(before);
});
