// `mlzoo bench`: throughput of the operations and the model steps that matter, per backend. Each
// measurement warms up first, then times whole iterations that end with `await tensor.data()`, so
// asynchronous backends are measured to completion. Numbers are reported, never asserted. With
// `--reference pytorch` the command compares the zoo with PyTorch instead (src/bench-compare.ts).
import { writeFile } from 'node:fs/promises';
import { cpus, platform } from 'node:os';
import { crossEntropy, setBackend, type TensorModule } from '@mlzoo/core';
import { Embedding } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';
import { BACKEND_CHOICES } from '../backend.js';
import { UsageError } from '../errors.js';
import { DEFAULT_MODEL } from '../models.js';
import { formatTable, type Output } from '../output.js';
import { buildModel } from '../weights.js';

export interface BenchOptions {
  /** Backends to measure (default cpu and wasm). */
  backends?: string[];
  /** Write the JSON report here. */
  jsonPath?: string;
  /** Write a markdown table here. */
  markdownPath?: string;
  /** Keep timing each measurement until this many seconds have passed (default 1). */
  minSeconds?: number;
  /** But never more than this many timed iterations (default 50). */
  maxIterations?: number;
  /** Matmul sizes (default 256, 512, 1024). */
  matmulSizes?: number[];
  /** Images per conv2d call (default 64). */
  convBatch?: number;
  /** Registered 28x28x1 models to time a train step and inference for (default `BENCH_MODELS`). */
  models?: string[];
  /** Train-step batch size (default 128). */
  trainBatch?: number;
  /** Inference batch size (default: twice the train batch). */
  inferenceBatch?: number;
}

/** The models `mlzoo bench` times by default: the MLP, the ViT and the Mixer Fashion-MNIST presets. */
export const BENCH_MODELS = [DEFAULT_MODEL, 'vit_fashion_mnist', 'mixer_fashion_mnist'];

export interface BenchMeasurement {
  backend: string;
  benchmark: string;
  /** What the numbers are per: "matmul 1024x1024x1024", "batch 128". */
  detail: string;
  iterations: number;
  /** Median milliseconds per iteration. */
  milliseconds: number;
  gflops?: number;
  imagesPerSecond?: number;
}

export interface BenchResult {
  date: string;
  node: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  tfjs: string;
  /** The models timed. */
  models: string[];
  measurements: BenchMeasurement[];
  /** Backends that could not be started, with the reason. */
  unavailable: Record<string, string>;
}

interface TimingOptions {
  warmup: number;
  minSeconds: number;
  minIterations: number;
  maxIterations: number;
}

/** Median milliseconds of `run` (which must end with a data sync) over timed iterations. */
async function time(
  run: () => Promise<void>,
  options: TimingOptions,
): Promise<{ milliseconds: number; iterations: number }> {
  for (let index = 0; index < options.warmup; index++) await run();
  const samples: number[] = [];
  const started = performance.now();
  while (
    samples.length < options.minIterations ||
    (samples.length < options.maxIterations && performance.now() - started < options.minSeconds * 1000)
  ) {
    const before = performance.now();
    await run();
    samples.push(performance.now() - before);
  }
  samples.sort((a, b) => a - b);
  const middle = samples.length >> 1;
  const milliseconds =
    samples.length % 2 === 1 ? samples[middle]! : (samples[middle - 1]! + samples[middle]!) / 2;
  return { milliseconds, iterations: samples.length };
}

