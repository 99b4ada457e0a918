// fit() with a checkpoint file: training is stopped half-way (as Ctrl-C or a closed tab would stop
// it), then a new process with a fresh model and optimizer resumes from the file.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluate, fit, manualSeed, Sequential } from '@mlzoo/core';
import { fileCheckpoint } from '@mlzoo/core/node';
import { Linear, ReLU } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

/** Three Gaussian blobs in 2-D, labels 0, 1, 2. */
function blobs(count: number, seed: number) {
  return tf.tidy(() => {
    const y = tf.tensor1d(
      Array.from({ length: count }, (_, index) => index % 3),
      'int32',
    );
    const centers = tf.tensor2d([
      [2, 0],
      [-2, 2],
      [0, -2],
    ]);
    const x = tf.add(tf.gather(centers, y), tf.randomNormal([count, 2], 0, 0.6, 'float32', seed));
    return { x, y };
  });
}

function createModel() {
  return new Sequential([
    new Linear({ inFeatures: 2, outFeatures: 16 }),
    new ReLU(),
    new Linear({ inFeatures: 16, outFeatures: 3 }),
  ]);
}

export async function main() {
  const directory = await mkdtemp(join(tmpdir(), 'mlzoo-docs-'));
  const checkpoint = {
    store: fileCheckpoint(join(directory, 'run.safetensors')),
    metadata: { model: 'blobs' },
  };
  const train = blobs(600, 1);
  const test = blobs(300, 2);
  try {
    // First run: stop after 10 steps. The checkpoint is written before fit returns.
    manualSeed(0);
    const first = createModel();
    const controller = new AbortController();
    const firstOptimizer = tf.train.adam(0.01);
    const stopped = await fit(first, train, {
      optimizer: firstOptimizer,
      epochs: 5,
      batchSize: 32,
      checkpoint,
      signal: controller.signal,
      onProgress: ({ globalStep }) => {
        if (globalStep === 10) controller.abort();
      },
    });
    first.dispose();
    firstOptimizer.dispose();

    // Second run: new model, new optimizer, same checkpoint: it continues at epoch 1, step 11.
    manualSeed(123);
    const second = createModel();
    const secondOptimizer = tf.train.adam(0.01); // its moments are restored from the checkpoint
    const resumed = await fit(second, train, {
      optimizer: secondOptimizer,
      epochs: 5,
      batchSize: 32,
      checkpoint,
      validationData: test,
      clipGradNorm: 1, // clip the gradients' global L2 norm, as torch's clip_grad_norm_
    });
    const { accuracy, loss } = await evaluate(second, test);
    second.dispose();
    secondOptimizer.dispose();
    return {
      stoppedAt: stopped.globalStep, // 10
      aborted: stopped.aborted, // true
      resumedFrom: resumed.resumedFrom, // { epoch: 0, stepInEpoch: 10, globalStep: 10 }
      totalSteps: resumed.globalStep, // 5 epochs x 19 steps = 95
      epochsRun: resumed.history.map((summary) => summary.epoch), // [1, 2, 3, 4, 5]
      accuracy,
      loss,
    };
  } finally {
    tf.dispose([train.x, train.y, test.x, test.y]);
    await rm(directory, { recursive: true, force: true });
  }
}
