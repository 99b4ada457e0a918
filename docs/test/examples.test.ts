// Runs every example in docs/examples and checks what its page says it shows. The pages include these
// files verbatim (`<<< @/examples/...`), so a passing test means the docs' code runs as printed.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type BackendRequest, encodeSafetensors, manualSeed, setBackend, unregisterModel } from '@mlzoo/core';
import { MlpClassifier } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';

const docs = (path: string) => fileURLToPath(new URL(`../${path}`, import.meta.url));
const requestedBackend = (process.env.MLZOO_BACKEND ?? 'cpu') as BackendRequest;

let tensorsBefore = 0;
beforeEach(() => {
  tensorsBefore = tf.memory().numTensors;
});
afterEach(() => {
  // every example cleans up after itself
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});

describe('core examples', () => {
  it('core-quick-start: loads a state dict from safetensors bytes', async () => {
    const { main } = await import('../examples/core-quick-start.js');
    const { values } = await main();
    expect(values).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
    await setBackend(requestedBackend, { quiet: true });
  });

  it('define-module: PyTorch names, layouts, shape errors, parameter count', async () => {
    const { main } = await import('../examples/define-module.js');
    const result = await main();
    expect(result.names).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect(result.stateShapes).toEqual({
      'fc1.weight': [8, 4],
      'fc1.bias': [8],
      'fc2.weight': [3, 8],
      'fc2.bias': [3],
    });
    expect(result.outputShape).toEqual([2, 3]);
    expect(result.error).toBe('fc1: expected input [B, 4], got [2, 5]');
    expect(result.numParameters).toBe(67);
  });

  it('state-dict: a PyTorch nn.Linear state dict gives PyTorch outputs', async () => {
    const { main } = await import('../examples/state-dict.js');
    const result = await main();
    expect(result.missingKeys).toEqual([]);
    expect(result.unexpectedKeys).toEqual([]);
    // [1, 2, 3] @ [[1, 0, -1], [0.5, 0.5, 0.5]]^T + [0, 1] = [-2, 4]
    expect(result.values[0]![0]).toBeCloseTo(-2, 6);
    expect(result.values[0]![1]).toBeCloseTo(4, 6);
    expect(result.roundTripShapes).toEqual({ weight: [2, 3], bias: [2] });
    expect(result.storedShape).toEqual([3, 2]);
    expect(result.strictError).toBe('Linear: state dict does not match the model (missing keys: bias)');
  });

  it('safetensors-bytes: shapes, dtypes, metadata, BF16 size, truncated file refused', async () => {
    const { main } = await import('../examples/safetensors-bytes.js');
    const result = await main();
    expect(result.shapes).toEqual({ 'fc1.weight': [16, 784], 'fc1.bias': [16], steps: [3] });
    expect(result.dtypes).toEqual({ 'fc1.weight': 'F32', 'fc1.bias': 'F32', steps: 'I32' });
    expect(result.metadata).toEqual({ format: 'pt' });
    const floatBytes = (16 * 784 + 16) * 4;
    expect(result.sizes.f32 - result.sizes.bf16).toBeGreaterThan(floatBytes / 2 - 512);
    expect(result.truncatedError).toMatch(/^safetensors: /);
  });

  it('safetensors-file: a saved model reloads with identical outputs', async () => {
    const { main } = await import('../examples/safetensors-file.js');
    const result = await main();
    expect(result.metadata).toEqual({ architecture: 'mlp', hidden_dims: '32' });
    expect(result.maxDifference).toBe(0);
  });

  it('initializers: same seed, same weights; PyTorch bounds and gains', async () => {
    const { main } = await import('../examples/initializers.js');
    const result = await main();
    expect(result.identical).toBe(true);
    expect(result.std).toBeGreaterThan(Math.sqrt(2 / 64) * 0.9);
    expect(result.std).toBeLessThan(Math.sqrt(2 / 64) * 1.1);
    expect(result.bound).toBeLessThanOrEqual(0.1);
    expect(result.bound).toBeGreaterThan(0.09);
    expect(result.fans).toEqual({ fanIn: 27, fanOut: 576 });
  });

  it('registry: register, list, create with overrides, helpful unknown-name error', async () => {
    const { main } = await import('../examples/registry.js');
    try {
      const result = await main();
      expect(result.names).toEqual(['mlp_fashion_mnist', 'mlp_small']);
      expect(result.presetParameters).toBe(535_818);
      expect(result.numClasses).toBe(5);
      expect(result.unknownError).toContain("unknown model 'mlp_huge'");
      expect(result.unknownError).toContain('mlp_small');
    } finally {
      unregisterModel('mlp_small');
      unregisterModel('mlp_fashion_mnist');
    }
  });

  it('losses: PyTorch values', async () => {
    const { main } = await import('../examples/losses.js');
    const result = await main();
    const logSumExp = (row: number[]) => Math.log(row.reduce((sum, value) => sum + Math.exp(value), 0));
    const first = [2, 0.5, -1];
    const second = [0, 0, 3];
    const negLogP = [logSumExp(first) - 2, logSumExp(second) - 3];
    const plain = (negLogP[0]! + negLogP[1]!) / 2;
    expect(result.plain).toBeCloseTo(plain, 5);
    expect(result.soft).toBeCloseTo(plain, 5);
    // smoothing 0.1 over 3 classes: 0.9 * nll + 0.1 * mean over classes of -log p
    const meanNegLog = (row: number[]) => row.reduce((sum, value) => sum + logSumExp(row) - value, 0) / 3;
    const smoothed = 0.9 * plain + (0.1 * (meanNegLog(first) + meanNegLog(second))) / 2;
    expect(result.smoothed).toBeCloseTo(smoothed, 5);
    expect(result.binary).toBeCloseTo(Math.log(2) / 3, 5);
    expect(result.mse).toBeCloseTo(4 / 3, 5);
    expect(result.byName).toBeCloseTo(12.5, 5);
  });
});

