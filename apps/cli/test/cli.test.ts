// The CLI's commands run in-process through `main` (as `mlzoo ...` would run them) on the cpu backend,
// with small slices of the bundled Fashion-MNIST subset so the whole file stays fast.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bench, benchMarkdown } from '../src/commands/bench.js';
import { demo } from '../src/commands/demo.js';
import { Output } from '../src/output.js';
import { INTERRUPTED_EXIT_CODE } from '../src/program.js';
import { captureStreams, runMlzoo } from './run-mlzoo.js';

const MODEL = 'mlp_fashion_mnist';
const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url).pathname;

let directory: string;
/** The backend the suite runs on (MLZOO_BACKEND, cpu by default); tests that switch restore it. */
let suiteBackend: string;
beforeAll(async () => {
  suiteBackend = tf.getBackend();
  directory = await mkdtemp(join(tmpdir(), 'mlzoo-cli-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('mlzoo info', () => {
  it('lists mlp_fashion_mnist with its preset parameter count, checked by building it', async () => {
    const { code, stdout } = await runMlzoo([
      'info',
      '--verify',
      '--filter',
      'mlp_*',
      '--json',
      '--backend',
      'cpu',
    ]);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    const mlp = result.models.find((model: { name: string }) => model.name === MODEL);
    expect(mlp).toMatchObject({ numParameters: 535_818, builtParameters: 535_818, matches: true });
    expect(result.mismatches).toEqual([]);
  });

  it('shows one model: config and state-dict shapes in PyTorch layout', async () => {
    const { code, stdout } = await runMlzoo(['info', MODEL, '--json', '--backend', 'cpu']);
    expect(code).toBe(0);
    const [model] = JSON.parse(stdout).models;
    expect(model.config).toMatchObject({ imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [512, 256] });
    expect(model.stateDict.map((entry: { name: string }) => entry.name)).toEqual([
      'fc1.weight',
      'fc1.bias',
      'fc2.weight',
      'fc2.bias',
      'head.weight',
      'head.bias',
    ]);
    expect(model.stateDict[0]).toEqual({ name: 'fc1.weight', shape: [512, 784], size: 401_408 });
  });

  it('prints a human table without --json', async () => {
    const { code, stdout } = await runMlzoo(['info', '--backend', 'cpu']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/mlp_fashion_mnist\s+535,818\s+@mlzoo\/layers/);
    // the vision packages register their presets too (not built without --verify)
    expect(stdout).toMatch(/mixer_b16_224\s+59,880,472\s+@mlzoo\/mixers/);
    expect(stdout).toMatch(/swin_tiny_patch4_window7_224\s+28,288,354\s+@mlzoo\/vit/);
  });

  it('--verify builds the listed models and checks their counts', async () => {
    const { code, stdout } = await runMlzoo([
      'info',
      '--verify',
      '--filter',
      '*_fashion_mnist',
      '--backend',
      'cpu',
    ]);
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/mlp_fashion_mnist\s+535,818\s+ok/);
    expect(stdout).not.toMatch(/MISMATCH/);
  });

  it('rejects an unknown model with one line and exit code 1', async () => {
    const { code, stderr } = await runMlzoo(['info', 'no_such_model', '--backend', 'cpu']);
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^mlzoo: unknown model 'no_such_model' \(\d+ models: see `mlzoo info`\)$/);
    const similar = await runMlzoo(['info', 'mlp_fashion', '--backend', 'cpu']);
    expect(similar.code).toBe(1);
    expect(similar.stderr).toContain('similar: mlp_fashion_mnist');
  });
});

