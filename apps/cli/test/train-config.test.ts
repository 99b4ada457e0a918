// `mlzoo train --config`: overrides of a preset's config. The model is built with them (parameter count and
// state-dict shapes change as the config says), the weights file records them so `eval` rebuilds the same
// model, and bad overrides are refused with a message naming the key before any data is loaded.
import { join } from 'node:path';
import { createModel } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { registerAllModels } from '../src/models.js';
import { checkConfigOverrides, loadWeights, parseConfigOverrides } from '../src/weights.js';
import { runMlzoo } from './run-mlzoo.js';
import { scratchDirectory } from './scratch-directory.js';

const MODEL = 'vit_fashion_mnist';
const OVERRIDES = { patchSize: 7, embedDim: 32, depth: 1, numHeads: 2 };

const directory = scratchDirectory('mlzoo-config-');
let suiteBackend: string;
beforeAll(() => {
  suiteBackend = tf.getBackend();
});

describe('parseConfigOverrides', () => {
  it('accepts keys of the preset with values of the same kind', () => {
    expect(parseConfigOverrides(MODEL, JSON.stringify(OVERRIDES))).toEqual(OVERRIDES);
    expect(parseConfigOverrides('mixer_fashion_mnist', '{"mlpRatio": [1, 4]}')).toEqual({ mlpRatio: [1, 4] });
  });

  it('refuses bad JSON, non-objects, unknown keys, dataset keys and values of another kind', () => {
    const refused = (name: string, text: string, message: RegExp) => {
      expect(() => parseConfigOverrides(name, text)).toThrow(UsageError);
      expect(() => parseConfigOverrides(name, text)).toThrow(message);
    };
    refused(MODEL, '{depth: 4}', /--config: not valid JSON/);
    refused(MODEL, '[4]', /must be a JSON object/);
    refused(MODEL, '{"dpeth": 4}', /has no config key 'dpeth' \(its keys: patchSize, embedDim, depth/);
    refused(MODEL, '{"numClasses": 5}', /'numClasses' comes from the dataset/);
    refused(MODEL, '{"depth": "4"}', /'depth' of model 'vit_fashion_mnist' takes a value like 6, got "4"/);
    refused(MODEL, '{"depth": null}', /takes a value like 6, got null/);
    refused('mixer_fashion_mnist', '{"mlpRatio": 4}', /takes a value like \[0.5,2\], got 4/);
    expect(() => checkConfigOverrides(MODEL, 'depth=4')).toThrow(/must be a JSON object/);
  });
});

describe('mlzoo train --config', () => {
  const args = (out: string) => [
    'train',
    MODEL,
    '--limit-train',
    '16',
    '--limit-test',
    '16',
    '--batch-size',
    '8',
    '--epochs',
    '1',
    '--backend',
    suiteBackend,
    '--out',
    out,
    '--json',
    '--no-progress',
  ];

  it('builds and trains the overridden model; the weights file rebuilds it for eval', async () => {
    registerAllModels();
    const expected = createModel(MODEL, OVERRIDES);
    const expectedParameters = expected.numParameters();
    expected.dispose();
    const out = join(directory(), 'small-vit.safetensors');
    const { code, stdout, stderr } = await runMlzoo([...args(out), '--config', JSON.stringify(OVERRIDES)]);
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout);
    expect(result.numParameters).toBe(expectedParameters);
    expect(result.numParameters).toBeLessThan(805_130 / 10);
    expect(result.config).toMatchObject({ ...OVERRIDES, imgSize: 28, inChans: 1, numClasses: 10 });
    expect(stderr).toContain('config {"patchSize":7');

    const loaded = await loadWeights(out, MODEL);
    const state = loaded.model.stateDict();
    try {
      expect(loaded.config).toMatchObject(OVERRIDES);
      expect(loaded.model.numParameters()).toBe(expectedParameters);
      expect(state.pos_embed?.shape).toEqual([1, 17, 32]);
    } finally {
      tf.dispose(Object.values(state));
      loaded.model.dispose();
    }
    const evaluated = await runMlzoo([
      'eval',
      MODEL,
      '--weights',
      out,
      '--limit',
      '16',
      '--backend',
      suiteBackend,
      '--json',
    ]);
    expect(evaluated.code, evaluated.stderr).toBe(0);
    expect(JSON.parse(evaluated.stdout).count).toBe(16);
  });

  it('a bad --config fails with one line naming the key, before training', async () => {
    const out = join(directory(), 'refused.safetensors');
    const { code, stdout, stderr } = await runMlzoo([...args(out), '--config', '{"heads": 2}']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim()).toMatch(/^mlzoo: --config: model 'vit_fashion_mnist' has no config key 'heads'/);
  });
});
