// Small models and problems shared by the tests.
import { Module, Random } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

/** Two-layer tanh regression network as a core Module (weights stored [in, out]). */
export class TinyRegressor extends Module {
  readonly fc1: tf.Variable;
  readonly bias1: tf.Variable;
  readonly fc2: tf.Variable;
  readonly bias2: tf.Variable;
  constructor(seed = 0, inFeatures = 4, hidden = 8, outFeatures = 2) {
    super();
    const random = new Random(seed);
    const normal = (shape: number[], scale: number) =>
      tf.tensor(
        Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => random.normal() * scale),
        shape,
      );
    this.fc1 = this.addParameter('fc1', normal([inFeatures, hidden], 0.5));
    this.bias1 = this.addParameter('bias1', normal([hidden], 0.1));
    this.fc2 = this.addParameter('fc2', normal([hidden, outFeatures], 0.5));
    this.bias2 = this.addParameter('bias2', normal([outFeatures], 0.1));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() =>
      tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, this.fc1), this.bias1)), this.fc2), this.bias2),
    );
  }
}

/** A fixed regression data set (x [n, 4], y [n, 2]). */
export function regressionData(n = 32, seed = 1): { x: tf.Tensor; y: tf.Tensor } {
  const random = new Random(seed);
  const x = tf.tensor2d(
    Float32Array.from({ length: n * 4 }, () => random.normal()),
    [n, 4],
  );
  const y = tf.tidy(() => tf.sin(tf.matMul(x, tf.tensor2d([1, -1, 0.5, 0.3, -0.2, 0.7, 0.1, 1], [4, 2]))));
  return { x, y };
}

/** Rosenbrock (1 − x)² + 100 (y − x²)², minimum 0 at (1, 1), on a 2-vector variable. */
export function rosenbrock(w: tf.Variable): () => tf.Scalar {
  return () =>
    tf.tidy(() => {
      const x = tf.slice(w, [0], [1]);
      const y = tf.slice(w, [1], [1]);
      return tf.sum(
        tf.add(tf.square(tf.sub(1, x)), tf.mul(100, tf.square(tf.sub(y, tf.square(x))))),
      ) as tf.Scalar;
    });
}
