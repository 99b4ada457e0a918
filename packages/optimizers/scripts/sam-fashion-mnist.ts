// AdamW versus SAM over AdamW on Fashion-MNIST: test accuracy and the top Hessian eigenvalue of the
// training loss at the end (the sharpness "When Vision Transformers Outperform ResNets..." reports).
// Same model, seed, data, epochs, batch size and learning-rate schedule for both; SAM takes the same
// number of updates with two gradient evaluations each.
//
// `runSamComparison` does one (seed, method) pair per call, so the pairs can run in parallel processes:
// sam-fashion-mnist.run.ts runs it under vitest, sam-fashion-mnist.main.ts as a plain node script (the
// device pack bundles that one, tools/device/pack-compare.sh).
import { crossEntropy, evaluate, manualSeed, Random, type TensorModule } from '@mlzoo/core';
import { saveSafetensorsFile } from '@mlzoo/core/node';
import * as tf from '@tensorflow/tfjs-core';
// @mlzoo/data, @mlzoo/layers and @mlzoo/mixers are not dependencies of this package; the script reads
// them from the workspace sources.
import { loadFashionMnist } from '../../data/src/node.js';
import { MlpClassifier } from '../../layers/src/index.js';
import { type MlpMixerConfig, mixerFashionMnist } from '../../mixers/src/index.js';
import {
  AdamW,
  cosineWithWarmup,
  evaluateLoss,
  hessianTopEigenvalue,
  lossChunks,
  SAM,
} from '../src/index.js';

export const SAM_MODELS = ['mixer_fashion_mnist', 'mlp_256_128'] as const;
export type SamModelName = (typeof SAM_MODELS)[number];

