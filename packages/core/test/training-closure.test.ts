// fit with optimizers that evaluate the loss several times per step (the MultiPassOptimizer protocol).
// Core cannot import @mlzoo/optimizers, so these tests use a small real two-pass method defined here:
// the extragradient method (Korpelevich 1976): g₁ = ∇L(w), g₂ = ∇L(w − η g₁), w ← w − η g₂.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  crossEntropy,
  evaluate,
  fit,
  init,
  Module,
  manualSeed,
  memoryCheckpoint,
  NonFiniteLossError,
  TRANSPOSED_2D,
} from '../src/index.js';
import { isMultiPassOptimizer, type TrainingStepContext } from '../src/training.js';

type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

class ExtraGradient extends tf.Optimizer {
  static get className(): string {
    return 'ExtraGradient';
  }
  /** Loss evaluations over the optimizer's life. */
  evaluations = 0;
  /** When false, trainingStep skips context.checkLoss (a broken implementation of the protocol). */
  checks = true;
  constructor(readonly learningRate: number) {
    super();
  }

  private step(f: () => tf.Scalar, varList: tf.Variable[], checkLoss?: (loss: tf.Scalar) => void) {
    const gradientStep = (gradients: tf.NamedTensorMap) =>
      tf.tidy(() => {
        for (const variable of varList) {
          variable.assign(tf.sub(variable, tf.mul(gradients[variable.name]!, this.learningRate)));
        }
      });
    const start = varList.map((variable) => tf.clone(variable));
    const first = tf.variableGrads(f, varList);
    this.evaluations++;
    try {
      checkLoss?.(first.value);
      gradientStep(first.grads);
      const second = tf.variableGrads(f, varList);
      this.evaluations++;
      try {
        checkLoss?.(second.value);
        varList.forEach((variable, index) => {
          variable.assign(start[index]!);
        });
        gradientStep(second.grads);
      } finally {
        tf.dispose([second.value, ...Object.values(second.grads)]);
      }
    } catch (error) {
      varList.forEach((variable, index) => {
        variable.assign(start[index]!);
      });
      first.value.dispose();
      throw error;
    } finally {
      tf.dispose([...start, ...Object.values(first.grads)]);
    }
    this.incrementIterations();
    return first.value;
  }

  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    const loss = this.step(f, varList!);
    if (returnCost) return loss;
    loss.dispose();
    return null;
  }

  trainingStep(context: TrainingStepContext): tf.Scalar {
    return this.step(context.computeLoss, context.varList, this.checks ? context.checkLoss : undefined);
  }

  override applyGradients(): void {
    throw new Error('ExtraGradient needs the loss twice per step');
  }
  override async getWeights(): Promise<NamedTensor[]> {
    return [await this.saveIterations()];
  }
  override async setWeights(weights: NamedTensor[]): Promise<void> {
    await this.extractIterations(weights);
  }
  override getConfig(): tf.serialization.ConfigDict {
    return { learningRate: this.learningRate };
  }
}

class TinyClassifier extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(inputs: number, classes: number) {
    super();
    this.weight = this.addParameter(
      'weight',
      init.torchDefaultWeight([inputs, classes], { fanIn: inputs, fanOut: classes }),
      { layout: TRANSPOSED_2D },
    );
    this.bias = this.addParameter('bias', init.zeros([classes]));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.add(tf.matMul(x, this.weight), this.bias);
  }
}

/** Updates a running mean in training mode, as BatchNorm does. */
class RunningMeanClassifier extends TinyClassifier {
  readonly runningMean = this.addBuffer('running_mean', init.zeros([2]));
  override forward(x: tf.Tensor, options: { training?: boolean } = {}): tf.Tensor {
    if (options.training) {
      this.runningMean.assign(
        tf.tidy(() => tf.add(tf.mul(this.runningMean, 0.9), tf.mul(tf.mean(x, 0), 0.1))),
      );
    }
    return super.forward(x);
  }
}

/** Three Gaussian blobs. */
function blobs(count: number, seed: number) {
  return tf.tidy(() => {
    const labels = tf.tensor1d(
      Array.from({ length: count }, (_, index) => index % 3),
      'int32',
    );
    const centers = tf.tensor2d([
      [2, 0],
      [-2, 2],
      [0, -2],
    ]);
    const x = tf.add(tf.gather(centers, labels), tf.randomNormal([count, 2], 0, 0.5, 'float32', seed));
    return { x, y: labels };
  });
}

const values = (model: Module) =>
  [...model.namedParameters().values(), ...model.namedBuffers().values()].flatMap((tensor) =>
    Array.from(tensor.dataSync()),
  );

