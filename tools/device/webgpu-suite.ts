// The model suite on webgpu without vitest, for a GPU machine that has no pnpm workspace: every
// registered `*_fashion_mnist` preset runs the shared model checks (@mlzoo/testing/checks) on webgpu,
// then the cpu comparison (forward and every parameter gradient within BACKEND_AGREEMENT_TOLERANCE),
// then timings of inference and of a training step on webgpu. Bundled by tools/device/pack-webgpu.sh
// into one .mjs file (tfjs and mlzoo inside; only the `webgpu` package, Dawn's native addon, beside it).
//
//   node webgpu-suite.mjs [--models REGEX] [--skip-checks] [--skip-timing] [--out FILE.json]
//                         [--infer-batch 256] [--train-batch 128] [--iterations 10]
import { writeFileSync } from 'node:fs';
import { type Classifier, createModel, listModels, manualSeed, Random, setBackend } from '@mlzoo/core';
import { registerConvKanModels, registerKanModels } from '@mlzoo/kan';
import { registerLayersModels } from '@mlzoo/layers';
import { registerMixersModels } from '@mlzoo/mixers';
import {
  BACKEND_AGREEMENT_TOLERANCE,
  checkAgreesWithCpu,
  MODEL_CHECKS,
  type ModelSuiteSpec,
} from '@mlzoo/testing/checks';
import { registerVitModels } from '@mlzoo/vit';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
// not yet exported from @mlzoo/core's index: the same module that core's setBackend uses
import { installNodeWebGPU, takeNodeWebGPUErrors } from '../../packages/core/src/webgpu-node.ts';

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] != null ? process.argv[index + 1]! : fallback;
}
const modelPattern = new RegExp(option('models', '_fashion_mnist$'));
const inferBatch = Number(option('infer-batch', '256'));
const trainBatch = Number(option('train-batch', '128'));
const iterations = Number(option('iterations', '10'));
const outFile = option('out', '');
const runChecks = !process.argv.includes('--skip-checks');
const runTiming = !process.argv.includes('--skip-timing');

interface ModelResult {
  name: string;
  parameters: number;
  checks: Record<string, string>;
  inferImagesPerSecond?: number;
  trainImagesPerSecond?: number;
  timingError?: string;
}

function seededInput(batchSize: number, seed: number): tf.Tensor {
  const random = new Random(seed);
  const values = new Float32Array(batchSize * 28 * 28);
  for (let index = 0; index < values.length; index++) values[index] = random.normal();
  return tf.tensor(values, [batchSize, 28, 28, 1], 'float32');
}

async function timeModel(name: string, result: ModelResult): Promise<void> {
  manualSeed(0);
  const model = createModel<Classifier & ReturnType<typeof createModel>>(name);
  const input = seededInput(inferBatch, 1);
  const trainInput = seededInput(trainBatch, 2);
  const labels = tf.tensor1d(
    Array.from({ length: trainBatch }, (_, index) => index % model.numClasses),
    'int32',
  );
  const optimizer = tf.train.adam(1e-3);
  const variables = model.parameters({ trainable: true });
  try {
    const infer = async () => {
      const output = tf.tidy(() => model.forward(input, { training: false }));
      await output.data();
      output.dispose();
    };
    const step = async () => {
      // minimize's own gradient tape disposes the intermediates; the returned loss is ours
      const loss = optimizer.minimize(
        () => {
          const logits = model.forward(trainInput, { training: true });
          return tf.losses.softmaxCrossEntropy(tf.oneHot(labels, model.numClasses), logits) as tf.Scalar;
        },
        true,
        variables,
      );
      if (loss == null) throw new Error(`${name}: optimizer.minimize returned no loss`);
      await loss.data();
      loss.dispose();
    };
    // two warm-up calls compile the shaders
    for (let index = 0; index < 2; index++) await infer();
    let started = performance.now();
    for (let index = 0; index < iterations; index++) await infer();
    result.inferImagesPerSecond = (inferBatch * iterations) / ((performance.now() - started) / 1000);
    for (let index = 0; index < 2; index++) await step();
    started = performance.now();
    for (let index = 0; index < iterations; index++) await step();
    result.trainImagesPerSecond = (trainBatch * iterations) / ((performance.now() - started) / 1000);
  } finally {
    optimizer.dispose();
    tf.dispose([input, trainInput, labels]);
    model.dispose();
  }
}

