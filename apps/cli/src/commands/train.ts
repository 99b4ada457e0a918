// `mlzoo train <model>`: trains a registered model on a dataset with checkpoints, writes its weights.
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../backend.js';
import { checkDatasetName, loadSplit } from '../data.js';
import { formatCount, type Output } from '../output.js';
import {
  type EpochRecord,
  type LearningRateScheduleName,
  type OptimizerName,
  runTraining,
} from '../training.js';
import { checkConfigOverrides, modelPreset, saveWeights } from '../weights.js';

export interface TrainOptions {
  dataset?: string;
  /** Folder with the official Fashion-MNIST files; the bundled subset when absent. */
  dataDirectory?: string;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  /** 'adam' (default) or 'adamw' (decoupled weight decay, see `weightDecay`). */
  optimizer?: OptimizerName;
  /** AdamW's decoupled weight decay (default 0.01); only with optimizer 'adamw'. */
  weightDecay?: number;
  /** 'constant' (default) or 'cosine' (per step, linear warmup then cosine to 0 at the last step). */
  learningRateSchedule?: LearningRateScheduleName;
  /** Warmup epochs of the cosine schedule (default 0). */
  warmupEpochs?: number;
  /** Checkpoint file (default: beside the weights, `<out>.checkpoint.safetensors`). */
  checkpoint?: string;
  /** Continue from the checkpoint when it exists. */
  resume?: boolean;
  /** Final weights (default `runs/<model>/model.safetensors`). */
  out?: string;
  backend?: string;
  limitTrain?: number;
  limitTest?: number;
  /** Overrides of the preset's config, e.g. `{ depth: 4 }` (keys the preset has; checked). */
  config?: Record<string, unknown>;
  /** Stops training after the current step (Ctrl-C); a checkpoint is written first. */
  signal?: AbortSignal;
}

export interface TrainResult {
  model: string;
  backend: string;
  dataset: string;
  trainSource: string;
  trainExamples: number;
  testExamples: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  optimizer: OptimizerName;
  /** 0 for Adam. */
  weightDecay: number;
  learningRateSchedule: LearningRateScheduleName;
  warmupEpochs: number;
  numParameters: number;
  /** The config the model was built with (the preset's, the overrides and the dataset's shape applied). */
  config: Record<string, unknown>;
  history: EpochRecord[];
  globalStep: number;
  resumedFrom?: { epoch: number; stepInEpoch: number; globalStep: number };
  aborted: boolean;
  test?: { loss: number; accuracy: number; top5?: number; count: number };
  checkpoint: string;
  /** Final weights (absent when interrupted). */
  weights?: string;
  seconds: number;
}

export const TRAIN_DEFAULTS = {
  epochs: 5,
  batchSize: 64,
  learningRate: 1e-3,
  seed: 0,
  optimizer: 'adam',
  learningRateSchedule: 'constant',
  warmupEpochs: 0,
} as const;

/** AdamW's default decoupled weight decay (PyTorch's). */
export const ADAMW_DEFAULT_WEIGHT_DECAY = 0.01;

/** Default paths: `runs/<model>/model.safetensors` and the checkpoint beside it. */
export function defaultPaths(model: string, out?: string, checkpoint?: string) {
  const weights = out ?? join('runs', model, 'model.safetensors');
  return {
    weights,
    checkpoint: checkpoint ?? `${weights.replace(/\.safetensors$/, '')}.checkpoint.safetensors`,
  };
}