describe('training examples', () => {
  it('training-checkpoint: stops, resumes from the file, and learns', async () => {
    const { main } = await import('../examples/training-checkpoint.js');
    const result = await main();
    expect(result.aborted).toBe(true);
    expect(result.stoppedAt).toBe(10);
    expect(result.resumedFrom).toEqual({ epoch: 0, stepInEpoch: 10, globalStep: 10 });
    expect(result.totalSteps).toBe(5 * Math.ceil(600 / 32));
    expect(result.epochsRun).toEqual([1, 2, 3, 4, 5]);
    expect(result.accuracy).toBeGreaterThan(0.9);
  });

  it('nan-guard: a NaN loss stops training before the update', async () => {
    const { main } = await import('../examples/nan-guard.js');
    const result = await main();
    expect(result.message).toMatch(/^fit: loss became NaN at epoch 1, step 2 \(global step 2\)/);
    expect(result.step).toBe(2);
    expect(result.weightsFinite).toBe(true);
    expect(result.checkpointStep).toBe(1);
  });

  it('fashion-mnist: an MLP trained on the bundled subset classifies the test images', async () => {
    const { main } = await import('../examples/fashion-mnist.js');
    const result = await main();
    expect(result.losses).toHaveLength(3);
    expect(result.losses[2]!).toBeLessThan(result.losses[0]!);
    expect(result.accuracy).toBeGreaterThan(0.7);
    expect(result.top5).toBeGreaterThan(0.95);
    expect(result.prediction.actual).toBe('Ankle boot'); // the first official test image
    await setBackend(requestedBackend, { quiet: true });
  });
});

describe('backend examples', () => {
  afterAll(async () => {
    await setBackend(requestedBackend, { quiet: true });
  });

  it('backend: auto picks an installed backend; cpu on request', async () => {
    const { main } = await import('../examples/backend.js');
    const result = await main();
    expect(['webgpu', 'tensorflow', 'wasm', 'cpu']).toContain(result.chosen);
    expect(result.total).toBe(6);
    expect(result.cpu).toBe('cpu');
    expect(['webgpu', 'tensorflow', 'wasm', 'cpu']).toContain(result.fromEnvironment);
  });

  it('browser: streams a safetensors file from a URL into a model', async () => {
    manualSeed(0);
    const source = new MlpClassifier({ imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [32] });
    const state = source.stateDict();
    const bytes = encodeSafetensors(state);
    tf.dispose(Object.values(state));
    source.dispose();
    const server: Server = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
      response.end(bytes);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { main } = await import('../examples/browser.js');
      const result = await main(`http://127.0.0.1:${port}/mlp.safetensors`);
      expect(['wasm', 'cpu']).toContain(result.backend);
      expect(result.shape).toEqual([1, 10]);
      expect(result.loaded).toBe(bytes.length);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('CommonJS', () => {
  // The CommonJS entry is the built dist/index.cjs: turbo builds the packages before this test runs.
  it('commonjs.cjs runs under plain Node with require()', () => {
    if (!existsSync(docs('../packages/core/dist/index.cjs'))) {
      throw new Error(
        'packages/core/dist is missing: run `pnpm build` first (turbo does this before docs tests)',
      );
    }
    const script = "require('./examples/commonjs.cjs').main().then((r) => console.log(JSON.stringify(r)))";
    const run = spawnSync(process.execPath, ['-e', script], { cwd: docs(''), encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      backend: 'cpu',
      slope: [
        [2, 0],
        [0, 2],
      ],
    });
  });
});

describe('READMEs show tested examples verbatim', () => {
  for (const [readme, example] of [
    ['../packages/core/README.md', 'examples/core-quick-start.ts'],
    ['../packages/testing/README.md', 'examples/tiny-convnet.test.ts'],
    ['../README.md', 'examples/fashion-mnist.ts'],
  ] as const) {
    it(`${readme} quick start is ${example}`, () => {
      const text = readFileSync(docs(readme), 'utf8');
      const code = readFileSync(docs(example), 'utf8');
      expect(text).toContain(`\`\`\`ts\n${code}\`\`\``);
    });
  }
});

describe('pages include only files that exist', () => {
  it('every <<< @/examples/... snippet names a file in examples/', () => {
    const pages = spawnSync('git', ['ls-files', '--others', '--cached', '--', '*.md'], {
      cwd: docs(''),
      encoding: 'utf8',
    })
      .stdout.split('\n')
      .filter(Boolean);
    expect(pages.length).toBeGreaterThan(5);
    const included: string[] = [];
    for (const page of pages) {
      for (const match of readFileSync(docs(page), 'utf8').matchAll(/^<<< @\/(examples\/[^\s{#]+)/gm)) {
        included.push(match[1]!);
        expect(existsSync(docs(match[1]!)), `${page} includes ${match[1]}`).toBe(true);
      }
    }
    expect(included.length).toBeGreaterThan(8);
  });
});