async function measureBackend(
  backend: string,
  options: BenchOptions,
  timing: TimingOptions,
): Promise<BenchMeasurement[]> {
  const measurements: BenchMeasurement[] = [];
  const record = (
    benchmark: string,
    detail: string,
    timed: { milliseconds: number; iterations: number },
    extra: { flops?: number; images?: number },
  ) => {
    const seconds = timed.milliseconds / 1000;
    measurements.push({
      backend,
      benchmark,
      detail,
      iterations: timed.iterations,
      milliseconds: timed.milliseconds,
      ...(extra.flops != null ? { gflops: extra.flops / seconds / 1e9 } : {}),
      ...(extra.images != null ? { imagesPerSecond: extra.images / seconds } : {}),
    });
  };

  for (const size of options.matmulSizes ?? [256, 512, 1024]) {
    const a = tf.randomUniform([size, size]);
    const b = tf.randomUniform([size, size]);
    const timed = await time(async () => {
      const product = tf.matMul(a, b);
      await product.data();
      product.dispose();
    }, timing);
    tf.dispose([a, b]);
    record(`matmul ${size}`, `[${size}, ${size}] x [${size}, ${size}]`, timed, { flops: 2 * size ** 3 });
  }

  {
    const [batch, size, inChannels, outChannels] = [options.convBatch ?? 64, 28, 32, 64];
    const input = tf.randomUniform([batch, size, size, inChannels]);
    const filter = tf.randomUniform([3, 3, inChannels, outChannels], -0.1, 0.1);
    const timed = await time(async () => {
      const output = tf.conv2d(input as tf.Tensor4D, filter as tf.Tensor4D, 1, 'same');
      await output.data();
      output.dispose();
    }, timing);
    tf.dispose([input, filter]);
    record('conv2d 3x3', `[${batch}, ${size}, ${size}, ${inChannels}] -> ${outChannels}, same`, timed, {
      flops: 2 * batch * size * size * outChannels * inChannels * 9,
      images: batch,
    });
  }

  {
    // Embedding's gradient (customGrad + scatterND): tfjs's default gather gradient needs
    // UnsortedSegmentSum, missing on wasm, and took 175 s for this one step on cpu when measured.
    const [rows, width, lookups] = [10_000, 64, 1024];
    const embedding = new Embedding({ numEmbeddings: rows, embeddingDim: width });
    const ids = tf.tensor1d(
      Int32Array.from({ length: lookups }, (_, index) => (index * 7919) % rows),
      'int32',
    );
    const variables = embedding.parameters();
    const timed = await time(async () => {
      const { value, grads } = tf.tidy(() =>
        tf.variableGrads(() => tf.sum(embedding.forward(ids)), variables),
      );
      await Object.values(grads)[0]!.data();
      tf.dispose([value, ...Object.values(grads)]);
    }, timing);
    ids.dispose();
    embedding.dispose();
    record(
      'embedding gradient',
      `${rows.toLocaleString('en-US')} x ${width} table, ${lookups} ids`,
      timed,
      {},
    );
  }

  for (const modelName of options.models ?? BENCH_MODELS) {
    const built = buildModel(modelName);
    const model: TensorModule = built.model;
    try {
      const trainBatch = options.trainBatch ?? 128;
      const images = tf.randomUniform([trainBatch, 28, 28, 1]);
      const labels = tf.tensor1d(
        Int32Array.from({ length: trainBatch }, (_, index) => index % 10),
        'int32',
      );
      const optimizer: tf.Optimizer = tf.train.adam(1e-3);
      const variables = model.parameters({ trainable: true });
      const timed = await time(async () => {
        const { value, grads } = tf.tidy(() =>
          tf.variableGrads(() => crossEntropy(model.forward(images, { training: true }), labels), variables),
        );
        optimizer.applyGradients(grads);
        await value.data();
        tf.dispose([value, ...Object.values(grads)]);
      }, timing);
      optimizer.dispose();
      tf.dispose([images, labels]);
      record(`${modelName} train step`, `batch ${trainBatch}, Adam`, timed, { images: trainBatch });

      const inferenceBatch = options.inferenceBatch ?? 2 * trainBatch;
      const batch = tf.randomUniform([inferenceBatch, 28, 28, 1]);
      const inferred = await time(async () => {
        const output = model.forward(batch, { training: false });
        await output.data();
        output.dispose();
      }, timing);
      batch.dispose();
      record(`${modelName} inference`, `batch ${inferenceBatch}`, inferred, { images: inferenceBatch });
    } finally {
      model.dispose();
    }
  }
  return measurements;
}

