// EViT: golden fixtures from a PyTorch re-creation of youweiliang/evit (tools/fixtures/vision_transformer.py),
// DeiT weights load by key, token counts, the gradient-safe top-k, presets, the model suite on tiny configs.
import { createModel, listModels, unregisterModel } from '@mlzoo/core';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  EVIT_PRESETS,
  EVIT_PRETRAINED,
  EViT,
  type EvitConfig,
  type EvitForwardOptions,
  evitFashionMnist,
  registerEvitModels,
  topKSelection,
} from '../src/evit.js';
import { VISION_TRANSFORMER_PRESETS, VisionTransformer } from '../src/vision-transformer.js';

const FIXTURES = new URL('../fixtures/evit/', import.meta.url);

const TINY: EvitConfig = {
  imgSize: 8,
  patchSize: 2,
  inChans: 2,
  numClasses: 3,
  embedDim: 8,
  depth: 3,
  numHeads: 2,
  mlpRatio: 2,
  keepRate: 0.5,
  dropLocations: [0, 2],
};

function maxDifference(left: tf.Tensor, right: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(left, right))).dataSync()[0]!);
}

describe('EViT golden fixtures (PyTorch re-creation of youweiliang/evit)', () => {
  const names = fixtureNames(FIXTURES);
  it('has the expected cases', () => {
    expect(names).toEqual(['evit_fuse_token', 'evit_no_fuse']);
  });
  for (const name of names) {
    it(`${name}: output and gradients match to 1e-4`, () => {
      const fixture = loadFixture(FIXTURES, name);
      const before = tf.memory().numTensors;
      const model = new EViT(fixture.options as EvitConfig);
      try {
        checkAgainstFixture(fixture, model, (input, options) => model.forward(input, options), 1e-4);
      } finally {
        model.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      fixture.dispose();
    });
  }
});

describe('token reorganisation', () => {
  it('topKSelection picks the k largest in descending order, ties to the lower index, like tf.topk', () => {
    const scores = tf.tensor2d([
      [0.1, 0.5, 0.3, 0.5, 0.2],
      [1, 1, 1, 1, 1],
    ]);
    const before = tf.memory().numTensors;
    const selection = topKSelection(scores, 3);
    const picked = tf.tidy(() => tf.argMax(selection, 2));
    expect(picked.arraySync()).toEqual([
      [1, 3, 2],
      [0, 1, 2],
    ]);
    const distinct = tf.tensor2d([[0.1, 0.7, 0.3, 0.5, 0.2]]);
    const { indices, values } = tf.topk(distinct, 3);
    const mine = tf.tidy(() => tf.argMax(topKSelection(distinct, 3), 2));
    expect(mine.arraySync()).toEqual(indices.arraySync());
    tf.dispose([selection, picked, indices, values, mine, distinct]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => topKSelection(scores, 6)).toThrow(/k must be an integer in \[1, 5\]/);
    scores.dispose();
  });

  it('the token count shrinks at the drop locations as tokenCounts says', () => {
    const model = new EViT({ ...TINY, depth: 4, dropLocations: [1, 3], keepRate: 0.7 });
    // 16 patches: block 1 keeps ceil(11.2) = 12 + fused, block 3 keeps ceil(9.1) = 10 + fused
    expect(model.tokenCounts()).toEqual([17, 14, 14, 12]);
    const input = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 1);
    const before = tf.memory().numTensors;
    const intermediates = model.forwardIntermediates(input);
    expect(intermediates.map((tokens) => tokens.shape[1])).toEqual([16, 13, 13, 11]);
    tf.dispose(intermediates);
    expect(() => model.forwardIntermediates(input, { indices: [1], outputFormat: 'NHWC' })).toThrow(
      /holds 13 patch tokens, not a 4x4 grid/,
    );
    const grid = model.forwardIntermediates(input, { indices: [0], outputFormat: 'NHWC' });
    expect(grid[0]!.shape).toEqual([2, 4, 4, 8]);
    tf.dispose(grid);
    const features = model.forwardFeatures(input);
    expect(features.shape).toEqual([2, 12, 8]);
    features.dispose();
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
    model.dispose();
  });

  it('loads a DeiT state dict by key; keep rate 1 runs that DeiT exactly', () => {
    const deit = new VisionTransformer({ ...TINY });
    const evit = new EViT(TINY);
    const state = deit.stateDict();
    const result = evit.loadStateDict(state);
    tf.dispose(Object.values(state));
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
    const input = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 2);
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const unpruned: EvitForwardOptions = { keepRate: 1 };
      expect(maxDifference(evit.forward(input, unpruned), deit.forward(input))).toBe(0);
      expect(maxDifference(evit.forward(input), deit.forward(input))).toBeGreaterThan(1e-6);
    });
    expect(tf.memory().numTensors).toBe(before);
    input.dispose();
    deit.dispose();
    evit.dispose();
  });

  it('a distilled EViT keeps both prefix tokens', () => {
    const model = new EViT({ ...TINY, distilled: true });
    expect(model.tokenCounts()).toEqual([2 + 8 + 1, 11, 2 + 5 + 1]);
    const input = tf.randomNormal([1, 8, 8, 2], 0, 1, 'float32', 3);
    const features = model.forwardFeatures(input);
    expect(features.shape).toEqual([1, 8, 8]);
    tf.dispose([input, features]);
    model.dispose();
  });

  it('rejects bad EViT configs before creating any variable', () => {
    const before = tf.memory().numTensors;
    expect(() => new EViT({ ...TINY, keepRate: 0 })).toThrow(/keepRate must be in \(0, 1\]/);
    expect(() => new EViT({ ...TINY, dropLocations: [3] })).toThrow(/must be block indices in \[0, 3\)/);
    expect(() => new EViT({ ...TINY, depth: 6, dropLocations: undefined })).toThrow(/\[3, 6, 9\]/);
    expect(() => new EViT({ ...TINY, classToken: false, globalPool: 'avg' })).toThrow(
      /classToken must be true/,
    );
    expect(() => new EViT({ ...TINY, numHeads: 3 })).toThrow(/numHeads/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('presets', () => {
  it('EViT presets have the parameter counts of the DeiT they run', () => {
    for (const size of ['tiny', 'small', 'base']) {
      const evit = EVIT_PRESETS[`evit_deit_${size}_patch16_224`]!;
      const deit = VISION_TRANSFORMER_PRESETS[`deit_${size}_patch16_224`]!;
      expect(evit.numParameters).toBe(deit.numParameters);
      const { keepRate, dropLocations, fuseToken, ...rest } = evit.config;
      expect(rest).toEqual(deit.config);
      expect([keepRate, dropLocations, fuseToken]).toEqual([0.7, [3, 6, 9], true]);
      expect(EVIT_PRETRAINED[`evit_deit_${size}_patch16_224`]!.mean).toEqual([0.485, 0.456, 0.406]);
    }
  });

  it('evit_fashion_mnist builds with its numParameters (805,130) and prunes 49 -> 36 -> 27 patch tokens', () => {
    const before = tf.memory().numTensors;
    const model = evitFashionMnist();
    expect(model.numParameters()).toBe(EVIT_PRESETS.evit_fashion_mnist!.numParameters);
    expect(model.numParameters()).toBe(805_130);
    expect(model.tokenCounts()).toEqual([50, 50, 37, 37, 28, 28]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('registers every preset with createModel', () => {
    registerEvitModels();
    try {
      expect(listModels('evit_*')).toEqual(Object.keys(EVIT_PRESETS).sort());
      const model = createModel<EViT>('evit_fashion_mnist', { numClasses: 4 });
      expect(model).toBeInstanceOf(EViT);
      expect(model.numClasses).toBe(4);
      model.dispose();
    } finally {
      for (const name of Object.keys(EVIT_PRESETS)) unregisterModel(name);
    }
  });
});

runModelSuite({
  name: 'evit_tiny_config',
  create: () => new EViT({ ...TINY, dropPathRate: 0.1 }),
  inputShape: [8, 8, 2],
  numParameters: (() => {
    const plain = new VisionTransformer(TINY);
    const count = plain.numParameters();
    plain.dispose();
    return count;
  })(),
});

runModelSuite({
  name: 'evit_tiny_no_fuse_avg_pool',
  create: () => new EViT({ ...TINY, fuseToken: false, globalPool: 'avg', keepRate: 0.3 }),
  inputShape: [8, 8, 2],
});
