// ResMLP: the model suite on a tiny config, preset parameter counts, golden fixtures from PyTorch
// (tools/fixtures/mixers_timm.py), Affine and LayerScale behaviour, Facebook key remap, errors.

import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Affine, RESMLP_PRESETS, ResMlp, type ResMlpConfig, resmlpKeyFromFacebook } from '../src/resmlp.js';

const FIXTURES = new URL('../fixtures/resmlp/', import.meta.url);

/** ResMLP closed form: stem + blocks of (2 Affine, Linear(N, N), channel MLP, ls1, ls2) + Affine + head. */
function resmlpCount(
  inChans: number,
  patch: number,
  n: number,
  c: number,
  blocks: number,
  ratio: number,
  classes: number,
) {
  const hidden = Math.floor(ratio * c);
  const block = 4 * c + (n * n + n) + (c * hidden + hidden) + (hidden * c + c) + 2 * c;
  return inChans * patch * patch * c + c + blocks * block + 2 * c + c * classes + classes;
}

const TINY: ResMlpConfig = {
  imgSize: 8,
  patchSize: 2,
  inChans: 3,
  numClasses: 5,
  embedDim: 8,
  numBlocks: 2,
  mlpRatio: 4,
  initValues: 0.1,
  dropPathRate: 0.1,
};

runModelSuite({
  name: 'resmlp_tiny',
  create: () => new ResMlp(TINY),
  inputShape: [8, 8, 3],
  numParameters: resmlpCount(3, 2, 16, 8, 2, 4, 5),
});

describe('ResMlp presets', () => {
  it('every preset has the parameter count it states (built: resmlp_fashion_mnist, resmlp_12_224)', () => {
    for (const [name, preset] of Object.entries(RESMLP_PRESETS)) {
      const config = preset.config;
      const n = ((config.imgSize as number) / config.patchSize!) ** 2;
      const expected = resmlpCount(
        config.inChans!,
        config.patchSize!,
        n,
        config.embedDim!,
        config.numBlocks!,
        config.mlpRatio!,
        config.numClasses!,
      );
      expect(preset.numParameters, name).toBe(expected);
    }
    for (const name of ['resmlp_fashion_mnist', 'resmlp_12_224']) {
      const model = new ResMlp(RESMLP_PRESETS[name]!.config);
      expect(model.numParameters(), name).toBe(RESMLP_PRESETS[name]!.numParameters);
      model.dispose();
    }
  });
});

describe('ResMlp golden fixtures (timm re-created in PyTorch)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => expect(names.length).toBeGreaterThanOrEqual(1));
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new ResMlp(fixture.options as ResMlpConfig);
      try {
        checkAgainstFixture(fixture, model, (input, options) => model.forward(input, options), 1e-4);
      } finally {
        model.dispose();
        fixture.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('ResMlp behaviour', () => {
  it("keys and shapes are timm's: Affine [1, 1, C], linear_tokens [N, N], ls1/ls2 [C]", () => {
    const model = new ResMlp(TINY);
    const shapes = model.stateDictShapes();
    expect(shapes['blocks.0.norm1.alpha']).toEqual([1, 1, 8]);
    expect(shapes['blocks.0.norm2.beta']).toEqual([1, 1, 8]);
    expect(shapes['blocks.1.linear_tokens.weight']).toEqual([16, 16]);
    expect(shapes['blocks.1.ls1']).toEqual([8]);
    expect(shapes['blocks.1.mlp_channels.fc2.weight']).toEqual([8, 32]);
    expect(shapes['norm.alpha']).toEqual([1, 1, 8]);
    model.dispose();
  });

  it('LayerScale starts at initValues (timm: 1e-4, resmlp_24: 1e-5)', () => {
    const model = new ResMlp({ ...TINY, initValues: 1e-5 });
    const values = model.namedParameters().get('blocks.1.ls2')!.dataSync();
    expect([...values].every((value) => Math.abs(value - 1e-5) < 1e-12)).toBe(true);
    expect(RESMLP_PRESETS.resmlp_24_224!.config.initValues).toBe(1e-5);
    model.dispose();
  });

  it('Affine is alpha * x + beta and rejects a wrong width', () => {
    const affine = new Affine(3);
    tf.tidy(() => {
      (affine.alpha as tf.Variable).assign(tf.tensor3d([[[2, 3, 4]]]));
      (affine.beta as tf.Variable).assign(tf.tensor3d([[[1, 0, -1]]]));
      expect([...affine.forward(tf.ones([1, 2, 3])).dataSync()]).toEqual([3, 3, 3, 3, 3, 3]);
      expect(() => affine.forward(tf.ones([1, 2, 4]))).toThrow(
        'Affine: expected input [..., 3], got [1, 2, 4]',
      );
    });
    affine.dispose();
  });

  it('maps Facebook checkpoint keys to timm keys', () => {
    expect(resmlpKeyFromFacebook('patch_embed.proj.weight')).toBe('stem.proj.weight');
    expect(resmlpKeyFromFacebook('blocks.3.attn.weight')).toBe('blocks.3.linear_tokens.weight');
    expect(resmlpKeyFromFacebook('blocks.3.mlp.fc1.bias')).toBe('blocks.3.mlp_channels.fc1.bias');
    expect(resmlpKeyFromFacebook('blocks.3.gamma_1')).toBe('blocks.3.ls1');
  });

  it('rejects bad configs before creating variables', () => {
    const before = tf.memory().numTensors;
    expect(() => new ResMlp({ ...TINY, mlpRatio: 0 })).toThrow(/ResMlp: mlpRatio 0/);
    expect(() => new ResMlp({ ...TINY, initValues: Number.NaN })).toThrow(/initValues/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
