// `mlzoo train <model> --dataset fashion-mnist` works for every registered Fashion-MNIST preset (every
// architecture of @mlzoo/layers, @mlzoo/vit and @mlzoo/mixers has one): two optimizer steps on the
// bundled subset, then the weights reload for `eval`. All of them on wasm (what `auto` picks in Node,
// so what users train on); on the slow cpu backend (~1 GFLOP/s) three of them, since the model suites
// already run every architecture there.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listModels } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAllModels } from '../src/models.js';
import { runMlzoo } from './run-mlzoo.js';

registerAllModels();
const ALL_MODELS = listModels('*_fashion_mnist');
const MODELS =
  tf.getBackend() === 'cpu' ? ['mlp_fashion_mnist', 'vit_fashion_mnist', 'mixer_fashion_mnist'] : ALL_MODELS;

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mlzoo-every-model-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('mlzoo train --dataset fashion-mnist, every architecture', () => {
  it('has a Fashion-MNIST preset from every model package', () => {
    expect(ALL_MODELS.length).toBeGreaterThanOrEqual(20);
    for (const name of [
      'mlp_fashion_mnist',
      'vit_fashion_mnist',
      'mixer_fashion_mnist',
      'swin_fashion_mnist',
    ]) {
      expect(ALL_MODELS).toContain(name);
    }
  });

  it.each(MODELS)('%s trains two steps and its weights evaluate', async (model) => {
    const out = join(directory, `${model}.safetensors`);
    const backend = tf.getBackend();
    const common = ['--dataset', 'fashion-mnist', '--backend', backend, '--json', '--no-progress'];
    const trained = await runMlzoo([
      'train',
      model,
      '--limit-train',
      '8',
      '--limit-test',
      '4',
      '--batch-size',
      '4',
      '--epochs',
      '1',
      '--out',
      out,
      ...common,
    ]);
    expect(trained.code, trained.stderr).toBe(0);
    const result = JSON.parse(trained.stdout);
    expect(result.globalStep).toBe(2);
    expect(Number.isFinite(result.history[0].loss)).toBe(true);
    const evaluated = await runMlzoo(['eval', model, '--weights', out, '--limit', '4', ...common]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(JSON.parse(evaluated.stdout).loss).toBeCloseTo(result.test.loss, 4);
  });
});