function throughput(measurement: BenchMeasurement | undefined): string {
  if (!measurement) return '-';
  if (measurement.gflops != null) return `${measurement.gflops.toFixed(2)} GFLOP/s`;
  if (measurement.imagesPerSecond != null)
    return `${Math.round(measurement.imagesPerSecond).toLocaleString('en-US')} img/s`;
  return `${measurement.milliseconds.toFixed(1)} ms`;
}

function tableRows(result: BenchResult, backends: string[]): string[][] {
  const names = [...new Set(result.measurements.map((measurement) => measurement.benchmark))];
  return names.map((name) => {
    const first = result.measurements.find((measurement) => measurement.benchmark === name)!;
    return [
      name,
      first.detail,
      ...backends.map((backend) =>
        throughput(
          result.measurements.find(
            (measurement) => measurement.benchmark === name && measurement.backend === backend,
          ),
        ),
      ),
    ];
  });
}

/** The report as a markdown table: one row per benchmark, one column per backend. */
export function benchMarkdown(result: BenchResult): string {
  const backends = [...new Set(result.measurements.map((measurement) => measurement.backend))];
  const header = ['benchmark', 'shape', ...backends];
  const lines = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, index) => (index < 2 ? '---' : '---:')).join(' | ')} |`,
    ...tableRows(result, backends).map((row) => `| ${row.join(' | ')} |`),
  ];
  const conv = result.measurements.filter((measurement) => measurement.benchmark === 'conv2d 3x3');
  const notes = [
    '',
    `Measured ${result.date} on ${result.cpuModel} (${result.cpus} cores), Node ${result.node}, tfjs ${result.tfjs}.`,
    'Median of timed iterations after a warm-up; each iteration ends with `await tensor.data()`.',
    ...conv.map(
      (measurement) =>
        `conv2d on ${measurement.backend}: ${Math.round(measurement.imagesPerSecond ?? 0).toLocaleString('en-US')} img/s.`,
    ),
    ...Object.entries(result.unavailable).map(([backend, reason]) => `${backend}: not measured (${reason}).`),
  ];
  return `${[...lines, ...notes].join('\n')}\n`;
}

export async function bench(options: BenchOptions, output: Output): Promise<BenchResult> {
  const backends = options.backends ?? ['cpu', 'wasm'];
  for (const backend of backends) {
    if (backend === 'auto' || !BACKEND_CHOICES.includes(backend as never)) {
      throw new UsageError(
        `bench: unknown backend '${backend}' (expected a list of cpu, wasm, webgpu, tensorflow)`,
      );
    }
  }
  const timing: TimingOptions = {
    warmup: 1,
    minSeconds: options.minSeconds ?? 1,
    minIterations: 2,
    maxIterations: options.maxIterations ?? 50,
  };
  const result: BenchResult = {
    date: new Date().toISOString(),
    node: process.versions.node,
    platform: `${platform()} ${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    tfjs: tf.version_core,
    models: options.models ?? BENCH_MODELS,
    measurements: [],
    unavailable: {},
  };
  const previous = tf.getBackend();
  try {
    for (const backend of backends) {
      try {
        await setBackend(backend as never, { quiet: true });
      } catch (error) {
        result.unavailable[backend] = (error as Error).message;
        output.warn(`bench: skipping ${backend}: ${(error as Error).message}`);
        continue;
      }
      output.line(`measuring ${backend} ...`);
      result.measurements.push(...(await measureBackend(backend, options, timing)));
    }
  } finally {
    if (previous && tf.getBackend() !== previous) await tf.setBackend(previous);
  }
  const measured = backends.filter((backend) => !(backend in result.unavailable));
  output.line(formatTable([['benchmark', 'shape', ...measured], ...tableRows(result, measured)]));
  if (options.jsonPath) {
    await writeFile(options.jsonPath, `${JSON.stringify(result, null, 2)}\n`);
    output.line(`JSON report: ${options.jsonPath}`);
  }
  if (options.markdownPath) {
    await writeFile(options.markdownPath, benchMarkdown(result));
    output.line(`markdown table: ${options.markdownPath}`);
  }
  output.result(result);
  return result;
}
