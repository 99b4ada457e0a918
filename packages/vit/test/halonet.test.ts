// HaloNet-style blocked local attention: golden fixtures from a PyTorch re-creation of timm's HaloAttn /
// SelfAttnBlock in the mlzoo HaloNet configuration, the shared model suite on a tiny config, preset
// counts and focused checks.
import { createModel, listModels } from '@mlzoo/core';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  HALONET_PRESETS,
  HaloAttn,
  HaloNet,
  type HaloNetConfig,
  halonetParameterCount,
  makeDivisible,
  registerHaloNetModels,
} from '../src/halonet.js';

const FIXTURES = new URL('../fixtures/halonet/', import.meta.url);

describe('HaloNet golden fixtures from PyTorch', () => {
  const names = fixtureNames(FIXTURES);
  it('has the fixtures', () => {
    expect(names).toEqual(['halonet_avg_down_sigmoid', 'halonet_strided_queries', 'halonet_train']);
  });
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new HaloNet(fixture.options as HaloNetConfig);
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

const tiny: HaloNetConfig = {
  imgSize: 8,
  inChans: 2,
  numClasses: 3,
  stemChs: 8,
  stemStride: 1,
  stemPool: false,
  stages: [
    { outChs: 16, depth: 1, stride: 1 },
    { outChs: 32, depth: 1, stride: 2 },
  ],
  numHeads: 2,
  blockSize: 4,
  haloSize: 1,
  dropRate: 0.1,
};

runModelSuite({
  name: 'halonet_tiny_test',
  create: () => new HaloNet(tiny),
  inputShape: [8, 8, 2],
  numParameters: halonetParameterCount(tiny),
});

describe('HaloNet presets', () => {
  it('halonetParameterCount equals the built model', () => {
    for (const config of [
      tiny,
      HALONET_PRESETS.halonet_fashion_mnist!.config,
      { ...tiny, numClasses: 0, numHeads: 1 },
    ]) {
      const model = new HaloNet(config);
      expect(halonetParameterCount(config)).toBe(model.numParameters());
      model.dispose();
    }
  });

  it('halonet_fashion_mnist registers, has the preset count and classifies 28x28x1', () => {
    const preset = HALONET_PRESETS.halonet_fashion_mnist!;
    registerHaloNetModels();
    expect(listModels(`${'halonet_fashion_mnist'.split('_')[0]}*`)).toEqual(
      Object.keys(HALONET_PRESETS).sort(),
    );
    const model = createModel<HaloNet>('halonet_fashion_mnist');
    expect(model.numParameters()).toBe(preset.numParameters);
    const output = tf.tidy(() => model.forward(tf.zeros([1, 28, 28, 1])));
    expect(output.shape).toEqual([1, 10]);
    output.dispose();
    model.dispose();
  });

  // 11.8M parameters take seconds to initialise in JavaScript: checked through halonetParameterCount
  it('halonet_mlzoo_256 has the count of the PyTorch re-creation', () => {
    const preset = HALONET_PRESETS.halonet_mlzoo_256!;
    expect(halonetParameterCount(preset.config)).toBe(preset.numParameters);
  });
});

describe('HaloNet behaviour', () => {
  it('make_divisible rounds as timm', () => {
    expect([makeDivisible(64 * 0.25), makeDivisible(20), makeDivisible(11), makeDivisible(3)]).toEqual([
      16, 24, 16, 8,
    ]);
  });

  it('attention state dict and shapes follow timm HaloAttn', () => {
    const attention = new HaloAttn({ dim: 16, numHeads: 4, blockSize: 4, haloSize: 2, stride: 2 });
    const shapes = attention.stateDictShapes();
    expect(shapes['q.weight']).toEqual([16, 16, 1, 1]);
    expect(shapes['kv.weight']).toEqual([32, 16, 1, 1]);
    expect(shapes['pos_embed.height_rel']).toEqual([15, 4]);
    expect(attention.blockSizeDs).toBe(2);
    const input = tf.randomNormal([1, 8, 12, 16]);
    const output = attention.forward(input);
    expect(output.shape).toEqual([1, 4, 6, 16]);
    expect(() => attention.forward(tf.zeros([1, 6, 8, 16]))).toThrow(/not a multiple of the block size 4/);
    tf.dispose([input, output]);
    attention.dispose();
  });

  it('forwardIntermediates returns each stage in NHWC', () => {
    const model = new HaloNet(tiny);
    const input = tf.zeros([1, 8, 8, 2]);
    const outputs = model.forwardIntermediates(input);
    expect(outputs.map((output) => output.shape)).toEqual([
      [1, 8, 8, 16],
      [1, 4, 4, 32],
    ]);
    tf.dispose([input, ...outputs]);
    model.dispose();
  });

  it('rejects bad configs before creating variables', () => {
    const before = tf.memory().numTensors;
    expect(() => new HaloNet({ ...tiny, imgSize: 10 })).toThrow(/not a multiple of blockSize 4/);
    expect(() => new HaloNet({ ...tiny, numHeads: 3 })).toThrow(/not divisible by numHeads 3/);
    expect(() => new HaloNet({ ...tiny, stages: [] })).toThrow(/stages must not be empty/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
