import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  binaryCrossEntropyWithLogits,
  crossEntropy,
  evaluate,
  fit,
  init,
  Module,
  manualSeed,
  meanSquaredError,
  memoryCheckpoint,
  NonFiniteLossError,
  TRANSPOSED_2D,
} from '../src/index.js';

class TinyClassifier extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(inputs: number, classes: number) {
    super();
    this.weight = this.addParameter(
      'weight',
      init.torchDefaultWeight([inputs, classes], { fanIn: inputs, fanOut: classes }),
      {
        layout: TRANSPOSED_2D,
      },
    );
    this.bias = this.addParameter('bias', init.zeros([classes]));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.add(tf.matMul(tf.reshape(x, [x.shape[0]!, -1]), this.weight), this.bias);
  }
}

/** Three Gaussian blobs: a learnable, real classification problem. */
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

describe('losses match PyTorch formulas', () => {
  it('cross-entropy with class indices, label smoothing and soft targets', () => {
    tf.tidy(() => {
      const logits = tf.tensor2d([
        [2, 0.5, -1],
        [0, 0, 3],
      ]);
      const labels = tf.tensor1d([0, 2], 'int32');
      // torch.nn.functional.cross_entropy(logits, labels) = 0.29814... computed by hand below
      const logp = (row: number[], index: number) =>
        row[index]! - Math.log(row.reduce((sum, value) => sum + Math.exp(value), 0));
      const expected = -(logp([2, 0.5, -1], 0) + logp([0, 0, 3], 2)) / 2;
      expect(crossEntropy(logits, labels).dataSync()[0]).toBeCloseTo(expected, 5);
      const smoothed = crossEntropy(logits, labels, { labelSmoothing: 0.1 }).dataSync()[0]!;
      const rows = [
        [2, 0.5, -1],
        [0, 0, 3],
      ];
      const expectedSmooth =
        rows.reduce(
          (total, row, r) =>
            total -
            row.reduce((sum, _, c) => sum + ((c === [0, 2][r] ? 0.9 : 0) + 0.1 / 3) * logp(row, c), 0),
          0,
        ) / 2;
      expect(smoothed).toBeCloseTo(expectedSmooth, 5);
      const soft = crossEntropy(logits, tf.oneHot(labels, 3).toFloat()).dataSync()[0];
      expect(soft).toBeCloseTo(expected, 5);
    });
  });

  it('binary cross-entropy with logits is stable for large logits', () => {
    tf.tidy(() => {
      const logits = tf.tensor1d([100, -100, 0.3]);
      const targets = tf.tensor1d([1, 1, 0]);
      const expected = (0 + 100 + (0.3 + Math.log1p(Math.exp(-0.3)))) / 3;
      expect(binaryCrossEntropyWithLogits(logits, targets).dataSync()[0]).toBeCloseTo(expected, 4);
      expect(meanSquaredError(tf.tensor1d([1, 2]), tf.tensor1d([0, 4])).dataSync()[0]).toBeCloseTo(2.5, 6);
    });
  });

  it('rejects mismatched shapes with a sentence', () => {
    tf.tidy(() => {
      expect(() => crossEntropy(tf.zeros([2, 3]), tf.zeros([3], 'int32'))).toThrow(
        /batch 2 but targets \[3\]/,
      );
    });
  });
});

/** A classifier with a buffer that its training forward updates, as BatchNorm's running mean does. */
class RunningMeanClassifier extends TinyClassifier {
  readonly runningMean = this.addBuffer('running_mean', init.zeros([2]));
  override forward(x: tf.Tensor, options: { training?: boolean } = {}): tf.Tensor {
    if (options.training) {
      const batchMean = tf.tidy(() => tf.mean(x, 0));
      this.runningMean.assign(tf.tidy(() => tf.add(tf.mul(this.runningMean, 0.9), tf.mul(batchMean, 0.1))));
      batchMean.dispose();
    }
    return super.forward(x);
  }
}

