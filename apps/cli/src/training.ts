// Training shared by `mlzoo train` and `mlzoo demo`: core's fit with Adam, a progress bar per epoch,
// a checkpoint per epoch (and on Ctrl-C), then the test-set evaluation.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  type CheckpointStore,
  type EvaluationResult,
  evaluate,
  type FitResult,
  fit,
  manualSeed,
} from '@mlzoo/core';
import { fileCheckpoint } from '@mlzoo/core/node';
import * as tf from '@tensorflow/tfjs-core';
import { datasetOverrides, type LoadedSplit } from './data.js';
import { UsageError } from './errors.js';
import { formatCount, type Output } from './output.js';
import { createProgress } from './progress.js';
import type { BuiltModel } from './weights.js';
import { buildModel } from './weights.js';

export interface TrainingSettings {
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  seconds: number;
  imagesPerSecond: number;
}

export interface TrainingRun {
  built: BuiltModel;
  fitResult: FitResult;
  history: EpochRecord[];
  /** Test-set evaluation (absent when training was interrupted). */
  test?: EvaluationResult;
  seconds: number;
}

export interface RunTrainingOptions extends TrainingSettings {
  modelName: string;
  train: LoadedSplit;
  test: LoadedSplit;
  /** Checkpoint file: written after every epoch and when interrupted. */
  checkpointPath?: string;
  resume?: boolean;
  signal?: AbortSignal;
  /** Extra strings stored in the checkpoint. */
  metadata?: Record<string, string>;
}

/** A file checkpoint that refuses to resume from another model's checkpoint. */
export function modelCheckpoint(path: string, modelName: string): CheckpointStore {
  const store = fileCheckpoint(path);
  return {
    location: path,
    save: (state) => store.save(state),
    async load() {
      let state: Awaited<ReturnType<CheckpointStore['load']>>;
      try {
        state = await store.load();
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      if (state?.metadata.model && state.metadata.model !== modelName) {
        tf.dispose([...Object.values(state.model), ...state.optimizer.map((weight) => weight.tensor)]);
        throw new UsageError(
          `${path}: checkpoint of model '${state.metadata.model}', cannot resume '${modelName}' from it`,
        );
      }
      return state;
    },
  };
}

/**
 * Builds `modelName` for the dataset, trains it and evaluates it on the test split. The caller owns
 * `built.model` (dispose it) and the data tensors.
 */
export async function runTraining(options: RunTrainingOptions, output: Output): Promise<TrainingRun> {
  const started = performance.now();
  manualSeed(options.seed);
  const built = buildModel(options.modelName, datasetOverrides(options.train));
  try {
    const count = options.train.images.shape[0];
    const optimizer = tf.train.adam(options.learningRate);
    let checkpoint: { store: CheckpointStore; resume: boolean; metadata: Record<string, string> } | undefined;
    if (options.checkpointPath) {
      await mkdir(dirname(options.checkpointPath), { recursive: true });
      checkpoint = {
        store: modelCheckpoint(options.checkpointPath, options.modelName),
        resume: options.resume ?? false,
        metadata: {
          ...options.metadata,
          model: options.modelName,
          config: JSON.stringify(built.config),
        },
      };
    }
    const progress = createProgress(output);
    const history: EpochRecord[] = [];
    let currentEpoch = 0;
    let epochStartStep = 0;
    // When the current epoch's first step (in this process) began: the end of the previous epoch, or the
    // start of fit for the first one.
    let epochStarted = performance.now();
    let previousEpochEnded = epochStarted;
    let lastStep = 0;
    let lossSum = 0;
    let lossSteps = 0;
    const imagesDone = (step: number) =>
      Math.min(step * options.batchSize, count) - Math.min(epochStartStep * options.batchSize, count);
    const values = (epoch: number, epochs: number, step: number, loss: number) => {
      const seconds = (performance.now() - epochStarted) / 1000;
      const rate = seconds > 0 ? imagesDone(step) / seconds : 0;
      return {
        label: `epoch ${epoch}/${epochs}`,
        detail: `loss ${loss.toFixed(4)} | ${formatCount(rate)} img/s`,
      };
    };
    let fitResult: FitResult;
    previousEpochEnded = performance.now();
    try {
      fitResult = await fit(
        built.model,
        { x: options.train.images, y: options.train.labels },
        {
          optimizer,
          loss: 'cross-entropy',
          epochs: options.epochs,
          batchSize: options.batchSize,
          seed: options.seed,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(checkpoint ? { checkpoint } : {}),
          onProgress: (step) => {
            if (step.epoch !== currentEpoch) {
              currentEpoch = step.epoch;
              epochStartStep = step.step - 1;
              epochStarted = previousEpochEnded;
              lossSum = 0;
              lossSteps = 0;
              progress.start(step.stepsPerEpoch, values(step.epoch, step.epochs, step.step, step.loss));
            }
            lastStep = step.step;
            lossSum += step.loss;
            lossSteps++;
            progress.update(step.step, values(step.epoch, step.epochs, step.step, lossSum / lossSteps));
          },
          onEpochEnd: (summary) => {
            const imagesPerSecond = summary.seconds > 0 ? imagesDone(lastStep) / summary.seconds : 0;
            history.push({
              epoch: summary.epoch,
              loss: summary.loss,
              seconds: summary.seconds,
              imagesPerSecond,
            });
            progress.stop(
              `epoch ${summary.epoch}/${options.epochs}: loss ${summary.loss.toFixed(4)} | ` +
                `${formatCount(imagesPerSecond)} img/s | ${summary.seconds.toFixed(1)} s`,
            );
            currentEpoch = 0;
            previousEpochEnded = performance.now();
          },
        },
      );
    } finally {
      progress.stop();
      optimizer.dispose();
    }
    let test: EvaluationResult | undefined;
    if (!fitResult.aborted) {
      test = await evaluate(
        built.model,
        { x: options.test.images, y: options.test.labels },
        { batchSize: 256 },
      );
    }
    return {
      built,
      fitResult,
      history,
      ...(test ? { test } : {}),
      seconds: (performance.now() - started) / 1000,
    };
  } catch (error) {
    built.model.dispose();
    throw error;
  }
}
