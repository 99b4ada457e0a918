// Hessian-vector products and the power iteration, and which tfjs-core ops support double backprop
// (the list documented in src/sharpness.ts).
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { evaluateLoss, hessianTopEigenvalue, hessianVectorProduct, lossChunks } from '../src/sharpness.js';
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

  it('finds the largest eigenvalue with a shift when a negative one has the largest magnitude', () => {
    // L = ½ wᵀAw with A = Qᵀ diag(7, 3, -10) Q: power iteration alone finds -10, shifted by -10 it finds 7
    const q = tf.tensor2d([0.6, 0.8, 0, -0.8, 0.6, 0, 0, 0, 1], [3, 3]);
    const a = tf.tidy(() => tf.matMul(tf.matMul(q, tf.diag(tf.tensor1d([7, 3, -10])), true), q));
    const w = tf.variable(tf.tensor2d([0.3, -0.2, 0.5], [3, 1]));
    const loss = () => tf.tidy(() => tf.mul(0.5, tf.sum(tf.mul(w, tf.matMul(a, w))))) as tf.Scalar;
    const before = tf.memory().numTensors;
    const options = { method: 'exact' as const, iterations: 200, tolerance: 1e-7 };
    expect(hessianTopEigenvalue(loss, [w], options).eigenvalue).toBeCloseTo(-10, 3);
    const shifted = hessianTopEigenvalue(loss, [w], { ...options, shift: -10 });
    expect(shifted.eigenvalue).toBeCloseTo(7, 3);
    expect(shifted.converged).toBe(true);
    expect(() => hessianTopEigenvalue(loss, [w], { shift: Number.NaN })).toThrow(/shift must be finite/);
    expect(tf.memory().numTensors).toBe(before);
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

describe('chunked losses', () => {
  // x [32, 4] in chunks of 10, 10, 10, 2: the uneven last chunk checks the weights
  const meanSquaredError =
    (model: TinyRegressor, activation: (x: tf.Tensor) => tf.Tensor) =>
    (inputs: tf.Tensor, targets: tf.Tensor) =>
      tf.tidy(
        () =>
          tf.mean(
            tf.square(
              tf.sub(
                tf.add(
                  tf.matMul(activation(tf.add(tf.matMul(inputs, model.fc1), model.bias1)), model.fc2),
                  model.bias2,
                ),
                targets,
              ),
            ),
          ) as tf.Scalar,
      );
  const largestDifference = (actual: tf.Tensor[], expected: tf.Tensor[]) =>
    tf.tidy(() => {
      const error = Math.max(
        ...actual.map((part, index) => tf.max(tf.abs(tf.sub(part, expected[index]!))).dataSync()[0]!),
      );
      const scale = Math.max(...expected.map((part) => tf.max(tf.abs(part)).dataSync()[0]!));
      return error / scale;
    });

  it('a chunked Hessian-vector product equals the whole-batch one (finite-difference and exact)', () => {
    const { x, y } = regressionData();
    const model = new TinyRegressor();
    const variables = model.parameters();
    const vector = variables.map((variable, index) =>
      tf.randomNormal(variable.shape, 0, 1, 'float32', 10 + index),
    );
    const before = tf.memory().numTensors;
    // Finite differences divide float32 rounding (which the chunk order changes) by 2·step: a step of
    // 3e-2 keeps that near 2e-6 of the product.
    const cases = [
      { method: 'finite-difference' as const, step: 3e-2, activation: tf.tanh },
      { method: 'exact' as const, step: undefined, activation: (value: tf.Tensor) => tf.sin(value) },
    ];
    for (const { method, step, activation } of cases) {
      const loss = meanSquaredError(model, activation);
      const pieces = lossChunks(x, y, 10, loss);
      expect(pieces.map((piece) => piece.weight)).toEqual([10 / 32, 10 / 32, 10 / 32, 2 / 32]);
      const options = step ? { method, step } : { method };
      const whole = hessianVectorProduct(() => loss(x, y), variables, vector, options);
      const chunked = hessianVectorProduct(pieces, variables, vector, options);
      expect(largestDifference(chunked, whole)).toBeLessThan(1e-5);
      expect(evaluateLoss(pieces)).toBeCloseTo(
        evaluateLoss(() => loss(x, y)),
        5,
      );
      tf.dispose([...whole, ...chunked]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([...vector, x, y]);
    model.dispose();
  });

  it('the top eigenvalue from chunks equals the whole-batch one', () => {
    const { x, y } = regressionData();
    const model = new TinyRegressor();
    const loss = meanSquaredError(model, tf.tanh);
    const options = { iterations: 50, tolerance: 1e-6, seed: 3 };
    const before = tf.memory().numTensors;
    const whole = hessianTopEigenvalue(() => loss(x, y), model.parameters(), options);
    const chunked = hessianTopEigenvalue(lossChunks(x, y, 7, loss), model.parameters(), options);
    expect(whole.converged).toBe(true);
    expect(Math.abs(chunked.eigenvalue - whole.eigenvalue)).toBeLessThan(1e-4 * Math.abs(whole.eigenvalue));
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('rejects bad chunks with the reason', () => {
    const { x, y } = regressionData();
    const loss = () => tf.scalar(0);
    expect(() => lossChunks(x, y, 0, loss)).toThrow(/chunkSize must be a positive integer, got 0/);
    expect(() => lossChunks(x, tf.zeros([3]), 8, loss)).toThrow(/32 inputs but 3 targets/);
    expect(() => hessianTopEigenvalue([], [])).toThrow(/no variables/);
    const variable = tf.variable(tf.zeros([2]));
    const direction = tf.ones([2]);
    expect(() => hessianVectorProduct([], [variable], [direction])).toThrow(/the loss has no pieces/);
    tf.dispose([x, y, variable, direction]);
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
