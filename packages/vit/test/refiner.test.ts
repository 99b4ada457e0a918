// Refiner-ViT: golden fixtures from a PyTorch re-creation of the official Refiner_ViT
// (tools/fixtures/refiner.py), the shared model suite on a tiny config, preset parameter counts and
// focused behaviour checks (shared-map chaining, the adjust ratio, config errors).
import { createModel, manualSeed, unregisterModel } from '@mlzoo/core';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  REFINER_PRESETS,
  RefinerBlock,
  type RefinerConfig,
  RefinerViT,
  refinerVitS,
  registerRefinerModels,
} from '../src/refiner.js';

const FIXTURES = new URL('../fixtures/refiner/', import.meta.url);

const TINY: RefinerConfig = {
  imgSize: 8,
  patchSize: 4,
  inChans: 2,
  numClasses: 3,
  embedDim: 8,
  numHeads: 2,
  mlpRatio: 2,
  shareAttention: [false, true, false],
  applyTransform: [false, false, true],
  stemWidths: [4, 4, 4],
  returnDense: true,
};

function countParameters(config: RefinerConfig): number {
  const model = new RefinerViT(config);
  const count = model.numParameters();
  model.dispose();
  return count;
}

describe('Refiner-ViT golden fixtures (PyTorch re-creation of the official code)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => {
    expect(names.length).toBeGreaterThan(0);
  });
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new RefinerViT(fixture.options as RefinerConfig);
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
  name: 'refiner_tiny_test',
  create: () => new RefinerViT({ ...TINY, dropPathRate: 0.1 }),
  inputShape: [8, 8, 2],
  numParameters: countParameters(TINY),
});

describe('Refiner-ViT presets', () => {
  it('refiner_fashion_mnist has its preset count', () => {
    expect(countParameters(REFINER_PRESETS.refiner_fashion_mnist!.config)).toBe(
      REFINER_PRESETS.refiner_fashion_mnist!.numParameters,
    );
  });

  it('refiner_vit_s: official keys, and its count from one fresh/shared pair plus seven more', () => {
    // Building 25M parameters takes ~8 s on cpu (the full S/M/L builds run with `mlzoo info --verify`);
    // blocks alternate fresh/shared, so the count is linear in the number of pairs.
    const model = refinerVitS({ shareAttention: [false, true] });
    const one = model.numParameters();
    const shapes = model.stateDictShapes();
    model.dispose();
    expect(shapes['blocks.1.attn.qkv.weight']).toEqual([384, 384]);
    expect(shapes['blocks.0.attn.qkv.weight']).toEqual([1152, 384]);
    expect(shapes['blocks.1.attn.DLA.conv_exp.weight']).toEqual([36, 12, 1, 1]);
    expect(shapes['blocks.1.attn.DLA.depth_sep_conv.weight']).toEqual([36, 1, 3, 3]);
    expect(shapes['blocks.1.attn.adapt_bn.running_var']).toEqual([12]);
    expect(shapes['blocks.0.mlp.scale_channel']).toEqual([384]);
    expect(shapes['patch_embed.conv1.weight']).toEqual([32, 3, 7, 7]);
    expect(shapes['patch_embed.proj.weight']).toEqual([384, 128, 8, 8]);
    expect(shapes['pos_embed']).toEqual([1, 197, 384]);
    // each further pair adds one fresh and one shared block, built on their own with S's options
    const blockCount = (share: boolean) => {
      const block = new RefinerBlock({
        dim: 384,
        numHeads: 12,
        qkvBias: true,
        share,
        applyTransform: false,
        expandRatio: 3,
        attention: {},
        projDrop: 0,
        mlpRatio: 3,
        mlpScaleInit: 1e-5,
        adjustRatio: 0.5,
        normEps: 1e-6,
        dropRate: 0,
        dropPath: 0,
      });
      const count = block.numParameters();
      block.dispose();
      return count;
    };
    const pair = blockCount(false) + blockCount(true);
    expect(one + 7 * pair).toBe(REFINER_PRESETS.refiner_vit_s!.numParameters);
    expect(one + 7 * pair + 384 * 1000 + 1000).toBe(REFINER_PRESETS.refiner_vit_s_relabel!.numParameters);
  }, 30_000);

  // Full builds of the large presets: `mlzoo info --verify --filter 'refiner*'` (the CLI builds each
  // preset and compares its count; 10-190 s per preset on cpu, so not part of the unit tests).

  it('registers every preset and builds by name with overrides', () => {
    registerRefinerModels();
    const model = createModel<RefinerViT>('refiner_fashion_mnist', { numClasses: 4 });
    expect(model.numClasses).toBe(4);
    model.dispose();
    for (const name of Object.keys(REFINER_PRESETS)) expect(unregisterModel(name)).toBe(true);
  });
});

