// ConViT: golden fixtures from a PyTorch re-creation of timm's convit.py (tools/fixtures/convit.py),
// the shared model suite on a tiny config, preset parameter counts, GPSA's local init and options.
import { createModel, manualSeed, unregisterModel } from '@mlzoo/core';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  CONVIT_PRESETS,
  ConViT,
  type ConvitConfig,
  convitTiny,
  GatedPositionalAttention,
  registerConvitModels,
} from '../src/convit.js';

const FIXTURES = new URL('../fixtures/convit/', import.meta.url);

const TINY: ConvitConfig = {
  imgSize: 8,
  patchSize: 2,
  inChans: 2,
  numClasses: 3,
  embedDim: 4,
  numHeads: 4,
  depth: 2,
  mlpRatio: 2,
  localUpToLayer: 1,
};

function countParameters(config: ConvitConfig): number {
  const model = new ConViT(config);
  const count = model.numParameters();
  model.dispose();
  return count;
}

describe('ConViT golden fixtures (PyTorch re-creation of timm)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => {
    expect(names.length).toBeGreaterThan(0);
  });
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new ConViT(fixture.options as ConvitConfig);
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

runModelSuite({
  name: 'convit_tiny_test',
  create: () => new ConViT({ ...TINY, dropPathRate: 0.1 }),
  inputShape: [8, 8, 2],
  numParameters: countParameters(TINY),
});

describe('ConViT presets', () => {
  it('convit_tiny and convit_fashion_mnist have the preset parameter counts', () => {
    for (const name of ['convit_tiny', 'convit_fashion_mnist']) {
      const model = new ConViT(CONVIT_PRESETS[name]!.config);
      expect(model.numParameters(), name).toBe(CONVIT_PRESETS[name]!.numParameters);
      model.dispose();
    }
  });

  // Building 28M + 87M parameters takes ~25 s on the cpu backend, so these two run only with
  // `mlzoo info --verify`; tools/fixtures/convit.py --counts gives the same counts from PyTorch.
  // Full builds of the large presets: `mlzoo info --verify --filter 'convit*'` (the CLI builds each
  // preset and compares its count; 10-190 s per preset on cpu, so not part of the unit tests).

  it('registers every preset and builds by name with overrides', () => {
    registerConvitModels();
    const model = createModel<ConViT>('convit_fashion_mnist', { numClasses: 4 });
    expect(model.numClasses).toBe(4);
    model.dispose();
    for (const name of Object.keys(CONVIT_PRESETS)) expect(unregisterModel(name)).toBe(true);
  });

  it('builder applies overrides', () => {
    const model = convitTiny({ imgSize: 32, numClasses: 2, depth: 11 });
    expect(model.gridSize).toBe(2);
    expect(model.blocks.length).toBe(11);
    model.dispose();
  });
});

describe('ConViT behaviour', () => {
  it('GPSA local init: v is the identity and pos_proj points each head at one kernel offset', () => {
    manualSeed(0);
    const attention = new GatedPositionalAttention({ dim: 8, numHeads: 4, gridSize: 3, localityStrength: 2 });
    const state = attention.stateDict();
    expect(Array.from(state['v.weight']!.dataSync())).toEqual(Array.from(tf.eye(8).dataSync()));
    // PyTorch rows [heads, 3]: head h1 + 2 h2 -> [2 (h2 - 0.5), 2 (h1 - 0.5), -1] * 2
    expect(state['pos_proj.weight']!.arraySync()).toEqual([
      [-2, -2, -2],
      [-2, 2, -2],
      [2, -2, -2],
      [2, 2, -2],
    ]);
    expect(Array.from(state['gating_param']!.dataSync())).toEqual([1, 1, 1, 1]);
    tf.dispose(Object.values(state));
    attention.dispose();
  });

  it('GPSA weights are rows summing to one; a large gate gives the positional softmax', () => {
    manualSeed(1);
    const attention = new GatedPositionalAttention({ dim: 8, numHeads: 4, gridSize: 3 });
    const input = tf.randomNormal([2, 9, 8], 0, 1, 'float32', 5);
    const rows = tf.tidy(() => tf.sum(attention.attentionWeights(input), -1));
    expect(Math.max(...Array.from(rows.dataSync()).map((value) => Math.abs(value - 1)))).toBeLessThan(1e-5);
    attention.gatingParam.assign(tf.fill([4], 30));
    // head 0 points at offset (-0.5, -0.5) scaled: the query's own and upper-left neighbours win
    const weights = tf.tidy(() => attention.attentionWeights(input));
    const again = tf.tidy(() => attention.attentionWeights(tf.randomNormal([2, 9, 8], 0, 1, 'float32', 6)));
    // content no longer matters: two inputs give the same weights
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(weights, again)))).dataSync()[0]).toBeLessThan(1e-6);
    tf.dispose([input, rows, weights, again]);
    attention.dispose();
  });

  it('the attention config reaches GPSA and MHSA blocks (scoreNorm changes the output)', () => {
    const input = tf.randomNormal([1, 8, 8, 2], 0, 1, 'float32', 2);
    const outputs = (['softmax', 'sigmoid'] as const).map((scoreNorm) => {
      manualSeed(3);
      const model = new ConViT({ ...TINY, attention: { scoreNorm } });
      const output = model.forward(input);
      model.dispose();
      return output;
    });
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(outputs[0]!, outputs[1]!))).dataSync()[0]!);
    expect(difference).toBeGreaterThan(1e-4);
    tf.dispose([input, ...outputs]);
  });

  it('forwardIntermediates gives NHWC patch maps before and after the class token joins', () => {
    manualSeed(4);
    const model = new ConViT(TINY);
    const input = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 2);
    const maps = model.forwardIntermediates(input);
    expect(maps.map((map) => map.shape)).toEqual([
      [2, 4, 4, 16],
      [2, 4, 4, 16],
    ]);
    tf.dispose([input, ...maps]);
    model.dispose();
  });

  it('rejects bad configs before creating variables, naming the problem', () => {
    const before = tf.memory().numTensors;
    expect(() => new ConViT({ ...TINY, imgSize: 9 })).toThrow(
      /imgSize \(9\) must be a multiple of patchSize \(2\)/,
    );
    expect(() => new ConViT({ ...TINY, localUpToLayer: 2 })).toThrow(
      /localUpToLayer must be an integer in \[0, depth - 1\] = \[0, 1\]/,
    );
    expect(() => new ConViT({ ...TINY, attention: { scoreNorm: 'bogus' as 'softmax' } })).toThrow(
      /attention.scoreNorm must be one of/,
    );
    expect(tf.memory().numTensors).toBe(before);
    const model = new ConViT(TINY);
    const wrong = tf.zeros([1, 8, 8, 3]);
    expect(() => model.forward(wrong)).toThrow(/ConViT: expected input \[B, 8, 8, 2\], got \[1, 8, 8, 3\]/);
    wrong.dispose();
    model.dispose();
  });
});
