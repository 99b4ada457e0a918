// The mlzoo half of the SAM-on-a-Mixer check against PyTorch (tools/reference/sam_mixer_trajectory.py is
// the other half): builds mixer_fashion_mnist from a seed, takes the comparison's batches of real
// Fashion-MNIST images, trains AdamW and SAM(AdamW) for `steps` updates through the comparison's own
// optimizer and step (sam-fashion-mnist.ts), and writes
//   <out>/sam-mixer-trajectory.safetensors: initial.<name> (state dict, PyTorch names and layouts),
//     batch.<k>.images [B, 28, 28, 1] and batch.<k>.labels [B] (int32), step1.<method>.<name> and
//     final.<method>.<name> (state dicts after the first and the last update); metadata: the config
//   <out>/sam-mixer-trajectory.json: the settings, the learning rate of each update, the losses.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { manualSeed, Random, type TensorModule } from '@mlzoo/core';
import { saveSafetensorsFile } from '@mlzoo/core/node';
import * as tf from '@tensorflow/tfjs-core';
import { loadFashionMnist } from '../../data/src/node.js';
import { MLP_MIXER_PRESETS } from '../../mixers/src/index.js';
import { cosineWithWarmup } from '../src/index.js';
import {
  buildComparisonModel,
  comparisonTrainingStep,
  createComparisonOptimizer,
} from './sam-fashion-mnist.js';

export interface SamMixerTrajectoryOptions {
  /** Folder with the official Fashion-MNIST files. */
  directory: string;
  /** Where the two output files go (created if missing). */
  outDirectory: string;
  seed: number;
  /** Updates per method (default 32: the whole 2-epoch, 1,000-image run of the first comparison). */
  steps?: number;
  /** Batches are drawn as the comparison draws them from the first `trainSize` images (default 1,000). */
  trainSize?: number;
  /** Default 64. */
  batchSize?: number;
  /** Default 1e-3. */
  learningRate?: number;
  /** Schedule length in updates (default 2 epochs of `trainSize`). */
  totalSteps?: number;
  /** Linear warmup in updates (default 1 epoch of `trainSize`). */
  warmupSteps?: number;
  /** Default 0.05. */
  weightDecay?: number;
  /** Default 0.05. */
  rho?: number;
  log?: (line: string) => void;
}

export interface SamMixerTrajectoryResult {
  model: 'mixer_fashion_mnist';
  backend: string;
  seed: number;
  steps: number;
  trainSize: number;
  batchSize: number;
  learningRate: number;
  totalSteps: number;
  warmupSteps: number;
  weightDecay: number;
  rho: number;
  /** Learning rate of each update (the schedule at the base optimizer's step count). */
  learningRates: number[];
  /** Loss at the weights before each update, by method. */
  losses: { adamw: number[]; sam: number[] };
  seconds: { adamw: number; sam: number };
}

function saveState(prefix: string, model: TensorModule, into: Record<string, tf.Tensor>): void {
  for (const [name, tensor] of Object.entries(model.stateDict())) into[`${prefix}.${name}`] = tensor;
}

/** Writes the two files described at the top of this file and returns what the JSON holds. */
export async function runSamMixerTrajectory(
  options: SamMixerTrajectoryOptions,
): Promise<SamMixerTrajectoryResult> {
  const log = options.log ?? (() => {});
  const seed = options.seed;
  const trainSize = options.trainSize ?? 1000;
  const batchSize = options.batchSize ?? 64;
  const stepsPerEpoch = Math.ceil(trainSize / batchSize);
  const steps = options.steps ?? 2 * stepsPerEpoch;
  const learningRate = options.learningRate ?? 1e-3;
  const totalSteps = options.totalSteps ?? 2 * stepsPerEpoch;
  const warmupSteps = options.warmupSteps ?? stepsPerEpoch;
  const weightDecay = options.weightDecay ?? 0.05;
  const rho = options.rho ?? 0.05;
  const train = await loadFashionMnist({ split: 'train', source: { directory: options.directory } });
  const x = train.images.slice(0, trainSize);
  const y = tf.cast(train.labels.slice(0, trainSize), 'int32');
  tf.dispose([train.images, train.labels]);
  const tensors: Record<string, tf.Tensor> = {};
  // The comparison's batches: a fresh permutation per epoch from Random(seed * 1000 + epoch).
  const batches: { images: tf.Tensor; labels: tf.Tensor }[] = [];
  for (let step = 0; step < steps; step++) {
    const epoch = Math.floor(step / stepsPerEpoch);
    const within = step % stepsPerEpoch;
    const order = new Random(seed * 1000 + epoch).permutation(trainSize);
    const indices = tf.tensor1d(order.subarray(within * batchSize, (within + 1) * batchSize), 'int32');
    const batch = { images: tf.gather(x, indices), labels: tf.gather(y, indices) };
    indices.dispose();
    batches.push(batch);
    tensors[`batch.${step}.images`] = batch.images;
    tensors[`batch.${step}.labels`] = batch.labels;
  }
  tf.dispose([x, y]);
  manualSeed(seed);
  const initial = buildComparisonModel('mixer_fashion_mnist');
  saveState('initial', initial, tensors);
  initial.dispose();
  const schedule = cosineWithWarmup({ learningRate, totalSteps, warmupSteps });
  const learningRates = Array.from({ length: steps }, (_, step) => schedule(step));
  const losses = { adamw: [] as number[], sam: [] as number[] };
  const seconds = { adamw: 0, sam: 0 };
  for (const method of ['adamw', 'sam'] as const) {
    manualSeed(seed);
    const model = buildComparisonModel('mixer_fashion_mnist');
    const initialState = Object.fromEntries(
      Object.entries(tensors)
        .filter(([name]) => name.startsWith('initial.'))
        .map(([name, tensor]) => [name.slice('initial.'.length), tensor]),
    );
    model.loadStateDict(initialState);
    const optimizer = createComparisonOptimizer({
      method,
      learningRate,
      weightDecay,
      rho,
      totalSteps,
      warmupSteps,
    });
    const variables = model.parameters();
    const started = performance.now();
    for (let step = 0; step < steps; step++) {
      const batch = batches[step]!;
      const loss = await comparisonTrainingStep(optimizer, model, variables, batch.images, batch.labels);
      losses[method].push(loss);
      if (step === 0) saveState(`step1.${method}`, model, tensors);
      log(
        `${method} step ${step + 1}/${steps}: loss ${loss.toFixed(6)} (lr ${learningRates[step]!.toExponential(3)})`,
      );
    }
    seconds[method] = (performance.now() - started) / 1000;
    saveState(`final.${method}`, model, tensors);
    optimizer.dispose();
    model.dispose();
  }
  const config = MLP_MIXER_PRESETS.mixer_fashion_mnist!.config;
  await mkdir(options.outDirectory, { recursive: true });
  await saveSafetensorsFile(join(options.outDirectory, 'sam-mixer-trajectory.safetensors'), tensors, {
    model: 'mixer_fashion_mnist',
    config: JSON.stringify(config),
  });
  tf.dispose(Object.values(tensors));
  const result: SamMixerTrajectoryResult = {
    model: 'mixer_fashion_mnist',
    backend: tf.getBackend(),
    seed,
    steps,
    trainSize,
    batchSize,
    learningRate,
    totalSteps,
    warmupSteps,
    weightDecay,
    rho,
    learningRates,
    losses,
    seconds,
  };
  await writeFile(
    join(options.outDirectory, 'sam-mixer-trajectory.json'),
    `${JSON.stringify(result, null, 2)}\n`,
  );
  return result;
}
