// One zoo-side measurement of `mlzoo bench --reference pytorch`, run in a fresh Node process per
// (model, mode) by the hidden `mlzoo bench-measure` command, so that the process's peak memory belongs
// to that one model. It mirrors tools/reference/bench_pytorch.py: the same warm-up, the same timed
// blocks of whole steps, the same random inputs (NHWC here, NCHW there) and the same output fields.
import { crossEntropy, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from './backend.js';
import { UsageError } from './errors.js';
import { buildModel } from './weights.js';

/** What one bench process measures: a model's train step or inference, or a square matmul. */
export type BenchMode = 'train' | 'inference' | 'matmul';

export interface BenchMeasureOptions {
  /** A registered 28x28x1 model, or `matmul`. */
  measure: string;
  /** `train` or `inference` for a model (ignored for `matmul`). */
  mode: 'train' | 'inference';
  /** Images per step (default 128). */
  batch?: number;
  /** Backend request (default: $MLZOO_BACKEND or auto). */
  backend?: string;
  /** Warm-up steps run for at least this long, and at least one (default 1). */
  warmupSeconds?: number;
  /** Each timed block runs whole steps for at least this long (default 2). */
  minSeconds?: number;
  /** Timed blocks (default 3); the result is the median block's throughput. */
  repeats?: number;
  /** Matmul size (default 1024). */
  matmulSize?: number;
}

export interface TimedBlock {
  steps: number;
  seconds: number;
  /** Images (or GFLOP for matmul) per second over the block. */
  perSecond: number;
}

/** One side's measurement (zoo or PyTorch): the JSON both bench processes print. */
export interface SideMeasurement {
  side: 'zoo' | 'pytorch';
  measure: string;
  mode: BenchMode;
  /** Images per step; null for matmul. */
  batch: number | null;
  unit: 'images/s' | 'GFLOP/s';
  detail: string;
  parameters?: number;
  warmupSteps: number;
  blocks: TimedBlock[];
  /** Median of the blocks' throughputs. */
  median: number;
  /** Peak resident set of the whole process (getrusage maxrss), bytes. */
  peakRssBytes: number;
  /** Resident set before the model (or matrices) were built, bytes. */
  baselineRssBytes: number | null;
  // zoo side
  backend?: string;
  node?: string;
  tfjs?: string;
  /** Threads the wasm backend computes with, when the backend says. */
  wasmThreads?: number;
  /** Peak bytes held by tfjs tensors (tf.memory().numBytes, sampled after every step). */
  peakTensorBytes?: number;
  // PyTorch side
  python?: string;
  torch?: string;
  threads?: number;
  blas?: string;
  blasLibraries?: string[];
  parallelBackend?: string;
}

/** A measurement as the comparison records it: which round, and the 1-minute load average at its start. */
export interface RoundMeasurement extends SideMeasurement {
  round: number;
  loadAverage1m: number;
}

interface BlockTiming {
  warmupSeconds: number;
  minSeconds: number;
  repeats: number;
}

/** Warm-up, then `repeats` timed blocks of whole steps (each at least `minSeconds`). */
export async function runTimedBlocks(
  step: () => Promise<void>,
  unitsPerStep: number,
  timing: BlockTiming,
): Promise<{ warmupSteps: number; blocks: TimedBlock[] }> {
  const started = performance.now();
  let warmupSteps = 0;
  while (warmupSteps === 0 || performance.now() - started < timing.warmupSeconds * 1000) {
    await step();
    warmupSteps++;
  }
  const blocks: TimedBlock[] = [];
  for (let repeat = 0; repeat < timing.repeats; repeat++) {
    let steps = 0;
    const began = performance.now();
    while (steps === 0 || performance.now() - began < timing.minSeconds * 1000) {
      await step();
      steps++;
    }
    const seconds = (performance.now() - began) / 1000;
    blocks.push({ steps, seconds, perSecond: (unitsPerStep * steps) / seconds });
  }
  return { warmupSteps, blocks };
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median: no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Threads of the wasm backend: @mlzoo/core's `wasmThreadCount` where this core version has it. */
async function wasmThreads(): Promise<number | undefined> {
  // Looked up by name: the threaded wasm start is newer than this command, and older cores lack it.
  const core: Record<string, unknown> = await import('@mlzoo/core');
  const count = core.wasmThreadCount;
  return typeof count === 'function' ? (count as () => number | undefined)() : undefined;
}

/** Runs one measurement in this process (fresh process expected: peak memory is the process's). */
export async function benchMeasure(options: BenchMeasureOptions): Promise<SideMeasurement> {
  const mode: BenchMode = options.measure === 'matmul' ? 'matmul' : options.mode;
  if (mode !== 'matmul' && mode !== 'train' && mode !== 'inference') {
    throw new UsageError(`bench-measure: --mode must be train or inference, got '${String(mode)}'`);
  }
  const backend = await selectBackend(options.backend);
  const timing: BlockTiming = {
    warmupSeconds: options.warmupSeconds ?? 1,
    minSeconds: options.minSeconds ?? 2,
    repeats: options.repeats ?? 3,
  };
  const batch = options.batch ?? 128;
  const before = tf.memory().numTensors;
  const baselineRssBytes = process.memoryUsage().rss;
  let peakTensorBytes = tf.memory().numBytes;
  const sample = () => {
    peakTensorBytes = Math.max(peakTensorBytes, tf.memory().numBytes);
  };
  let measured: Pick<SideMeasurement, 'unit' | 'detail' | 'warmupSteps' | 'blocks' | 'parameters'>;

  if (mode === 'matmul') {
    const size = options.matmulSize ?? 1024;
    const a = tf.randomUniform([size, size]);
    const b = tf.randomUniform([size, size]);
    const run = await runTimedBlocks(
      async () => {
        const product = tf.matMul(a, b);
        await product.data();
        sample();
        product.dispose();
      },
      (2 * size ** 3) / 1e9,
      timing,
    );
    tf.dispose([a, b]);
    measured = { unit: 'GFLOP/s', detail: `[${size}, ${size}] x [${size}, ${size}] float32`, ...run };
  } else {
    const model: TensorModule = buildModel(options.measure).model;
    try {
      const parameters = model
        .parameters({ trainable: true })
        .reduce((total, variable) => total + variable.size, 0);
      const images = tf.randomUniform([batch, 28, 28, 1]);
      if (mode === 'train') {
        const labels = tf.tensor1d(
          Int32Array.from({ length: batch }, (_, index) => index % 10),
          'int32',
        );
        const optimizer: tf.Optimizer = tf.train.adam(1e-3);
        const variables = model.parameters({ trainable: true });
        try {
          const run = await runTimedBlocks(
            async () => {
              const { value, grads } = tf.tidy(() =>
                tf.variableGrads(
                  () => crossEntropy(model.forward(images, { training: true }), labels),
                  variables,
                ),
              );
              optimizer.applyGradients(grads);
              await value.data();
              sample();
              tf.dispose([value, ...Object.values(grads)]);
            },
            batch,
            timing,
          );
          measured = { unit: 'images/s', detail: `batch ${batch}, Adam`, parameters, ...run };
        } finally {
          optimizer.dispose();
          tf.dispose([images, labels]);
        }
      } else {
        try {
          const run = await runTimedBlocks(
            async () => {
              const output = model.forward(images, { training: false });
              await output.data();
              sample();
              output.dispose();
            },
            batch,
            timing,
          );
          measured = { unit: 'images/s', detail: `batch ${batch}`, parameters, ...run };
        } finally {
          images.dispose();
        }
      }
    } finally {
      model.dispose();
    }
  }
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`bench-measure ${options.measure} ${mode}: ${leaked} tensors leaked`);
  const threads = backend === 'wasm' ? await wasmThreads() : undefined;
  return {
    side: 'zoo',
    measure: options.measure,
    mode,
    batch: mode === 'matmul' ? null : batch,
    ...measured,
    median: median(measured.blocks.map((block) => block.perSecond)),
    // maxRSS is in KiB, as getrusage reports it
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    baselineRssBytes,
    backend,
    node: process.versions.node,
    tfjs: tf.version_core,
    ...(threads != null ? { wasmThreads: threads } : {}),
    peakTensorBytes,
  };
}