describe('fit and evaluate', () => {
  it('learns a real problem with a flat tensor count', async () => {
    manualSeed(0);
    const train = blobs(300, 1);
    const test = blobs(150, 2);
    const model = new TinyClassifier(2, 3);
    const optimizer = tf.train.adam(0.05);
    const before = await evaluate(model, test);
    const counts: number[] = [];
    const result = await fit(model, train, {
      optimizer,
      epochs: 4,
      batchSize: 32,
      clipGradNorm: 5,
      onProgress: () => counts.push(tf.memory().numTensors),
    });
    const after = await evaluate(model, test);
    expect(result.history).toHaveLength(4);
    expect(result.globalStep).toBe(4 * 10);
    expect(after.loss).toBeLessThan(before.loss);
    expect(after.accuracy).toBeGreaterThan(0.9);
    // constant after the optimizer created its slots in the first step
    expect(new Set(counts.slice(1))).toEqual(new Set([counts[1]]));
    optimizer.dispose();
    model.dispose();
    tf.dispose([train.x, train.y, test.x, test.y]);
  });

  it('stops on a non-finite loss before updating, naming the step, and keeps the last checkpoint', async () => {
    const model = new TinyClassifier(2, 3);
    const data = blobs(64, 3); // 4 steps per epoch at batch 16
    const store = memoryCheckpoint();
    const optimizer = tf.train.sgd(0.1);
    let calls = 0;
    const loss = (logits: tf.Tensor, targets: tf.Tensor) => {
      calls++;
      const base = crossEntropy(logits, targets);
      return calls === 6 ? (tf.mul(base, Number.NaN) as tf.Scalar) : base; // epoch 2, step 2
    };
    let weightsAfterLastGoodStep: unknown;
    const error = await fit(model, data, {
      optimizer,
      loss,
      epochs: 2,
      batchSize: 16,
      checkpoint: store,
      onProgress: () => {
        weightsAfterLastGoodStep = model.weight.arraySync();
      },
    }).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(NonFiniteLossError);
    expect(error).toMatchObject({ epoch: 1, step: 2, globalStep: 6 });
    expect((error as Error).message).toMatch(/loss became NaN at epoch 2, step 2 \(global step 6\)/);
    // the failing step applied no update
    expect(model.weight.arraySync()).toEqual(weightsAfterLastGoodStep);
    // the checkpoint written at the end of epoch 1 is the one kept
    expect(store.state).toMatchObject({ epoch: 1, stepInEpoch: 0, globalStep: 4 });
    model.dispose();
    optimizer.dispose();
    const saved = store.state!;
    tf.dispose([
      data.x,
      data.y,
      ...Object.values(saved.model),
      ...saved.optimizer.map((weight) => weight.tensor),
    ]);
  });

  it('resumes from a checkpoint and matches an uninterrupted run', async () => {
    const data = blobs(96, 4);
    const run = async (interruptAfter?: number) => {
      manualSeed(7);
      let model = new TinyClassifier(2, 3);
      const store = memoryCheckpoint();
      const options = { epochs: 3, batchSize: 16, seed: 5, checkpoint: { store, everySteps: 4 } };
      if (interruptAfter != null) {
        const controller = new AbortController();
        const first = tf.train.adam(0.01);
        const result = await fit(model, data, {
          ...options,
          optimizer: first,
          signal: controller.signal,
          onProgress: ({ globalStep }) => {
            if (globalStep === interruptAfter) controller.abort();
          },
        });
        expect(result.aborted).toBe(true);
        first.dispose();
        model.dispose();
        manualSeed(99); // a different init: everything must come from the checkpoint
        model = new TinyClassifier(2, 3);
      }
      const optimizer = tf.train.adam(0.01);
      const result = await fit(model, data, { ...options, optimizer });
      const weights = model.weight.arraySync();
      optimizer.dispose();
      model.dispose();
      if (store.state)
        tf.dispose([
          ...Object.values(store.state.model),
          ...store.state.optimizer.map((weight) => weight.tensor),
        ]);
      return { weights, result };
    };
    const whole = await run();
    const interrupted = await run(7);
    expect(interrupted.result.resumedFrom).toEqual({ epoch: 1, stepInEpoch: 1, globalStep: 7 });
    expect(interrupted.result.globalStep).toBe(18);
    const flat = (value: unknown) => (value as number[][]).flat();
    const expected = flat(whole.weights);
    flat(interrupted.weights).forEach((value, index) => {
      expect(value).toBeCloseTo(expected[index]!, 5);
    });
    tf.dispose([data.x, data.y]);
  });

  it('a non-finite step leaves buffers (running statistics) as they were', async () => {
    const model = new RunningMeanClassifier(2, 3);
    const data = blobs(32, 8);
    const poisoned = {
      x: tf.tidy(() => tf.concat([tf.fill([1, 2], Number.NaN), tf.slice(data.x, 1, 31)])),
      y: data.y,
    };
    const optimizer = tf.train.sgd(0.1);
    await fit(model, data, { optimizer, epochs: 1, batchSize: 32 });
    const before = model.runningMean.arraySync();
    await expect(fit(model, poisoned, { optimizer, epochs: 1, batchSize: 32 })).rejects.toThrow(
      NonFiniteLossError,
    );
    expect(model.runningMean.arraySync()).toEqual(before);
    model.dispose();
    optimizer.dispose();
    tf.dispose([data.x, data.y, poisoned.x]);
  });

  it('rejects class labels outside [0, numClasses) with a sentence, in fit and evaluate', async () => {
    const model = new TinyClassifier(2, 3);
    const x = tf.zeros([4, 2]);
    const y = tf.tensor1d([0, 1, 2, 3], 'int32');
    const optimizer = tf.train.sgd(0.1);
    const before = tf.memory().numTensors;
    await expect(fit(model, { x, y }, { optimizer, batchSize: 4 })).rejects.toThrow(
      'fit: class labels range over [0, 3] but the model outputs 3 classes (labels must be in [0, 2])',
    );
    await expect(evaluate(model, { x, y })).rejects.toThrow(/evaluate: class labels range over \[0, 3\]/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });

  it('shuffles differently every epoch, also for seeds beyond 2^32', async () => {
    const data = {
      x: tf.tidy(() => tf.reshape(tf.range(0, 64, 1, 'float32'), [32, 2])),
      y: tf.zeros([32], 'int32'),
    };
    for (const seed of [0, 7, 2 ** 40, 10_000_000_000]) {
      const firstBatches: number[][] = [];
      const model = new (class extends TinyClassifier {
        override forward(x: tf.Tensor): tf.Tensor {
          firstBatches.push(Array.from(x.dataSync()));
          return super.forward(x);
        }
      })(2, 3);
      const optimizer = tf.train.sgd(0);
      await fit(model, data, { optimizer, epochs: 3, batchSize: 32, seed });
      expect(new Set(firstBatches.map((batch) => batch.join(','))).size).toBe(3);
      model.dispose();
      optimizer.dispose();
    }
    tf.dispose([data.x, data.y]);
  });

  it('refuses to resume a checkpoint written with another batch size or trainable set', async () => {
    const data = blobs(64, 9);
    const store = memoryCheckpoint();
    const model = new TinyClassifier(2, 3);
    const optimizer = tf.train.adam(0.01);
    await fit(model, data, { optimizer, epochs: 1, batchSize: 16, checkpoint: store });
    await expect(
      fit(model, data, { optimizer, epochs: 2, batchSize: 32, checkpoint: store }),
    ).rejects.toThrow(
      /cannot resume from memory: it was written by a run with batch_size 16; this run has batch_size 32/,
    );
    model.freeze('bias');
    await expect(
      fit(model, data, { optimizer, epochs: 2, batchSize: 16, checkpoint: store }),
    ).rejects.toThrow(/trainable 2 trainable parameters; this run has trainable 1 trainable parameters/);
    model.dispose();
    optimizer.dispose();
    const state = store.state!;
    tf.dispose([
      data.x,
      data.y,
      ...Object.values(state.model),
      ...state.optimizer.map((weight) => weight.tensor),
    ]);
  });

  it('an abort on the last step of an epoch still finishes the epoch; one before any step trains nothing', async () => {
    const data = blobs(64, 10);
    const model = new TinyClassifier(2, 3);
    const optimizer = tf.train.sgd(0.1);
    const controller = new AbortController();
    const ends: number[] = [];
    const result = await fit(model, data, {
      optimizer,
      epochs: 3,
      batchSize: 16,
      validationData: data,
      signal: controller.signal,
      onProgress: ({ step, stepsPerEpoch }) => {
        if (step === stepsPerEpoch) controller.abort();
      },
      onEpochEnd: ({ epoch }) => {
        ends.push(epoch);
      },
    });
    expect(result.aborted).toBe(true);
    expect(ends).toEqual([1]);
    expect(result.history[0]!.validation?.accuracy).toBeGreaterThan(0);
    const weights = model.weight.arraySync();
    const again = await fit(model, data, { optimizer, epochs: 1, signal: controller.signal });
    expect(again).toMatchObject({ aborted: true, globalStep: 0 });
    expect(model.weight.arraySync()).toEqual(weights);
    model.dispose();
    optimizer.dispose();
    tf.dispose([data.x, data.y]);
  });

  it('a forward that throws inside the gradient tape leaks nothing and names the module', async () => {
    const model = new (class extends TinyClassifier {
      override forward(x: tf.Tensor): tf.Tensor {
        const hidden = tf.relu(x); // saved on the tape before the error
        this.checkShape(hidden, ['B', 5]);
        return super.forward(hidden);
      }
    })(2, 3);
    const data = blobs(8, 11);
    const optimizer = tf.train.sgd(0.1);
    const before = tf.memory().numTensors;
    await expect(fit(model, data, { optimizer, batchSize: 8 })).rejects.toThrow(
      /expected input \[B, 5\], got \[8, 2\]/,
    );
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    optimizer.dispose();
    tf.dispose([data.x, data.y]);
  });
});