describe('Refiner-ViT behaviour', () => {
  it('the adjust ratio scales the residual branches (0.5 and 1 differ)', () => {
    const input = tf.randomNormal([1, 8, 8, 2], 0, 1, 'float32', 2);
    const outputs = [0.5, 1].map((adjustRatio) => {
      manualSeed(5);
      const model = new RefinerViT({ ...TINY, adjustRatio, mlpScaleInit: 0.5 });
      const output = model.forward(input);
      model.dispose();
      return output;
    });
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(outputs[0]!, outputs[1]!))).dataSync()[0]!);
    expect(difference).toBeGreaterThan(1e-4);
    tf.dispose([input, ...outputs]);
  });

  it('the score normalisation of the fresh maps comes from the config', () => {
    const input = tf.randomNormal([1, 8, 8, 2], 0, 1, 'float32', 2);
    const outputs = (['softmax', 'sigmoid'] as const).map((scoreNorm) => {
      manualSeed(3);
      const model = new RefinerViT({ ...TINY, attention: { scoreNorm } });
      const output = model.forward(input);
      model.dispose();
      return output;
    });
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(outputs[0]!, outputs[1]!))).dataSync()[0]!);
    expect(difference).toBeGreaterThan(1e-5);
    tf.dispose([input, ...outputs]);
  });

  it('forwardIntermediates gives NHWC patch maps; resetClassifier replaces both heads', () => {
    manualSeed(4);
    const model = new RefinerViT(TINY);
    const input = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 2);
    const maps = model.forwardIntermediates(input, { indices: [0, -1] });
    expect(maps.map((map) => map.shape)).toEqual([
      [2, 2, 2, 8],
      [2, 2, 2, 8],
    ]);
    model.resetClassifier(6);
    expect(model.stateDictShapes()['aux_head.weight']).toEqual([6, 8]);
    tf.dispose([input, ...maps]);
    model.dispose();
  });

  it('rejects bad configs before creating variables, naming the problem', () => {
    const before = tf.memory().numTensors;
    expect(() => new RefinerViT({ ...TINY, shareAttention: [true, false, false] })).toThrow(
      /block 0 cannot share attention/,
    );
    expect(() => new RefinerViT({ ...TINY, applyTransform: [false] })).toThrow(
      /applyTransform must have one value per block \(3\), got 1/,
    );
    expect(() => new RefinerViT({ ...TINY, patchSize: 3, imgSize: 9 })).toThrow(/patchSize must be even/);
    expect(() => new RefinerViT({ ...TINY, numHeads: 3 })).toThrow(
      /numHeads \(3\) must divide embedDim \(8\)/,
    );
    expect(tf.memory().numTensors).toBe(before);
    const model = new RefinerViT(TINY);
    const wrong = tf.zeros([1, 8, 8, 3]);
    expect(() => model.forward(wrong)).toThrow(
      /RefinerViT: expected input \[B, 8, 8, 2\], got \[1, 8, 8, 3\]/,
    );
    wrong.dispose();
    model.dispose();
  });
});
