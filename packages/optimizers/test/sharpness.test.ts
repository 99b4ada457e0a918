// Hessian-vector products and the power iteration, and which tfjs-core ops support double backprop
// (the list documented in src/sharpness.ts).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { hessianTopEigenvalue, hessianVectorProduct } from '../src/sharpness.js';
import { regressionData, TinyRegressor } from './helpers.js';

describe('hessianTopEigenvalue', () => {
  it('finds the top eigenvalue of a quadratic exactly and by finite differences', () => {
    // L = ½ wᵀAw with A = Qᵀ diag(7, 3, -1) Q: top eigenvalue 7
    const q = tf.tensor2d([0.6, 0.8, 0, -0.8, 0.6, 0, 0, 0, 1], [3, 3]);
    const a = tf.tidy(() => tf.matMul(tf.matMul(q, tf.diag(tf.tensor1d([7, 3, -1])), true), q));
    const w = tf.variable(tf.tensor2d([0.3, -0.2, 0.5], [3, 1]));
    const loss = () => tf.tidy(() => tf.mul(0.5, tf.sum(tf.mul(w, tf.matMul(a, w))))) as tf.Scalar;
    const before = tf.memory().numTensors;
    for (const method of ['exact', 'finite-difference'] as const) {
      const result = hessianTopEigenvalue(loss, [w], { method, iterations: 100, tolerance: 1e-7 });
      expect(result.eigenvalue).toBeCloseTo(7, 3);
      expect(result.converged).toBe(true);
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(w.dataSync())).toEqual([0.3, -0.2, 0.5].map(Math.fround));
    tf.dispose([q, a, w]);
  });

  it('exact and finite-difference products agree on a ReLU network with an MSE loss', () => {
    const { x, y } = regressionData();
    const model = new TinyRegressor();
    const w1 = model.fc1;
    const w2 = model.fc2;
    // a twice-differentiable forward (relu instead of the model's tanh)
    const loss = () =>
      tf.tidy(() => tf.mean(tf.square(tf.sub(tf.matMul(tf.relu(tf.matMul(x, w1)), w2), y)))) as tf.Scalar;
    const vector = [
      tf.randomNormal(w1.shape, 0, 1, 'float32', 1),
      tf.randomNormal(w2.shape, 0, 1, 'float32', 2),
    ];
    const exact = hessianVectorProduct(loss, [w1, w2], vector, { method: 'exact' });
    const approximate = hessianVectorProduct(loss, [w1, w2], vector, { step: 1e-2 });
    exact.forEach((part, index) => {
      const error = tf.tidy(() => tf.max(tf.abs(tf.sub(part, approximate[index]!))).dataSync()[0]!);
      const scale = tf.tidy(() => tf.max(tf.abs(part)).dataSync()[0]!);
      expect(error).toBeLessThan(2e-2 * scale);
    });
    tf.dispose([...exact, ...approximate, ...vector, x, y]);
    model.dispose();
  });
});

describe('double backprop in tfjs-core 4.22', () => {
  const w = tf.variable(tf.tensor1d([0.3, -0.7, 0.5]));
  const v = tf.tensor1d([1, 0.5, -2]);
  const exactProduct = (op: (x: tf.Tensor) => tf.Tensor) =>
    hessianVectorProduct(() => tf.sum(op(w)) as tf.Scalar, [w], [v], { method: 'exact' });
  const supported: Record<string, (x: tf.Tensor) => tf.Tensor> = {
    matMul: (x) => tf.square(tf.matMul(tf.reshape(x, [1, 3]), tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]))),
    sqrt: (x) => tf.sqrt(tf.add(tf.square(x), 1)),
    log: (x) => tf.log(tf.add(tf.square(x), 1)),
    erf: (x) => tf.erf(x),
    div: (x) => tf.div(x, tf.add(tf.square(x), 1)),
    relu: (x) => tf.mul(tf.relu(x), x),
    moments: (x) => tf.square(tf.moments(x).variance),
    rsqrt: (x) => tf.rsqrt(tf.add(tf.square(x), 1)),
    softplus: (x) => tf.softplus(x),
    'slice + concat': (x) => tf.square(tf.concat([x, tf.slice(x, [1], [2])])),
  };
  const unsupported: Record<string, (x: tf.Tensor) => tf.Tensor> = {
    exp: (x) => tf.exp(x),
    tanh: (x) => tf.tanh(x),
    sigmoid: (x) => tf.sigmoid(x),
    logSoftmax: (x) => tf.logSoftmax(x),
    softmax: (x) => tf.mul(tf.softmax(x), tf.tensor1d([1, 2, 3])),
    max: (x) => tf.square(tf.max(x)),
    leakyRelu: (x) => tf.mul(tf.leakyRelu(x, 0.1), x),
  };
  for (const [name, op] of Object.entries(supported)) {
    it(`${name}: exact equals finite differences`, () => {
      const exact = exactProduct(op);
      const approximate = hessianVectorProduct(() => tf.sum(op(w)) as tf.Scalar, [w], [v], { step: 1e-2 });
      const error = tf.tidy(() => tf.max(tf.abs(tf.sub(exact[0]!, approximate[0]!))).dataSync()[0]!);
      expect(error).toBeLessThan(1e-2);
      tf.dispose([...exact, ...approximate]);
    });
  }
  for (const [name, op] of Object.entries(unsupported)) {
    it(`${name}: double backprop fails (use the finite-difference product)`, () => {
      expect(() => exactProduct(op)).toThrow(/Cannot find a connection|gradient function not found/);
    });
  }
});