async function main(): Promise<void> {
  const gpu = await installNodeWebGPU();
  // registers the webgpu backend: only after navigator.gpu exists
  await import('@tensorflow/tfjs-backend-webgpu');
  await setBackend('webgpu', { quiet: true });
  tf.env().set('WEBGPU_CPU_FORWARD', false);
  console.log(`webgpu adapter: ${JSON.stringify(gpu.adapter)}`);
  registerLayersModels();
  registerVitModels();
  registerMixersModels();
  registerKanModels();
  registerConvKanModels();
  const names = listModels().filter((name) => modelPattern.test(name));
  console.log(`models (${names.length}): ${names.join(', ')}`);
  const results: ModelResult[] = [];
  let failures = 0;
  let passed = 0;
  for (const name of names) {
    const spec: ModelSuiteSpec = {
      name,
      create: () => createModel(name) as unknown as Classifier & ReturnType<typeof createModel>,
      inputShape: [28, 28, 1],
    };
    manualSeed(0);
    const probe = createModel(name);
    const result: ModelResult = { name, parameters: probe.numParameters(), checks: {} };
    probe.dispose();
    const started = performance.now();
    if (runChecks) {
      const checks: Array<[string, (spec: ModelSuiteSpec) => void | Promise<void>]> = [
        ...Object.entries(MODEL_CHECKS),
        [`outputs and gradients equal cpu's within ${BACKEND_AGREEMENT_TOLERANCE}`, checkAgreesWithCpu],
      ];
      for (const [title, check] of checks) {
        try {
          takeNodeWebGPUErrors();
          await check(spec);
          // WebGPU reports invalid shaders and pipelines as events, not exceptions: results were garbage
          const gpuErrors = takeNodeWebGPUErrors();
          if (gpuErrors.length > 0) {
            throw new Error(
              `the GPU reported ${gpuErrors.length} errors: ${gpuErrors[0]!.split('\n').slice(0, 2).join(' ')}`,
            );
          }
          passed++;
          result.checks[title] = 'passed';
        } catch (error) {
          failures++;
          result.checks[title] = `FAILED: ${(error as Error).message.split('\n')[0]}`;
        }
      }
    }
    if (runTiming) {
      try {
        await timeModel(name, result);
      } catch (error) {
        failures++;
        result.timingError = (error as Error).message.split('\n')[0];
      }
    }
    const failed = Object.entries(result.checks).filter(([, outcome]) => outcome !== 'passed');
    const timing =
      result.inferImagesPerSecond != null
        ? `infer ${result.inferImagesPerSecond.toFixed(0)} img/s (b${inferBatch}), train ${result.trainImagesPerSecond!.toFixed(0)} img/s (b${trainBatch})`
        : (result.timingError ?? '');
    console.log(
      `${name} (${result.parameters.toLocaleString('en-US')} params, ${((performance.now() - started) / 1000).toFixed(1)} s): ` +
        `${runChecks ? `${Object.keys(result.checks).length - failed.length}/${Object.keys(result.checks).length} checks passed` : 'checks skipped'}; ${timing}`,
    );
    for (const [title, outcome] of failed) console.log(`  ${title}: ${outcome}`);
    results.push(result);
  }
  const summary = {
    adapter: gpu.adapter,
    node: process.version,
    tolerance: BACKEND_AGREEMENT_TOLERANCE,
    inferBatch,
    trainBatch,
    iterations,
    results,
  };
  if (outFile) writeFileSync(outFile, `${JSON.stringify(summary, null, 2)}\n`);
  // timing errors count as failures: a preset that cannot train on webgpu is a finding
  console.log(`webgpu suite: ${passed} passed, ${failures} failed`);
  process.exit(failures > 0 ? 1 : 0);
}

await main();
