// `mlzoo demo`: the README's first command. Picks the fastest backend, trains the default model on the
// bundled Fashion-MNIST subset, saves it, reloads it into a fresh model and checks that the reloaded
// model predicts exactly what the trained one did.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../backend.js';
import { loadSplit } from '../data.js';
import { DEFAULT_MODEL } from '../models.js';
import { formatCount, type Output } from '../output.js';
import { type EpochRecord, runTraining, type TrainingSettings } from '../training.js';
import { loadWeights, saveWeights } from '../weights.js';

/**
 * Settings tuned so the default model passes {@link DEMO_TARGET_ACCURACY} on the 500 bundled test
 * images for every seed tried, in seconds on the wasm backend.
 */
export const DEMO_SETTINGS: TrainingSettings = { epochs: 15, batchSize: 64, learningRate: 5e-4, seed: 0 };
export const DEMO_TARGET_ACCURACY = 0.8;

export interface DemoOptions {
  backend?: string;
  /** Where model.safetensors goes (default `runs/demo`). */
  outDirectory?: string;
  seed?: number;
  epochs?: number;
}

export interface DemoResult {
  model: string;
  backend: string;
  trainExamples: number;
  testExamples: number;
  settings: TrainingSettings;
  history: EpochRecord[];
  testAccuracy: number;
  testLoss: number;
  reachedTarget: boolean;
  weights: string;
  reload: { identicalPredictions: boolean; count: number; maxAbsoluteDifference: number };
  trainingSeconds: number;
  seconds: number;
}

/** Logits of `model` over `images`, in batches, as one array [N * numClasses]. */
async function logits(model: TensorModule, images: tf.Tensor, batchSize = 256): Promise<Float32Array> {
  const count = images.shape[0]!;
  const parts: Float32Array[] = [];
  for (let start = 0; start < count; start += batchSize) {
    const output = tf.tidy(() =>
      model.forward(tf.slice(images, start, Math.min(batchSize, count - start)), { training: false }),
    );
    parts.push((await output.data()) as Float32Array);
    output.dispose();
  }
  const result = new Float32Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}

function argMaxRows(values: Float32Array, width: number): Int32Array {
  const rows = values.length / width;
  const result = new Int32Array(rows);
  for (let row = 0; row < rows; row++) {
    let best = 0;
    for (let column = 1; column < width; column++) {
      if (values[row * width + column]! > values[row * width + best]!) best = column;
    }
    result[row] = best;
  }
  return result;
}

export async function demo(options: DemoOptions, output: Output): Promise<DemoResult> {
  const started = performance.now();
  const backend = await selectBackend(options.backend);
  const settings: TrainingSettings = {
    ...DEMO_SETTINGS,
    ...(options.seed != null ? { seed: options.seed } : {}),
    ...(options.epochs != null ? { epochs: options.epochs } : {}),
  };
  const weightsPath = join(options.outDirectory ?? join('runs', 'demo'), 'model.safetensors');
  output.line(`mlzoo demo: ${DEFAULT_MODEL} on the bundled Fashion-MNIST subset, ${backend} backend`);
  const train = await loadSplit({ split: 'train' });
  const test = await loadSplit({ split: 'test' });
  try {
    output.line(
      `${formatCount(train.images.shape[0])} training and ${formatCount(test.images.shape[0])} test images; ` +
        `${settings.epochs} epochs, batch ${settings.batchSize}, Adam lr ${settings.learningRate}, seed ${settings.seed}`,
    );
    const run = await runTraining({ ...settings, modelName: DEFAULT_MODEL, train, test }, output);
    let reloaded: Awaited<ReturnType<typeof loadWeights>> | undefined;
    try {
      const accuracy = run.test?.accuracy ?? Number.NaN;
      const reachedTarget = accuracy >= DEMO_TARGET_ACCURACY;
      output.line(
        `test accuracy: ${accuracy.toFixed(4)} on ${formatCount(test.images.shape[0])} images ` +
          `(${reachedTarget ? 'reached' : 'below'} the ${DEMO_TARGET_ACCURACY.toFixed(2)} target) ` +
          `after ${run.seconds.toFixed(1)} s`,
      );
      await mkdir(join(weightsPath, '..'), { recursive: true });
      await saveWeights(weightsPath, run.built, {
        dataset: 'fashion-mnist',
        class_names: JSON.stringify(train.classNames),
        test_accuracy: String(accuracy),
      });
      output.line(`weights: ${weightsPath}`);

      const original = await logits(run.built.model, test.images);
      reloaded = await loadWeights(weightsPath, DEFAULT_MODEL);
      const again = await logits(reloaded.model, test.images);
      const numClasses = train.classNames.length;
      const before = argMaxRows(original, numClasses);
      const after = argMaxRows(again, numClasses);
      let differing = 0;
      for (let index = 0; index < before.length; index++) if (before[index] !== after[index]) differing++;
      let maxAbsoluteDifference = 0;
      for (let index = 0; index < original.length; index++) {
        maxAbsoluteDifference = Math.max(maxAbsoluteDifference, Math.abs(original[index]! - again[index]!));
      }
      if (differing > 0) {
        throw new Error(
          `reload check failed: ${differing} of ${before.length} predictions differ after reloading ${weightsPath} ` +
            `(max logit difference ${maxAbsoluteDifference})`,
        );
      }
      output.line(`reload check: identical predictions on ${before.length} test images`);
      const result: DemoResult = {
        model: DEFAULT_MODEL,
        backend,
        trainExamples: train.images.shape[0],
        testExamples: test.images.shape[0],
        settings,
        history: run.history,
        testAccuracy: accuracy,
        testLoss: run.test?.loss ?? Number.NaN,
        reachedTarget,
        weights: weightsPath,
        reload: { identicalPredictions: true, count: before.length, maxAbsoluteDifference },
        trainingSeconds: run.seconds,
        seconds: (performance.now() - started) / 1000,
      };
      output.result(result);
      return result;
    } finally {
      run.built.model.dispose();
      reloaded?.model.dispose();
    }
  } finally {
    tf.dispose([train.images, train.labels, test.images, test.labels]);
  }
}
