import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { LBFGS } from '../src/lbfgs.js';

const rosenbrock = (w: tf.Variable) => () =>
  tf.tidy(() => {
    const x = tf.slice(w, [0], [1]);
    const y = tf.slice(w, [1], [1]);
    return tf.sum(
      tf.add(tf.square(tf.sub(1, x)), tf.mul(100, tf.square(tf.sub(y, tf.square(x))))),
    ) as tf.Scalar;
  });

describe('LBFGS', () => {
  it('converges on Rosenbrock from (-1.5, 2) with the strong-Wolfe line search', () => {
    const before = tf.memory().numTensors;
    const w = tf.tidy(() => tf.variable(tf.tensor1d([-1.5, 2])));
    const optimizer = new LBFGS({ maxIterations: 200, historySize: 10 });
    const loss = optimizer.minimize(rosenbrock(w), true);
    expect(loss!.dataSync()[0]).toBeCloseTo(6.25 + 100 * (2 - 2.25) ** 2, 3);
    const [x, y] = Array.from(w.dataSync());
    expect(Math.abs(x! - 1)).toBeLessThan(1e-3);
    expect(Math.abs(y! - 1)).toBeLessThan(2e-3);
    loss!.dispose();
    w.dispose();
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('applyGradients runs fixed-step iterations that lower a quadratic', () => {
    const w = tf.variable(tf.tensor1d([3, -2, 1]));
    const scales = tf.tensor1d([1, 2, 3]);
    const loss = () => tf.sum(tf.mul(scales, tf.square(w))) as tf.Scalar;
    const optimizer = new LBFGS({ learningRate: 0.5 });
    const start = loss().dataSync()[0]!;
    for (let step = 0; step < 20; step++) {
      const { value, grads } = tf.variableGrads(loss, [w]);
      optimizer.applyGradients(grads);
      tf.dispose([value, grads]);
    }
    expect(loss().dataSync()[0]).toBeLessThan(start * 1e-3);
    tf.dispose([w, scales]);
    optimizer.dispose();
  });

  it('saves and restores its history exactly through getWeights/setWeights', async () => {
    const w = tf.variable(tf.tensor1d([-1.2, 1]));
    const optimizer = new LBFGS({ maxIterations: 3, historySize: 5 });
    optimizer.minimize(rosenbrock(w));
    const saved = (await optimizer.getWeights()).map(({ name, tensor }) => ({
      name,
      tensor: tf.clone(tensor),
    }));
    const start = tf.clone(w);
    optimizer.minimize(rosenbrock(w));
    const continued = Array.from(w.dataSync());
    w.assign(start);
    const restored = new LBFGS({ maxIterations: 3, historySize: 5 });
    await restored.setWeights(saved);
    expect(restored.iterations).toBe(1);
    restored.minimize(rosenbrock(w), false, [w]);
    expect(Array.from(w.dataSync())).toEqual(continued);
    tf.dispose([w, start, ...saved.map((weight) => weight.tensor)]);
    optimizer.dispose();
    restored.dispose();
  });

  it('keeps curvature pairs with yᵀs below 1e-10 only when toleranceYs allows them (pykan: 1e-32)', async () => {
    const before = tf.memory().numTensors;
    // a quadratic started so close to its minimum that every yᵀs is ~1e-12
    const run = async (toleranceYs: number | undefined) => {
      const w = tf.tidy(() => tf.variable(tf.tensor1d([3e-6, -2e-6, 1e-6])));
      const scales = tf.tensor1d([1, 2, 3]);
      const loss = () => tf.tidy(() => tf.sum(tf.mul(scales, tf.square(w))) as tf.Scalar);
      const optimizer = new LBFGS({
        maxIterations: 4,
        historySize: 10,
        toleranceGrad: 0,
        toleranceChange: 0,
        toleranceYs,
      });
      optimizer.minimize(loss, false, [w]);
      const weights = await optimizer.getWeights();
      const pairs = weights.find((weight) => weight.name === 'lbfgs/rho')!.tensor.shape[0]!;
      // the iteration count is a new tensor; the lbfgs/* tensors belong to the optimizer
      tf.dispose(
        weights.filter((weight) => !weight.name.startsWith('lbfgs/')).map((weight) => weight.tensor),
      );
      tf.dispose([w, scales]);
      optimizer.dispose();
      return pairs;
    };
    expect(await run(undefined)).toBe(0);
    expect(await run(1e-32)).toBeGreaterThan(0);
    expect(new LBFGS({ toleranceYs: 1e-32 }).getConfig().toleranceYs).toBe(1e-32);
    expect(() => new LBFGS({ toleranceYs: -1 })).toThrow(/toleranceYs must be non-negative/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad options and changed variables', () => {
    expect(() => new LBFGS({ historySize: 0 })).toThrow(/historySize must be a positive integer/);
    const a = tf.variable(tf.scalar(1));
    const b = tf.variable(tf.scalar(2));
    const optimizer = new LBFGS({ maxIterations: 1 });
    optimizer.minimize(() => tf.square(a), false, [a]);
    expect(() => optimizer.minimize(() => tf.square(b), false, [b])).toThrow(/variables changed/);
    tf.dispose([a, b]);
    optimizer.dispose();
  });
});