describe('fit with a multi-pass optimizer (trainingStep)', () => {
  it('recognises the protocol', () => {
    const optimizer = new ExtraGradient(0.1);
    expect(isMultiPassOptimizer(optimizer)).toBe(true);
    expect(isMultiPassOptimizer(tf.train.sgd(0.1))).toBe(false);
    optimizer.dispose();
  });

  it('learns with two evaluations per step, a flat tensor count, and matches minimize driven by hand', async () => {
    const train = blobs(96, 1);
    manualSeed(3);
    const model = new TinyClassifier(2, 3);
    manualSeed(3);
    const reference = new TinyClassifier(2, 3);
    const optimizer = new ExtraGradient(0.2);
    const before = await evaluate(model, train);
    const counts: number[] = [];
    const startCount = tf.memory().numTensors;
    const result = await fit(model, train, {
      optimizer,
      epochs: 3,
      batchSize: 32,
      shuffle: false,
      onProgress: () => counts.push(tf.memory().numTensors),
    });
    expect(tf.memory().numTensors).toBe(startCount);
    expect(new Set(counts)).toEqual(new Set([startCount]));
    expect(result.globalStep).toBe(9);
    expect(optimizer.evaluations).toBe(18);
    expect(optimizer.iterations).toBe(9);
    const after = await evaluate(model, train);
    expect(after.loss).toBeLessThan(before.loss / 2);
    expect(after.accuracy).toBeGreaterThan(0.9);

    // the same steps by hand, one minimize call per batch
    const byHand = new ExtraGradient(0.2);
    const variables = [...reference.namedParameters({ trainable: true }).values()];
    const losses: number[] = [];
    for (let epoch = 0; epoch < 3; epoch++) {
      for (let start = 0; start < 96; start += 32) {
        const loss = byHand.minimize(
          () =>
            tf.tidy(() =>
              crossEntropy(reference.forward(tf.slice(train.x, start, 32)), tf.slice(train.y, start, 32)),
            ),
          true,
          variables,
        )!;
        losses.push(loss.dataSync()[0]!);
        loss.dispose();
      }
    }
    const expected = values(reference);
    values(model).forEach((value, index) => {
      expect(Math.abs(value - expected[index]!)).toBeLessThan(1e-6);
    });
    expect(result.history.at(-1)!.loss).toBeCloseTo((losses[6]! + losses[7]! + losses[8]!) / 3, 6);
    tf.dispose([train.x, train.y]);
    model.dispose();
    reference.dispose();
    optimizer.dispose();
    byHand.dispose();
  });

  for (const failing of ['first', 'second'] as const) {
    it(`a non-finite ${failing} evaluation stops before any update and restores buffers`, async () => {
      const model = new RunningMeanClassifier(2, 3);
      const data = blobs(64, 2);
      const optimizer = new ExtraGradient(0.1);
      await fit(model, data, { optimizer, epochs: 1, batchSize: 32 });
      const count = tf.memory().numTensors;
      // evaluation 1 and 2 are step 1's passes; step 2's are 3 and 4
      const poisonedCall = failing === 'first' ? 3 : 4;
      let calls = 0;
      const loss = (logits: tf.Tensor, targets: tf.Tensor) => {
        calls++;
        const value = crossEntropy(logits, targets);
        return calls === poisonedCall ? (tf.mul(value, Number.NaN) as tf.Scalar) : value;
      };
      let afterLastGoodStep: number[] = [];
      const error = await fit(model, data, {
        optimizer,
        loss,
        epochs: 1,
        batchSize: 32,
        onProgress: () => {
          afterLastGoodStep = values(model);
        },
      }).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(NonFiniteLossError);
      expect(error).toMatchObject({ epoch: 0, step: 2, globalStep: 2 });
      expect(calls).toBe(poisonedCall);
      // step 1 of this run was applied, nothing of step 2 (parameters, running mean, optimizer)
      expect(optimizer.iterations).toBe(3);
      expect(values(model)).toEqual(afterLastGoodStep);
      expect(tf.memory().numTensors).toBe(count);
      model.dispose();
      optimizer.dispose();
      tf.dispose([data.x, data.y]);
    });
  }

  it('a non-finite first loss leaves parameters, buffers and the optimizer exactly as they were', async () => {
    const model = new RunningMeanClassifier(2, 3);
    const data = blobs(32, 4);
    const poisoned = {
      x: tf.tidy(() => tf.concat([tf.fill([1, 2], Number.NaN), tf.slice(data.x, 1, 31)])),
      y: data.y,
    };
    const optimizer = new ExtraGradient(0.1);
    await fit(model, data, { optimizer, epochs: 1, batchSize: 32 });
    const state = values(model);
    const count = tf.memory().numTensors;
    await expect(fit(model, poisoned, { optimizer, epochs: 1, batchSize: 32 })).rejects.toThrow(
      /loss became NaN at epoch 1, step 1/,
    );
    expect(values(model)).toEqual(state);
    expect(optimizer.iterations).toBe(1);
    expect(tf.memory().numTensors).toBe(count);
    model.dispose();
    optimizer.dispose();
    tf.dispose([data.x, data.y, poisoned.x]);
  });

  it('a non-finite second loss undoes the look-ahead and the buffer updates of both passes', async () => {
    const model = new RunningMeanClassifier(2, 3);
    const data = blobs(32, 5);
    const optimizer = new ExtraGradient(0.1);
    const state = values(model);
    let calls = 0;
    const loss = (logits: tf.Tensor, targets: tf.Tensor) => {
      calls++;
      const value = crossEntropy(logits, targets);
      return calls === 2 ? (tf.mul(value, Number.POSITIVE_INFINITY) as tf.Scalar) : value;
    };
    await expect(fit(model, data, { optimizer, loss, batchSize: 32 })).rejects.toThrow(NonFiniteLossError);
    expect(values(model)).toEqual(state);
    expect(optimizer.iterations).toBe(0);
    model.dispose();
    optimizer.dispose();
    tf.dispose([data.x, data.y]);
  });

  it('refuses clipGradNorm and transformGradients, which need a single gradient', async () => {
    const model = new TinyClassifier(2, 3);
    const data = blobs(8, 6);
    const optimizer = new ExtraGradient(0.1);
    await expect(fit(model, data, { optimizer, clipGradNorm: 1 })).rejects.toThrow(
      /ExtraGradient evaluates the loss several times per step .* no single gradient for clipGradNorm/,
    );
    await expect(fit(model, data, { optimizer, transformGradients: (g) => g })).rejects.toThrow(
      /no single gradient for transformGradients/,
    );
    model.dispose();
    optimizer.dispose();
    tf.dispose([data.x, data.y]);
  });

  it('checks class labels before the first update, leaking nothing', async () => {
    const model = new TinyClassifier(2, 3);
    const x = tf.zeros([4, 2]);
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const optimizer = new ExtraGradient(0.1);
    const state = values(model);
    const count = tf.memory().numTensors;
    await expect(fit(model, { x, y }, { optimizer, batchSize: 4 })).rejects.toThrow(
      /class labels range over \[0, 3\] but the model outputs 3 classes/,
    );
    expect(values(model)).toEqual(state);
    expect(optimizer.evaluations).toBe(1);
    expect(tf.memory().numTensors).toBe(count);
    model.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });

  it('a forward that throws inside the optimizer leaks nothing', async () => {
    const model = new (class extends TinyClassifier {
      override forward(x: tf.Tensor): tf.Tensor {
        const hidden = tf.relu(x); // saved on the tape before the error
        this.checkShape(hidden, ['B', 5]);
        return super.forward(hidden);
      }
    })(2, 3);
    const data = blobs(8, 7);
    const optimizer = new ExtraGradient(0.1);
    const count = tf.memory().numTensors;
    await expect(fit(model, data, { optimizer, batchSize: 8 })).rejects.toThrow(
      /expected input \[B, 5\], got \[8, 2\]/,
    );
    expect(tf.memory().numTensors).toBe(count);
    model.dispose();
    optimizer.dispose();
    tf.dispose([data.x, data.y]);
  });

  it('undoes a step whose optimizer never called checkLoss, and says so', async () => {
    const model = new TinyClassifier(2, 3);
    const data = blobs(8, 8);
    const optimizer = new ExtraGradient(0.1);
    optimizer.checks = false;
    const state = values(model);
    const count = tf.memory().numTensors;
    await expect(fit(model, data, { optimizer, batchSize: 8 })).rejects.toThrow(
      /ExtraGradient\.trainingStep never called context\.checkLoss; the step was undone/,
    );
    expect(values(model)).toEqual(state);
    expect(tf.memory().numTensors).toBe(count);
    model.dispose();
    optimizer.dispose();
    tf.dispose([data.x, data.y]);
  });

  it('resumes from a checkpoint with the optimizer state and matches an uninterrupted run', async () => {
    const data = blobs(64, 9);
    const run = async (interruptAfter?: number) => {
      manualSeed(11);
      let model = new TinyClassifier(2, 3);
      const store = memoryCheckpoint();
      const options = { epochs: 2, batchSize: 16, seed: 3, checkpoint: { store, everySteps: 2 } };
      if (interruptAfter != null) {
        const controller = new AbortController();
        const first = new ExtraGradient(0.1);
        await fit(model, data, {
          ...options,
          optimizer: first,
          signal: controller.signal,
          onProgress: ({ globalStep }) => {
            if (globalStep === interruptAfter) controller.abort();
          },
        });
        first.dispose();
        model.dispose();
        manualSeed(99);
        model = new TinyClassifier(2, 3);
      }
      const optimizer = new ExtraGradient(0.1);
      const result = await fit(model, data, { ...options, optimizer });
      const state = { weights: values(model), iterations: optimizer.iterations, result };
      optimizer.dispose();
      model.dispose();
      if (store.state)
        tf.dispose([
          ...Object.values(store.state.model),
          ...store.state.optimizer.map((weight) => weight.tensor),
        ]);
      return state;
    };
    const whole = await run();
    const interrupted = await run(3);
    expect(interrupted.result.resumedFrom).toEqual({ epoch: 0, stepInEpoch: 3, globalStep: 3 });
    expect(interrupted.iterations).toBe(8);
    expect(whole.iterations).toBe(8);
    interrupted.weights.forEach((value, index) => {
      expect(Math.abs(value - whole.weights[index]!)).toBeLessThan(1e-6);
    });
    tf.dispose([data.x, data.y]);
  });
});