describe('mlzoo train, eval, resume', () => {
  const common = ['--limit-test', '100', '--batch-size', '64', '--backend', 'cpu', '--json', '--no-progress'];
  let weights: string;
  let checkpoint: string;
  let trained: { test: { accuracy: number; loss: number } };

  it('trains one epoch on 256 images, writing a checkpoint and the weights', async () => {
    weights = join(directory, 'model.safetensors');
    checkpoint = join(directory, 'checkpoint.safetensors');
    const { code, stdout, stderr } = await runMlzoo([
      'train',
      MODEL,
      '--limit-train',
      '256',
      '--epochs',
      '1',
      '--seed',
      '3',
      '--out',
      weights,
      '--checkpoint',
      checkpoint,
      ...common,
    ]);
    expect(code, stderr).toBe(0);
    trained = JSON.parse(stdout);
    expect(trained).toMatchObject({
      model: MODEL,
      backend: 'cpu',
      trainExamples: 256,
      testExamples: 100,
      globalStep: 4,
      aborted: false,
      weights,
      checkpoint,
    });
    expect(existsSync(weights) && existsSync(checkpoint)).toBe(true);
    // 256 examples of 10 classes after 4 Adam steps: far better than chance, loss finite.
    expect(trained.test.accuracy).toBeGreaterThan(0.3);
    expect(Number.isFinite(trained.test.loss)).toBe(true);
    expect(stderr).toContain('training mlp_fashion_mnist');
  });

  it('eval reads the weights back and reproduces the test accuracy', async () => {
    const { code, stdout } = await runMlzoo([
      'eval',
      MODEL,
      '--weights',
      weights,
      '--limit',
      '100',
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.count).toBe(100);
    expect(result.accuracy).toBe(trained.test.accuracy);
    expect(result.loss).toBeCloseTo(trained.test.loss, 5);
    expect(result.top5).toBeGreaterThanOrEqual(result.accuracy);
  });

  it('--resume continues from the checkpoint (epoch 2 only)', async () => {
    const { code, stdout } = await runMlzoo([
      'train',
      MODEL,
      '--limit-train',
      '256',
      '--epochs',
      '2',
      '--seed',
      '3',
      '--resume',
      '--out',
      weights,
      '--checkpoint',
      checkpoint,
      ...common,
    ]);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.resumedFrom).toEqual({ epoch: 1, stepInEpoch: 0, globalStep: 4 });
    expect(result.history.map((epoch: { epoch: number }) => epoch.epoch)).toEqual([2]);
    expect(result.globalStep).toBe(8);
  });

  it('an interrupt (Ctrl-C) writes a checkpoint after the current step, exit 130; --resume picks it up', async () => {
    const interruptedCheckpoint = join(directory, 'interrupted.safetensors');
    const out = join(directory, 'interrupted-model.safetensors');
    const controller = new AbortController();
    // Abort as a user's Ctrl-C would, while training runs: as soon as the checkpoint written at the end
    // of epoch 1 (of 2) appears. Where exactly the abort lands depends on the event loop, so the
    // assertions hold for any step in epoch 2.
    const poll = setInterval(() => {
      if (existsSync(interruptedCheckpoint)) controller.abort();
    }, 1);
    const args = [
      'train',
      MODEL,
      '--limit-train',
      '128',
      '--epochs',
      '2',
      '--out',
      out,
      '--checkpoint',
      interruptedCheckpoint,
    ];
    let interrupted: Awaited<ReturnType<typeof runMlzoo>>;
    try {
      interrupted = await runMlzoo([...args, ...common], { signal: controller.signal });
    } finally {
      clearInterval(poll);
    }
    expect(interrupted.code).toBe(INTERRUPTED_EXIT_CODE);
    const result = JSON.parse(interrupted.stdout);
    expect(result).toMatchObject({ aborted: true, checkpoint: interruptedCheckpoint });
    expect(result.globalStep).toBeGreaterThanOrEqual(2); // epoch 1 has 2 steps of 64
    expect(result.globalStep).toBeLessThan(4);
    expect(result.weights).toBeUndefined();
    expect(interrupted.stderr).toContain(`checkpoint saved to ${interruptedCheckpoint}`);
    expect(existsSync(out)).toBe(false);

    const resumed = await runMlzoo([...args, '--resume', ...common]);
    expect(resumed.code).toBe(0);
    const finished = JSON.parse(resumed.stdout);
    expect(finished.resumedFrom.globalStep).toBe(result.globalStep);
    expect(finished).toMatchObject({ globalStep: 4, weights: out });
  });

  it('an interrupt before the first step trains and saves nothing, and says so', async () => {
    const controller = new AbortController();
    controller.abort();
    const path = join(directory, 'never.safetensors');
    const run = await runMlzoo(['train', MODEL, '--limit-train', '64', '--checkpoint', path, ...common], {
      signal: controller.signal,
    });
    expect(run.code).toBe(INTERRUPTED_EXIT_CODE);
    expect(run.stderr).toContain('interrupted before any training step; nothing was saved');
    expect(existsSync(path)).toBe(false);
  });

  it('eval also accepts a training checkpoint as weights', async () => {
    const { code, stdout } = await runMlzoo([
      'eval',
      MODEL,
      '--weights',
      checkpoint,
      '--limit',
      '50',
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout).count).toBe(50);
  });

  it('predict gives the same top classes for a PNG of test image 0 and for test:0', async () => {
    const png = fixture('fashion-mnist-test-0.png');
    const { code, stdout } = await runMlzoo([
      'predict',
      MODEL,
      '--weights',
      weights,
      png,
      'test:0',
      '--top-k',
      '3',
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(code).toBe(0);
    const [fromPng, fromIndex] = JSON.parse(stdout).items;
    expect(fromIndex.label).toEqual({ index: 9, className: 'Ankle boot' });
    expect(fromPng.predictions).toHaveLength(3);
    const probabilities = fromPng.predictions.map(
      (prediction: { probability: number }) => prediction.probability,
    );
    expect([...probabilities].sort((a, b) => b - a)).toEqual(probabilities);
    fromPng.predictions.forEach((prediction: { index: number; probability: number }, rank: number) => {
      expect(prediction.index).toBe(fromIndex.predictions[rank].index);
      expect(prediction.probability).toBeCloseTo(fromIndex.predictions[rank].probability, 6);
    });
  });

  it('predict rejects an image of the wrong size, naming the file and its size', async () => {
    const png = fixture('grey-32x32.png');
    const { code, stderr } = await runMlzoo([
      'predict',
      MODEL,
      '--weights',
      weights,
      png,
      '--backend',
      'cpu',
    ]);
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      `mlzoo: ${png}: image is 32x32, the model expects 28x28 (grey); resize it first`,
    );
  });
});

describe('errors: one line on stderr, exit code 1, no stack trace', () => {
  const weightsError = async (path: string) => {
    const result = await runMlzoo(['eval', MODEL, '--weights', path, '--backend', 'cpu']);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    return result.stderr.trim();
  };

  it('a corrupt weights file', async () => {
    const path = join(directory, 'corrupt.safetensors');
    await writeFile(path, Buffer.from('this is not a safetensors file at all'));
    const message = await weightsError(path);
    expect(message.startsWith(`mlzoo: ${path}: `)).toBe(true);
  });

  it('a truncated weights file', async () => {
    const path = join(directory, 'truncated.safetensors');
    const bytes = await readFile(join(directory, 'model.safetensors'));
    await writeFile(path, bytes.subarray(0, bytes.length - 1000));
    expect((await weightsError(path)).startsWith(`mlzoo: ${path}: `)).toBe(true);
  });

  it('a missing weights file', async () => {
    const path = join(directory, 'missing.safetensors');
    expect(await weightsError(path)).toBe(`mlzoo: weights file not found: ${path}`);
  });

  it('weights of the wrong shapes name the file and the parameter', async () => {
    const path = join(directory, 'wrong-shapes.safetensors');
    const tensors = {
      'fc1.weight': tf.zeros([512, 100]),
      'fc1.bias': tf.zeros([512]),
      'fc2.weight': tf.zeros([256, 512]),
      'fc2.bias': tf.zeros([256]),
      'head.weight': tf.zeros([10, 256]),
      'head.bias': tf.zeros([10]),
    };
    await writeFile(path, encodeSafetensors(tensors, { model: MODEL }));
    tf.dispose(Object.values(tensors));
    const message = await weightsError(path);
    expect(message).toContain(path);
    expect(message).toContain('fc1.weight: expected shape [512, 784], got [512, 100]');
  });

  it('a small file whose config asks for a huge model is refused before building it', async () => {
    const path = join(directory, 'huge-config.safetensors');
    const tensors = { 'head.bias': tf.zeros([10]) };
    const config = JSON.stringify({ hiddenDims: [40000, 40000] });
    await writeFile(path, encodeSafetensors(tensors, { model: MODEL, config }));
    tf.dispose(Object.values(tensors));
    const message = await weightsError(path);
    expect(message).toContain(
      `${path}: metadata config 'hiddenDims' has 40000, larger than any tensor dimension`,
    );
    const unknownKey = join(directory, 'unknown-key.safetensors');
    const bias = tf.zeros([10]);
    await writeFile(
      unknownKey,
      encodeSafetensors({ 'head.bias': bias }, { model: MODEL, config: '{"evil":1}' }),
    );
    bias.dispose();
    expect(await weightsError(unknownKey)).toContain(
      `metadata config has 'evil', which model '${MODEL}' does not take`,
    );
  });

  it('--verbose adds the stack trace', async () => {
    const path = join(directory, 'corrupt.safetensors');
    const { code, stderr } = await runMlzoo([
      '--verbose',
      'eval',
      MODEL,
      '--weights',
      path,
      '--backend',
      'cpu',
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/\n\s+at /);
  });

  it('an unknown model and a bad option value', async () => {
    const unknown = await runMlzoo(['train', 'vit_huge', '--backend', 'cpu']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown model 'vit_huge'");
    const badEpochs = await runMlzoo(['train', MODEL, '--epochs', 'two', '--backend', 'cpu']);
    expect(badEpochs.code).toBe(1);
    expect(badEpochs.stderr.trim()).toBe("mlzoo: --epochs must be a positive integer, got 'two'");
  });
});

describe('mlzoo demo and bench', () => {
  it('demo trains, saves atomically, reloads and checks identical predictions (wasm, 1 epoch)', async () => {
    const captured = captureStreams();
    const output = new Output(captured.streams, { progress: false });
    let result: Awaited<ReturnType<typeof demo>>;
    try {
      await tf.setBackend('wasm');
      const before = tf.memory().numTensors;
      result = await demo({ backend: 'wasm', epochs: 1, outDirectory: join(directory, 'demo') }, output);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await tf.setBackend(suiteBackend);
    }
    expect(result.backend).toBe('wasm');
    expect(result.reload).toMatchObject({ identicalPredictions: true, count: 500, maxAbsoluteDifference: 0 });
    expect(existsSync(join(directory, 'demo', 'model.safetensors'))).toBe(true);
    expect(captured.stdout()).toContain('reload check: identical predictions on 500 test images');
  });

  it('bench reports finite throughputs per backend and writes JSON and markdown', async () => {
    const captured = captureStreams();
    const jsonPath = join(directory, 'bench.json');
    const markdownPath = join(directory, 'bench.md');
    const before = tf.memory().numTensors;
    const result = await bench(
      {
        backends: ['wasm', 'webgpu'],
        matmulSizes: [32],
        convBatch: 1,
        models: [MODEL, 'mixer_fashion_mnist'],
        trainBatch: 4,
        minSeconds: 0.01,
        maxIterations: 2,
        jsonPath,
        markdownPath,
      },
      new Output(captured.streams),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.getBackend()).toBe(suiteBackend);
    // webgpu needs navigator.gpu, which Node lacks: reported as unavailable, not a failure.
    expect(Object.keys(result.unavailable)).toEqual(['webgpu']);
    expect(captured.stderr()).toContain('bench: skipping webgpu');
    expect(result.measurements.map((measurement) => measurement.benchmark)).toEqual([
      'matmul 32',
      'conv2d 3x3',
      'embedding gradient',
      `${MODEL} train step`,
      `${MODEL} inference`,
      'mixer_fashion_mnist train step',
      'mixer_fashion_mnist inference',
    ]);
    for (const measurement of result.measurements) {
      expect(measurement.milliseconds).toBeGreaterThan(0);
      // the embedding row reports milliseconds per step only
      expect(
        Number.isFinite(measurement.gflops ?? measurement.imagesPerSecond ?? measurement.milliseconds),
      ).toBe(true);
    }
    expect(JSON.parse(await readFile(jsonPath, 'utf8')).measurements).toHaveLength(7);
    expect(await readFile(markdownPath, 'utf8')).toBe(benchMarkdown(result));
    expect(benchMarkdown(result)).toMatch(/^\| benchmark \| shape \| wasm \|/);
  });
});