export interface SamComparisonOptions {
  /** Folder with the official Fashion-MNIST files (idx, gzip or not). */
  directory: string;
  method: 'adamw' | 'sam';
  seed: number;
  model: SamModelName;
  /** Config overrides of the Mixer preset (e.g. a smaller width); ignored for the MLP. */
  modelConfig?: MlpMixerConfig;
  epochs: number;
  /** Train on the first `trainSize` training images (default all). */
  trainSize?: number;
  /** Test on the first `testSize` test images (default all 10,000). */
  testSize?: number;
  /** Default 64. */
  batchSize?: number;
  /** Peak learning rate of the cosine schedule (default 1e-3). */
  learningRate?: number;
  /** Linear warmup epochs before the cosine (default 1). */
  warmupEpochs?: number;
  /** AdamW decoupled weight decay (default 0.05). */
  weightDecay?: number;
  /** SAM radius (default 0.05). */
  rho?: number;
  /** The Hessian is taken on the first `hessianSize` training images (default 1,024). */
  hessianSize?: number;
  /**
   * Images per forward and backward pass of the Hessian (default 128: 256 Mixer images in one pass ran
   * out of wasm memory); the chunks' gradients are averaged, which is exact.
   */
  hessianChunkSize?: number;
  /** Power-iteration steps at most (default 20). */
  hessianIterations?: number;
  /** Write the trained state dict here (safetensors, PyTorch names), e.g. to measure it again later. */
  weightsPath?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface SamComparisonResult {
  model: SamModelName;
  /** The Mixer preset's config overrides (empty for the preset itself and for the MLP). */
  modelConfig: MlpMixerConfig;
  method: 'adamw' | 'sam';
  seed: number;
  backend: string;
  trainImages: number;
  testImages: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  warmupEpochs: number;
  weightDecay: number;
  rho: number | null;
  parameters: number;
  epochLosses: number[];
  testAccuracy: number;
  testLoss: number;
  /** Training loss on the Hessian subset at the end. */
  hessianSubsetLoss: number;
  hessianImages: number;
  hessianChunkSize: number;
  hessianEigenvalue: number;
  hessianConverged: boolean;
  hessianIterations: number;
  /** The Rayleigh quotient after each power iteration (each one a lower bound on the top eigenvalue). */
  hessianHistory: number[];
  trainSeconds: number;
  hessianSeconds: number;
}

/** The comparison's model, initialised from core's default generator (seed it with `manualSeed`). */
export function buildComparisonModel(name: SamModelName, modelConfig: MlpMixerConfig = {}): TensorModule {
  if (name === 'mixer_fashion_mnist') return mixerFashionMnist(modelConfig) as unknown as TensorModule;
  return new MlpClassifier({
    imgSize: 28,
    inChans: 1,
    numClasses: 10,
    hiddenDims: [256, 128],
    activation: 'gelu',
  }) as unknown as TensorModule;
}

export interface ComparisonOptimizerOptions {
  method: 'adamw' | 'sam';
  /** Peak learning rate of the cosine schedule. */
  learningRate: number;
  weightDecay: number;
  /** SAM radius (ignored for AdamW). */
  rho: number;
  totalSteps: number;
  warmupSteps: number;
}

/**
 * The optimizer of the comparison: AdamW on a per-update cosine schedule with linear warmup from 0,
 * wrapped in SAM for `method: 'sam'` (the schedule drives the base optimizer's own step count).
 */
export function createComparisonOptimizer(options: ComparisonOptimizerOptions): tf.Optimizer {
  const schedule = cosineWithWarmup({
    learningRate: options.learningRate,
    totalSteps: options.totalSteps,
    warmupSteps: options.warmupSteps,
  });
  const base = new AdamW({ learningRate: schedule, weightDecay: options.weightDecay });
  return options.method === 'sam' ? new SAM({ base, rho: options.rho }) : base;
}

/**
 * One update of the comparison: `minimize` of the mean cross-entropy in training mode (SAM evaluates it
 * twice). Returns the loss at the weights before the update.
 */
export async function comparisonTrainingStep(
  optimizer: tf.Optimizer,
  model: TensorModule,
  variables: tf.Variable[],
  batchX: tf.Tensor,
  batchY: tf.Tensor,
): Promise<number> {
  const loss = optimizer.minimize(
    () => crossEntropy(model.forward(batchX, { training: true }), batchY),
    true,
    variables,
  )!;
  const value = (await loss.data())[0]!;
  loss.dispose();
  return value;
}

/** Trains one model with AdamW or SAM(AdamW) and measures test accuracy and the Hessian's top eigenvalue. */
export async function runSamComparison(options: SamComparisonOptions): Promise<SamComparisonResult> {
  if (!(SAM_MODELS as readonly string[]).includes(options.model))
    throw new Error(
      `runSamComparison: unknown model '${options.model}' (available: ${SAM_MODELS.join(', ')})`,
    );
  const log = options.log ?? (() => {});
  const batchSize = options.batchSize ?? 64;
  const learningRate = options.learningRate ?? 1e-3;
  const warmupEpochs = options.warmupEpochs ?? 1;
  const weightDecay = options.weightDecay ?? 0.05;
  const rho = options.rho ?? 0.05;
  const hessianSize = options.hessianSize ?? 1024;
  const hessianChunkSize = options.hessianChunkSize ?? 128;
  const { epochs, seed, method } = options;
  const train = await loadFashionMnist({ split: 'train', source: { directory: options.directory } });
  const fullTest = await loadFashionMnist({ split: 'test', source: { directory: options.directory } });
  const testSize = Math.min(options.testSize ?? fullTest.images.shape[0], fullTest.images.shape[0]);
  const test = { images: fullTest.images.slice(0, testSize), labels: fullTest.labels.slice(0, testSize) };
  tf.dispose([fullTest.images, fullTest.labels]);
  const trainSize = Math.min(options.trainSize ?? train.images.shape[0], train.images.shape[0]);
  const x = train.images.slice(0, trainSize);
  const y = train.labels.slice(0, trainSize);
  tf.dispose([train.images, train.labels]);
  const hessianX = x.slice(0, Math.min(hessianSize, trainSize));
  const hessianY = y.slice(0, Math.min(hessianSize, trainSize));
  const stepsPerEpoch = Math.ceil(trainSize / batchSize);
  manualSeed(seed);
  const modelConfig = options.model === 'mixer_fashion_mnist' ? (options.modelConfig ?? {}) : {};
  const model = buildComparisonModel(options.model, modelConfig);
  const optimizer = createComparisonOptimizer({
    method,
    learningRate,
    weightDecay,
    rho,
    totalSteps: epochs * stepsPerEpoch,
    warmupSteps: warmupEpochs * stepsPerEpoch,
  });
  try {
    const variables = model.parameters();
    const epochLosses: number[] = [];
    const started = performance.now();
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = new Random(seed * 1000 + epoch).permutation(trainSize);
      let lossSum = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        const indices = tf.tensor1d(order.subarray(step * batchSize, (step + 1) * batchSize), 'int32');
        const batchX = tf.gather(x, indices);
        const batchY = tf.gather(y, indices);
        lossSum += await comparisonTrainingStep(optimizer, model, variables, batchX, batchY);
        tf.dispose([indices, batchX, batchY]);
      }
      epochLosses.push(lossSum / stepsPerEpoch);
      log(
        `${options.model} seed ${seed} ${method} epoch ${epoch + 1}: train loss ${(lossSum / stepsPerEpoch).toFixed(4)}`,
      );
    }
    const trainSeconds = (performance.now() - started) / 1000;
    if (options.weightsPath) {
      const state = model.stateDict();
      await saveSafetensorsFile(options.weightsPath, state, {
        model: options.model,
        method,
        seed: String(seed),
      });
      tf.dispose(Object.values(state));
    }
    const result = await evaluate(model, { x: test.images, y: test.labels }, { batchSize: 500 });
    const hessianStarted = performance.now();
    const subsetLoss = lossChunks(hessianX, hessianY, hessianChunkSize, (images, labels) =>
      crossEntropy(model.forward(images), labels),
    );
    const hessianSubsetLoss = evaluateLoss(subsetLoss);
    const hessian = hessianTopEigenvalue(subsetLoss, variables, {
      iterations: options.hessianIterations ?? 20,
      seed: 0,
    });
    const hessianSeconds = (performance.now() - hessianStarted) / 1000;
    return {
      model: options.model,
      modelConfig,
      method,
      seed,
      backend: tf.getBackend(),
      trainImages: trainSize,
      testImages: test.images.shape[0],
      epochs,
      batchSize,
      learningRate,
      warmupEpochs,
      weightDecay,
      rho: method === 'sam' ? rho : null,
      parameters: variables.reduce((total, variable) => total + variable.size, 0),
      epochLosses,
      testAccuracy: result.accuracy ?? Number.NaN,
      testLoss: result.loss,
      hessianSubsetLoss,
      hessianImages: hessianX.shape[0],
      hessianChunkSize,
      hessianEigenvalue: hessian.eigenvalue,
      hessianConverged: hessian.converged,
      hessianIterations: hessian.history.length,
      hessianHistory: hessian.history,
      trainSeconds,
      hessianSeconds,
    };
  } finally {
    optimizer.dispose();
    model.dispose();
    tf.dispose([test.images, test.labels, x, y, hessianX, hessianY]);
  }
}

/** One markdown table row per result. */
export function samResultRow(result: SamComparisonResult): string {
  const name = result.method === 'sam' ? `SAM(AdamW), rho ${result.rho}` : 'AdamW';
  return `| ${name} | ${result.seed} | ${(result.testAccuracy * 100).toFixed(2)}% | ${result.testLoss.toFixed(4)} | ${result.hessianSubsetLoss.toFixed(4)} | ${result.hessianEigenvalue.toFixed(2)} (${result.hessianConverged ? 'converged' : 'not converged'} in ${result.hessianIterations}) | ${result.trainSeconds.toFixed(0)} s |`;
}
