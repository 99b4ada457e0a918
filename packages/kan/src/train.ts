// pykan's training loop (`MultKAN.fit`, KindXiaoming/pykan kan/MultKAN.py) for a KAN regressor:
// full-batch (or mini-batch) MSE plus λ · regularisation, with Adam (default here) or pykan's default
// L-BFGS (lr 1, history 10, strong-Wolfe line search, tolerances 1e-32 as pykan's, from
// @mlzoo/optimizers), grid updates from the training inputs every stopGridUpdateStep / gridUpdateNum
// steps during the first stopGridUpdateStep steps. Losses are reported as RMSE, as pykan logs them.
import { defaultRandom, type Random } from '@mlzoo/core';
import { LBFGS } from '@mlzoo/optimizers';
import * as tf from '@tensorflow/tfjs-core';
import type { KAN } from './kan.js';

export interface KANDataset {
  trainInput: tf.Tensor;
  trainLabel: tf.Tensor;
  testInput: tf.Tensor;
  testLabel: tf.Tensor;
}

export interface FitKANOptions {
  /** Optimizer steps (default 100). With L-BFGS each step runs up to `lbfgsIterations` iterations. */
  steps?: number;
  /**
   * 'adam' (default), 'lbfgs' (pykan's default; on the README's toy task it reaches pykan's error from
   * some initialisations and stops in a poor stationary point from others, so Adam remains the default
   * here), or any tf.Optimizer.
   */
  optimizer?: 'lbfgs' | 'adam' | tf.Optimizer;
  /** Learning rate (default 1 for L-BFGS, 1e-2 for Adam). */
  learningRate?: number;
  /** L-BFGS iterations per step (torch's max_iter, default 20 as pykan). */
  lbfgsIterations?: number;
  /** Overall regularisation weight λ (default 0). */
  lamb?: number;
  lambL1?: number;
  lambEntropy?: number;
  lambCoef?: number;
  lambCoefDiff?: number;
  /** Update grids from data (default true). */
  updateGrid?: boolean;
  /** Grid updates during training (default 10). */
  gridUpdateNum?: number;
  /** No grid updates from this step on (default 50). */
  stopGridUpdateStep?: number;
  /** Mini-batch size (default -1: full batch). */
  batch?: number;
  random?: Random;
  /** Called after every step with the step index and the RMSEs. */
  onStep?: (step: number, trainRmse: number, testRmse: number) => void;
}

export interface FitKANResult {
  trainLoss: number[];
  testLoss: number[];
  reg: number[];
}

function rows(x: tf.Tensor, ids: Int32Array | null): tf.Tensor {
  return ids ? tf.gather(x, tf.tensor1d(ids, 'int32')) : tf.clone(x);
}

function choose(count: number, batch: number, random: Random): Int32Array | null {
  if (batch < 0 || batch >= count) return null;
  return random.permutation(count).slice(0, batch);
}

function rmse(model: KAN, input: tf.Tensor, label: tf.Tensor): number {
  return tf.tidy(() => Math.sqrt(tf.mean(tf.square(tf.sub(model.forward(input), label))).dataSync()[0]!));
}

/** Trains `model` in place as pykan's `fit` does; returns the RMSE history. */
export function fitKAN(model: KAN, dataset: KANDataset, options: FitKANOptions = {}): FitKANResult {
  const steps = options.steps ?? 100;
  const lamb = options.lamb ?? 0;
  const random = options.random ?? defaultRandom();
  const updateGrid = options.updateGrid ?? true;
  const stopGridUpdateStep = options.stopGridUpdateStep ?? 50;
  const gridUpdateFrequency = Math.max(1, Math.floor(stopGridUpdateStep / (options.gridUpdateNum ?? 10)));
  const choice = options.optimizer ?? 'adam';
  const optimizer =
    choice === 'lbfgs'
      ? new LBFGS({
          learningRate: options.learningRate ?? 1,
          historySize: 10,
          maxIterations: options.lbfgsIterations ?? 20,
          toleranceGrad: 1e-32,
          toleranceChange: 1e-32,
          toleranceYs: 1e-32,
        })
      : choice === 'adam'
        ? tf.train.adam(options.learningRate ?? 1e-2)
        : choice;
  const ownOptimizer = typeof choice === 'string';
  const canUpdateGrid = model.layers.every((layer) => layer.basis === 'bspline');
  const result: FitKANResult = { trainLoss: [], testLoss: [], reg: [] };
  const count = dataset.trainInput.shape[0]!;
  const batch = options.batch ?? -1;
  const variables = model.parameters({ trainable: true });
  try {
    for (let step = 0; step < steps; step++) {
      const ids = choose(count, batch, random);
      const input = tf.tidy(() => rows(dataset.trainInput, ids));
      const label = tf.tidy(() => rows(dataset.trainLabel, ids));
      if (updateGrid && canUpdateGrid && step % gridUpdateFrequency === 0 && step < stopGridUpdateStep) {
        model.updateGridFromSamples(input);
      }
      let regValue = 0;
      const objective = () =>
        tf.tidy(() => {
          const mse = tf.mean(tf.square(tf.sub(model.forward(input), label)));
          if (lamb === 0) return mse as tf.Scalar;
          const reg = model.regularization(input, options);
          regValue = reg.dataSync()[0]!;
          return tf.add(mse, tf.mul(lamb, reg)) as tf.Scalar;
        });
      const cost = optimizer.minimize(objective, false, variables);
      cost?.dispose();
      const trainRmse = rmse(model, input, label);
      const testRmse = rmse(model, dataset.testInput, dataset.testLabel);
      tf.dispose([input, label]);
      result.trainLoss.push(trainRmse);
      result.testLoss.push(testRmse);
      result.reg.push(regValue);
      options.onStep?.(step, trainRmse, testRmse);
    }
  } finally {
    if (ownOptimizer) optimizer.dispose();
  }
  return result;
}

/** pykan's `create_dataset`: inputs U(range)^n, labels f(inputs), train and test sets. */
export function createDataset(
  fn: (x: tf.Tensor) => tf.Tensor,
  options: {
    numVariables: number;
    trainCount?: number;
    testCount?: number;
    range?: [number, number];
    random?: Random;
  },
): KANDataset {
  const random = options.random ?? defaultRandom();
  const [low, high] = options.range ?? [-1, 1];
  const make = (count: number) => {
    const values = new Float32Array(count * options.numVariables);
    for (let index = 0; index < values.length; index++) values[index] = low + (high - low) * random.uniform();
    const input = tf.tensor2d(values, [count, options.numVariables]);
    const label = tf.tidy(() => fn(input));
    return [input, label] as const;
  };
  const [trainInput, trainLabel] = make(options.trainCount ?? 1000);
  const [testInput, testLabel] = make(options.testCount ?? 1000);
  return { trainInput, trainLabel, testInput, testLabel };
}

export function disposeDataset(dataset: KANDataset): void {
  tf.dispose([dataset.trainInput, dataset.trainLabel, dataset.testInput, dataset.testLabel]);
}
