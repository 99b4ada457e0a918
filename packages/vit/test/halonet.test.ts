// HaloNet-style blocked local attention: golden fixtures from a PyTorch re-creation of timm's HaloAttn /
// SelfAttnBlock / BottleneckBlock / tiered stem (the mlzoo HaloNet configuration and a down-scaled
// halonet26t), timm's full-size halonet26t keys and shapes, the shared model suite on tiny configs, preset
// counts and focused checks.
import { readFileSync } from 'node:fs';
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
  halonet26t,
  halonetParameterCount,
  makeDivisible,
  registerHaloNetModels,
  tieredStemChannels,
} from '../src/halonet.js';

const FIXTURES = new URL('../fixtures/halonet/', import.meta.url);

describe('HaloNet golden fixtures from PyTorch', () => {
  const names = fixtureNames(FIXTURES);
  it('has the fixtures', () => {
    expect(names).toEqual([
      'halonet26t_small',
      'halonet26t_small_train',
      'halonet_avg_down_sigmoid',
      'halonet_strided_queries',
      'halonet_tiered_no_pool',
      'halonet_train',
    ]);
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

/** halonet26t's layout (tiered stem, bottleneck and halo blocks, a stride-2 halo block), tiny. */
const tinyTiered: HaloNetConfig = {
  imgSize: 16,
  inChans: 2,
  numClasses: 3,
  stemType: 'tiered',
  stemChs: 8,
  stemStride: 1,
  stemPool: true,
  stages: [
    { outChs: 16, depth: 1, stride: 1, blockTypes: ['bottle'] },
    { outChs: 32, depth: 2, stride: 2, blockTypes: ['bottle', 'self_attn'] },
    { outChs: 32, depth: 1, stride: 2, blockTypes: ['self_attn'] },
  ],
  numHeads: 2,
  blockSize: 2,
  haloSize: 1,
  dropRate: 0.1,
};

runModelSuite({
  name: 'halonet26t_tiny_test',
  create: () => new HaloNet(tinyTiered),
  inputShape: [16, 16, 2],
  numParameters: halonetParameterCount(tinyTiered),
});

describe('halonet26t: timm state-dict keys and shapes at full size', () => {
  it("has timm's keys, shapes and parameter count (a timm checkpoint loads by key)", () => {
    const expected = JSON.parse(
      readFileSync(new URL('timm-state-dict-shapes.json', FIXTURES), 'utf8'),
    ) as Record<string, { numParameters: number; shapes: Record<string, number[]> }>;
    const preset = HALONET_PRESETS.halonet26t!;
    expect(expected.halonet26t!.numParameters).toBe(preset.numParameters);
    expect(halonetParameterCount(preset.config)).toBe(preset.numParameters);
    const before = tf.memory().numTensors;
    const model = halonet26t();
    try {
      expect(model.stateDictShapes()).toEqual(expected.halonet26t!.shapes);
      expect(model.numParameters()).toBe(preset.numParameters);
      expect(model.firstLayerName).toBe('stem.conv1.conv');
      // timm's zero_init_last: each of the 8 blocks starts as its shortcut
      const last = [...model.namedParameters()].filter(([name]) => name.endsWith('conv3_1x1.bn.weight'));
      expect(last.length).toBe(8);
      for (const [, weight] of last) expect(tf.tidy(() => tf.max(tf.abs(weight)).dataSync()[0])).toBe(0);
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('HaloNet presets', () => {
  it('halonetParameterCount equals the built model', () => {
    for (const config of [
      tiny,
      tinyTiered,
      { ...tinyTiered, stemPool: false, imgSize: 32, numClasses: 0 },
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
  it("the tiered stem has timm's channels and stride 4", () => {
    expect(tieredStemChannels(64)).toEqual([24, 32, 64]);
    const model = new HaloNet({ ...tinyTiered, stemStride: 2, stemPool: false, imgSize: 32 });
    const input = tf.zeros([1, 32, 32, 2]);
    const [first] = model.forwardIntermediates(input, { indices: [0] });
    // stem /4 (conv3 strided without the max-pool), stage 0 stride 1
    expect(first!.shape).toEqual([1, 8, 8, 16]);
    expect(model.stateDictShapes()['stem.conv3.conv.weight']).toEqual([8, 4, 3, 3]);
    tf.dispose([input, first!]);
    model.dispose();
  });

  it('zeroInitLast zeroes only the last BN weight of each block (default off)', () => {
    const bnWeightMaxima = (model: HaloNet) =>
      [...model.namedParameters()]
        .filter(([name]) => name.endsWith('.bn.weight'))
        .map(([name, weight]) => [name, tf.tidy(() => tf.max(tf.abs(weight)).dataSync()[0])] as const);
    const plain = new HaloNet(tinyTiered);
    const zeroed = new HaloNet({ ...tinyTiered, zeroInitLast: true });
    for (const [name, value] of bnWeightMaxima(plain)) expect([name, value]).toEqual([name, 1]);
    for (const [name, value] of bnWeightMaxima(zeroed))
      expect([name, value]).toEqual([name, name.endsWith('conv3_1x1.bn.weight') ? 0 : 1]);
    plain.dispose();
    zeroed.dispose();
  });

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
    expect(
      () => new HaloNet({ ...tiny, stages: [{ outChs: 16, depth: 2, stride: 1, blockTypes: ['bottle'] }] }),
    ).toThrow(/stage 0: blockTypes must list depth \(2\) entries/);
    expect(() => new HaloNet({ ...tinyTiered, imgSize: 12 })).toThrow(
      /stage 2, block 0: feature map 3x3 is not a multiple of blockSize 2/,
    );
    expect(() => new HaloNet({ ...tinyTiered, stemChs: 4 })).toThrow(/tiered stem needs stemChs >= 8/);
    expect(() => new HaloNet({ ...tiny, stages: [{ outChs: 16, depth: -1, stride: 1 }] })).toThrow(
      /stage 0: outChs and depth must be positive/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