export async function train(modelName: string, options: TrainOptions, output: Output): Promise<TrainResult> {
  modelPreset(modelName);
  if (options.config) checkConfigOverrides(modelName, options.config);
  const dataset = checkDatasetName(options.dataset);
  const backend = await selectBackend(options.backend);
  const settings = {
    epochs: options.epochs ?? TRAIN_DEFAULTS.epochs,
    batchSize: options.batchSize ?? TRAIN_DEFAULTS.batchSize,
    learningRate: options.learningRate ?? TRAIN_DEFAULTS.learningRate,
    seed: options.seed ?? TRAIN_DEFAULTS.seed,
    optimizer: options.optimizer ?? TRAIN_DEFAULTS.optimizer,
    weightDecay: options.weightDecay ?? (options.optimizer === 'adamw' ? ADAMW_DEFAULT_WEIGHT_DECAY : 0),
    learningRateSchedule: options.learningRateSchedule ?? TRAIN_DEFAULTS.learningRateSchedule,
    warmupEpochs: options.warmupEpochs ?? TRAIN_DEFAULTS.warmupEpochs,
  };
  const paths = defaultPaths(modelName, options.out, options.checkpoint);
  const trainSplit = await loadSplit({
    dataset,
    split: 'train',
    ...(options.dataDirectory ? { dataDirectory: options.dataDirectory } : {}),
    ...(options.limitTrain ? { limit: options.limitTrain } : {}),
  });
  const testSplit = await loadSplit({
    dataset,
    split: 'test',
    ...(options.dataDirectory ? { dataDirectory: options.dataDirectory } : {}),
    ...(options.limitTest ? { limit: options.limitTest } : {}),
  }).catch((error) => {
    tf.dispose([trainSplit.images, trainSplit.labels]);
    throw error;
  });

  const interrupt = new AbortController();
  const onInterrupt = () => interrupt.abort();
  const external = options.signal;
  if (external?.aborted) interrupt.abort();
  external?.addEventListener('abort', onInterrupt);
  process.once('SIGINT', onInterrupt);
  try {
    output.line(
      `training ${modelName} on ${trainSplit.source} (${formatCount(trainSplit.images.shape[0])} images), ` +
        `backend ${backend}, ${settings.epochs} epochs, batch ${settings.batchSize}, ${settings.optimizer} ` +
        `lr ${settings.learningRate}` +
        (settings.optimizer === 'adamw' ? ` wd ${settings.weightDecay}` : '') +
        (settings.learningRateSchedule === 'cosine'
          ? `, cosine schedule, ${settings.warmupEpochs} warmup epochs`
          : '') +
        (options.config && Object.keys(options.config).length > 0
          ? `, config ${JSON.stringify(options.config)}`
          : ''),
    );
    const run = await runTraining(
      {
        ...settings,
        modelName,
        train: trainSplit,
        test: testSplit,
        checkpointPath: paths.checkpoint,
        resume: options.resume ?? false,
        signal: interrupt.signal,
        metadata: { dataset },
        ...(options.config ? { config: options.config } : {}),
      },
      output,
    );
    try {
      const { fitResult } = run;
      if (fitResult.resumedFrom) {
        const from = fitResult.resumedFrom;
        output.line(
          `resumed from ${paths.checkpoint} at epoch ${from.epoch + 1}, step ${from.stepInEpoch} (global step ${from.globalStep})`,
        );
      } else if (options.resume) {
        output.line(`no checkpoint at ${paths.checkpoint}; started from scratch`);
      }
      const result: TrainResult = {
        model: modelName,
        backend,
        dataset,
        trainSource: trainSplit.source,
        trainExamples: trainSplit.images.shape[0],
        testExamples: testSplit.images.shape[0],
        ...settings,
        numParameters: run.built.model.numParameters(),
        config: run.built.config,
        history: run.history,
        globalStep: fitResult.globalStep,
        ...(fitResult.resumedFrom ? { resumedFrom: fitResult.resumedFrom } : {}),
        aborted: fitResult.aborted,
        checkpoint: paths.checkpoint,
        seconds: run.seconds,
      };
      if (fitResult.aborted) {
        const trainedSteps = fitResult.globalStep - (fitResult.resumedFrom?.globalStep ?? 0);
        output.line(
          trainedSteps > 0
            ? `interrupted at global step ${fitResult.globalStep}: checkpoint saved to ${paths.checkpoint}; ` +
                `continue with: mlzoo train ${modelName} --resume --checkpoint ${paths.checkpoint} --out ${paths.weights}`
            : `interrupted before any training step; nothing was saved`,
        );
        output.result(result);
        return result;
      }
      const test = run.test!;
      result.test = {
        loss: test.loss,
        accuracy: test.accuracy ?? Number.NaN,
        ...(test.topK?.[5] != null ? { top5: test.topK[5] } : {}),
        count: test.count,
      };
      await mkdir(dirname(paths.weights), { recursive: true });
      await saveWeights(paths.weights, run.built, {
        dataset,
        class_names: JSON.stringify(trainSplit.classNames),
        test_accuracy: String(result.test.accuracy),
      });
      result.weights = paths.weights;
      output.line(
        `test accuracy ${result.test.accuracy.toFixed(4)}` +
          (result.test.top5 != null ? `, top-5 ${result.test.top5.toFixed(4)}` : '') +
          `, loss ${result.test.loss.toFixed(4)} on ${formatCount(result.test.count)} images`,
      );
      output.line(`weights: ${paths.weights}`);
      output.line(`checkpoint: ${paths.checkpoint}`);
      output.result(result);
      return result;
    } finally {
      run.built.model.dispose();
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    external?.removeEventListener('abort', onInterrupt);
    tf.dispose([trainSplit.images, trainSplit.labels, testSplit.images, testSplit.labels]);
  }
}
