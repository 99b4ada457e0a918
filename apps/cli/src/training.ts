// Training shared by `mlzoo train` and `mlzoo demo`: core's fit with Adam or AdamW under a constant or
// cosine learning rate, a progress bar per epoch, a checkpoint per epoch (and on Ctrl-C), then the
// test-set evaluation.
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
import { AdamW, cosineWithWarmup, type LearningRateSchedule, scheduled } from '@mlzoo/optimizers';
import * as tf from '@tensorflow/tfjs-core';
import { datasetOverrides, type LoadedSplit } from './data.js';
import { UsageError } from './errors.js';
import { formatCount, type Output } from './output.js';
import { createProgress } from './progress.js';
import type { BuiltModel } from './weights.js';
import { buildModel } from './weights.js';

export const OPTIMIZERS = ['adam', 'adamw'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];
export const LEARNING_RATE_SCHEDULES = ['constant', 'cosine'] as const;
export type LearningRateScheduleName = (typeof LEARNING_RATE_SCHEDULES)[number];

/** Parses a command-line option that must be one of `choices`. */
export function parseChoice<Choice extends string>(
  name: string,
  value: string,
  choices: readonly Choice[],
): Choice {
  if (!(choices as readonly string[]).includes(value))
    throw new UsageError(`${name} must be one of ${choices.join(', ')}, got '${value}'`);
  return value as Choice;
}

/** Parses a non-negative finite number option (weight decay). */
export function parseNonNegativeNumber(name: string, value: string): number {
  const number = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(number) || number < 0)
    throw new UsageError(`${name} must be a non-negative number, got '${value}'`);
  return number;
}

export interface TrainingSettings {
  epochs: number;
  batchSize: number;
  /** Peak learning rate (the constant one for the 'constant' schedule). */
  learningRate: number;
  seed: number;
  /**
   * 'adam': tf.train.adam (epsilon 1e-7, no weight decay). 'adamw': @mlzoo/optimizers' AdamW
   * (torch.optim.AdamW's update, epsilon 1e-8) with decoupled `weightDecay`. Default 'adam'.
   */
  optimizer?: OptimizerName;
  /** AdamW's decoupled weight decay λ (default 0.01, as PyTorch); only with 'adamw'. */
  weightDecay?: number;
  /**
   * 'constant' (default) or 'cosine': per update, linear warmup from 0 over `warmupEpochs` epochs, then
   * half a cosine from `learningRate` down to 0 at the last update (see `learningRateAt`).
   */
  learningRateSchedule?: LearningRateScheduleName;
  /** Warmup length in epochs for the cosine schedule (default 0). */
  warmupEpochs?: number;
}

export interface OptimizerSetup {
  optimizer: tf.Optimizer;
  /** The rate of update `step` (0 = the first), for every step of the run. */
  learningRateAt: LearningRateSchedule;
}

/**
 * The optimizer `settings` describe, for `stepsPerEpoch` updates per epoch. The cosine schedule is the
 * one tools/reference/fashion_mnist_train.py uses: update k (counting from 0) runs at
 * `cosineWithWarmup({learningRate, totalSteps: epochs·stepsPerEpoch, warmupSteps: warmupEpochs·stepsPerEpoch})(k)`,
 * so the first warmup update has rate 0 and the last update's rate is just above 0.
 */
export function createOptimizer(settings: TrainingSettings, stepsPerEpoch: number): OptimizerSetup {
  const optimizerName = settings.optimizer ?? 'adam';
  const scheduleName = settings.learningRateSchedule ?? 'constant';
  const warmupEpochs = settings.warmupEpochs ?? 0;
  if (!(OPTIMIZERS as readonly string[]).includes(optimizerName))
    throw new UsageError(`unknown optimizer '${optimizerName}' (available: ${OPTIMIZERS.join(', ')})`);
  if (!(LEARNING_RATE_SCHEDULES as readonly string[]).includes(scheduleName))
    throw new UsageError(
      `unknown learning-rate schedule '${scheduleName}' (available: ${LEARNING_RATE_SCHEDULES.join(', ')})`,
    );
  if (optimizerName === 'adam' && settings.weightDecay != null && settings.weightDecay !== 0)
    throw new UsageError(`--weight-decay needs --optimizer adamw (Adam here has no weight decay)`);
  if (scheduleName === 'constant' && warmupEpochs !== 0)
    throw new UsageError(`--warmup-epochs needs --lr-schedule cosine`);
  if (!Number.isInteger(warmupEpochs) || warmupEpochs < 0 || warmupEpochs > settings.epochs)
    throw new UsageError(
      `--warmup-epochs must be an integer from 0 to the number of epochs (${settings.epochs}), got ${warmupEpochs}`,
    );
  const learningRateAt: LearningRateSchedule =
    scheduleName === 'cosine'
      ? cosineWithWarmup({
          learningRate: settings.learningRate,
          totalSteps: settings.epochs * stepsPerEpoch,
          warmupSteps: warmupEpochs * stepsPerEpoch,
        })
      : () => settings.learningRate;
  if (optimizerName === 'adamw') {
    return {
      optimizer: new AdamW({ learningRate: learningRateAt, weightDecay: settings.weightDecay ?? 0.01 }),
      learningRateAt,
    };
  }
  const adam = tf.train.adam(settings.learningRate);
  // the constant case keeps the bare Adam, so checkpoints of earlier versions still resume
  return { optimizer: scheduleName === 'cosine' ? scheduled(adam, learningRateAt) : adam, learningRateAt };
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
  /** Config overrides of the preset (`parseConfigOverrides`); the dataset's image size and classes win. */
  config?: Record<string, unknown>;
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
  const built = buildModel(options.modelName, { ...options.config, ...datasetOverrides(options.train) });
  try {
    const count = options.train.images.shape[0];
    const { optimizer } = createOptimizer(options, Math.ceil(count / options.batchSize));
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
