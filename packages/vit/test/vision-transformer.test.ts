// VisionTransformer (ViT, DeiT): golden fixtures from a PyTorch re-creation of timm's modules
// (tools/fixtures/vision_transformer.py), timm's state-dict keys and shapes at full size, preset
// parameter counts, the shared model suite on tiny configs, and focused behaviour tests.
import { readFileSync } from 'node:fs';
import { createModel, listModels, manualSeed, unregisterModel } from '@mlzoo/core';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  deitTinyDistilledPatch16_224,
  registerVisionTransformerModels,
  VISION_TRANSFORMER_PRESETS,
  VISION_TRANSFORMER_PRETRAINED,
  VisionTransformer,
  type VisionTransformerConfig,
  vitFashionMnist,
  vitTinyPatch16_224,
} from '../src/vision-transformer.js';

const FIXTURES = new URL('../fixtures/vision-transformer/', import.meta.url);

const TINY: VisionTransformerConfig = {
  imgSize: 8,
  patchSize: 4,
  inChans: 2,
  numClasses: 3,
  embedDim: 8,
  depth: 2,
  numHeads: 2,
  mlpRatio: 2,
};

/** Parameters of a ViT block of width d with MLP hidden h (LN, qkv, proj, LN, fc1, fc2). */
function blockParameters(dim: number, hidden: number): number {
  return (
    2 * dim +
    (3 * dim * dim + 3 * dim) +
    (dim * dim + dim) +
    2 * dim +
    (dim * hidden + hidden) +
    (hidden * dim + dim)
  );
}

function expectNoLeak<T>(run: () => T): T {
  const before = tf.memory().numTensors;
  const result = run();
  expect(tf.memory().numTensors).toBe(before);
  return result;
}

describe('VisionTransformer golden fixtures (PyTorch re-creation of timm)', () => {
  const names = fixtureNames(FIXTURES);
  it('has the expected cases', () => {
    expect(names).toEqual([
      'deit_distilled',
      'vit_avg_fc_norm',
      'vit_layer_scale_qk_norm',
      'vit_registers_no_embed_class',
      'vit_token',
    ]);
  });
  for (const name of names) {
    it(`${name}: output and gradients match to 1e-4`, () => {
      const fixture = loadFixture(FIXTURES, name);
      const before = tf.memory().numTensors;
      const model = new VisionTransformer(fixture.options as VisionTransformerConfig);
      try {
        checkAgainstFixture(fixture, model, (input, options) => model.forward(input, options), 1e-4);
      } finally {
        model.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      fixture.dispose();
    });
  }
  it('conv and linear patch embedding agree on a fixture', () => {
    const fixture = loadFixture(FIXTURES, 'vit_token');
    const before = tf.memory().numTensors;
    const model = new VisionTransformer({
      ...(fixture.options as VisionTransformerConfig),
      patchEmbedMode: 'conv',
    });
    checkAgainstFixture(fixture, model, (input, options) => model.forward(input, options), 1e-4);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    fixture.dispose();
  });
});

describe('timm state-dict keys and shapes at full size', () => {
  const expected = JSON.parse(
    readFileSync(new URL('timm-state-dict-shapes.json', FIXTURES), 'utf8'),
  ) as Record<string, { numParameters: number; shapes: Record<string, number[]> }>;
  const builders = {
    vit_tiny_patch16_224: vitTinyPatch16_224,
    deit_tiny_distilled_patch16_224: deitTinyDistilledPatch16_224,
  };
  for (const [name, build] of Object.entries(builders)) {
    it(`${name} has timm's keys and shapes (a timm checkpoint loads by key)`, () => {
      const before = tf.memory().numTensors;
      const model = build();
      try {
        expect(model.stateDictShapes()).toEqual(expected[name]!.shapes);
        expect(model.numParameters()).toBe(expected[name]!.numParameters);
        expect(model.numParameters()).toBe(VISION_TRANSFORMER_PRESETS[name]!.numParameters);
      } finally {
        model.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('presets', () => {
  it('counts follow the closed form for every preset (built below for the small ones)', () => {
    for (const [name, preset] of Object.entries(VISION_TRANSFORMER_PRESETS)) {
      const config = preset.config;
      const dim = config.embedDim!;
      const patch = config.patchSize as number;
      const grid = (config.imgSize as number) / patch;
      const distill = config.distilled ? 1 : 0;
      const classes = config.numClasses!;
      const expected =
        config.inChans! * patch * patch * dim +
        dim +
        dim * (1 + distill) +
        (grid * grid + 1 + distill) * dim +
        config.depth! * blockParameters(dim, Math.floor(dim * (config.mlpRatio ?? 4))) +
        2 * dim +
        (dim * classes + classes) * (1 + distill);
      expect(preset.numParameters, name).toBe(expected);
    }
  });

  // Built here: vit_tiny_patch16_224 and deit_tiny_distilled_patch16_224 (key test above) and
  // vit_fashion_mnist. ViT-S/B and DeiT-S/B take seconds each to initialise in JavaScript: their
  // counts are checked by the closed form above (which reproduces timm's published counts).
  it('DeiT presets without distillation are the ViT modules', () => {
    expect(VISION_TRANSFORMER_PRESETS.deit_tiny_patch16_224!.config).toEqual(
      VISION_TRANSFORMER_PRESETS.vit_tiny_patch16_224!.config,
    );
    expect(VISION_TRANSFORMER_PRESETS.deit_base_patch16_224!.config).toEqual(
      VISION_TRANSFORMER_PRESETS.vit_base_patch16_224!.config,
    );
  });

  it('vit_fashion_mnist has 805,130 parameters and builders take overrides', () => {
    const model = vitFashionMnist();
    expect(model.numParameters()).toBe(805_130);
    expect(model.numClasses).toBe(10);
    model.dispose();
    const other = vitFashionMnist({ numClasses: 3, inChans: 3, imgSize: 32, embedDim: undefined });
    expect(other.embedDim).toBe(128);
    expect(other.numClasses).toBe(3);
    expect(other.patchEmbed.numPatches).toBe(64);
    other.dispose();
  });

  it('pretrained configs: ViT uses the inception mean/std, DeiT ImageNet', () => {
    expect(VISION_TRANSFORMER_PRETRAINED.vit_base_patch16_224!.mean).toEqual([0.5, 0.5, 0.5]);
    expect(VISION_TRANSFORMER_PRETRAINED.deit_small_distilled_patch16_224!.std).toEqual([
      0.229, 0.224, 0.225,
    ]);
    for (const name of Object.keys(VISION_TRANSFORMER_PRETRAINED))
      expect(VISION_TRANSFORMER_PRESETS[name]).toBeDefined();
  });

  it('registers every preset with createModel', () => {
    registerVisionTransformerModels();
    try {
      expect(listModels('deit_*')).toContain('deit_tiny_distilled_patch16_224');
      const model = createModel<VisionTransformer>('vit_fashion_mnist', { numClasses: 4, depth: 1 });
      expect(model.numClasses).toBe(4);
      expect(model.depth).toBe(1);
      model.dispose();
    } finally {
      for (const name of Object.keys(VISION_TRANSFORMER_PRESETS)) unregisterModel(name);
    }
  });
});

runModelSuite({
  name: 'vit_tiny_config',
  create: () => new VisionTransformer({ ...TINY, dropPathRate: 0.1, dropRate: 0.1, attnDropRate: 0.1 }),
  inputShape: [8, 8, 2],
  numParameters: 2 * 16 * 8 + 8 + 8 + 5 * 8 + 2 * blockParameters(8, 16) + 2 * 8 + 8 * 3 + 3,
});

runModelSuite({
  name: 'deit_distilled_tiny_config',
  create: () => new VisionTransformer({ ...TINY, distilled: true, initValues: 1e-2, qkNorm: true }),
  inputShape: [8, 8, 2],
  numParameters:
    2 * 16 * 8 +
    8 +
    2 * 8 +
    6 * 8 +
    2 * (blockParameters(8, 16) + 2 * 8 + 2 * 2 * 4) +
    2 * 8 +
    2 * (8 * 3 + 3),
});

describe('behaviour', () => {
  it('rejects bad configs before creating any variable, naming the problem', () => {
    const before = tf.memory().numTensors;
    expect(() => new VisionTransformer({ ...TINY, numHeads: 3 })).toThrow(
      /numHeads \(3\) must .* embedDim \(8\)/,
    );
    expect(() => new VisionTransformer({ ...TINY, imgSize: 10 })).toThrow(/not divisible by patchSize/);
    expect(() => new VisionTransformer({ ...TINY, distilled: true, globalPool: 'avg' })).toThrow(
      /distilled needs globalPool 'token'/,
    );
    expect(() => new VisionTransformer({ ...TINY, classToken: false })).toThrow(
      /'token' needs the class token/,
    );
    expect(() => new VisionTransformer({ ...TINY, distilled: true, fcNorm: true })).toThrow(
      /fcNorm must be off/,
    );
    expect(() => new VisionTransformer({ ...TINY, dropPathRate: 1 })).toThrow(
      /dropPathRate must be in \[0, 1\)/,
    );
    expect(
      () =>
        new VisionTransformer({
          ...TINY,
          attention: { type: 'no-such' } as unknown as VisionTransformerConfig['attention'],
        }),
    ).toThrow(/unknown attention type/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects input of the wrong shape with the module path', () => {
    const model = new VisionTransformer(TINY);
    expect(() => model.forward(tf.zeros([1, 8, 8, 3]))).toThrow(
      /VisionTransformer: expected input \[B, 8, 8, 2\], got \[1, 8, 8, 3\]/,
    );
    model.dispose();
  });

  it('the attention option changes score normalisation and keeps timm keys', () => {
    manualSeed(3);
    const softmax = new VisionTransformer(TINY);
    manualSeed(3);
    const sigmoid = new VisionTransformer({ ...TINY, attention: { scoreNorm: 'sigmoid' } });
    expect(Object.keys(sigmoid.stateDictShapes())).toEqual(Object.keys(softmax.stateDictShapes()));
    const input = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 4);
    const difference = expectNoLeak(() =>
      tf.tidy(() => tf.max(tf.abs(tf.sub(softmax.forward(input), sigmoid.forward(input)))).dataSync()[0]!),
    );
    expect(difference).toBeGreaterThan(1e-6);
    tf.dispose([input]);
    softmax.dispose();
    sigmoid.dispose();
  });

  it('timm init: Linear trunc-normal std 0.02 with zero bias, cls token ~1e-6, LayerScale gamma = initValues', () => {
    manualSeed(0);
    const model = new VisionTransformer({ ...TINY, embedDim: 64, numHeads: 4, depth: 1, initValues: 1e-5 });
    const parameters = model.namedParameters();
    const stats = (name: string) => {
      const values = parameters.get(name)!.dataSync();
      let sum = 0;
      let squares = 0;
      for (const value of values) {
        sum += value;
        squares += value * value;
      }
      const mean = sum / values.length;
      return {
        mean,
        std: Math.sqrt(squares / values.length - mean * mean),
        max: Math.max(...values.map(Math.abs)),
      };
    };
    expect(stats('blocks.0.attn.qkv.weight').std).toBeCloseTo(0.02, 2);
    expect(stats('blocks.0.mlp.fc1.weight').std).toBeCloseTo(0.02, 2);
    expect(stats('blocks.0.attn.qkv.bias').max).toBe(0);
    expect(stats('head.bias').max).toBe(0);
    expect(stats('cls_token').max).toBeLessThan(1e-5);
    expect(stats('pos_embed').std).toBeCloseTo(0.02, 2);
    expect(stats('blocks.0.ls1.gamma').mean).toBeCloseTo(1e-5, 10);
    model.dispose();
  });

  it('forwardIntermediates: NHWC grids or NLC tokens of the chosen blocks, optionally normalised', () => {
    const model = new VisionTransformer({ ...TINY, depth: 3, regTokens: 1 });
    const input = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 5);
    expectNoLeak(() =>
      tf.tidy(() => {
        const grids = model.forwardIntermediates(input, { indices: [0, -1] });
        expect(grids.map((grid) => grid.shape)).toEqual([
          [2, 2, 2, 8],
          [2, 2, 2, 8],
        ]);
        const tokens = model.forwardIntermediates(input, { indices: 1, outputFormat: 'NLC', norm: true });
        expect(tokens.map((token) => token.shape)).toEqual([[2, 4, 8]]);
        // the last block's normalised patch tokens are forwardFeatures without the prefix tokens
        const features = model.forwardFeatures(input);
        const patches = tf.slice(features, [0, 2, 0], [2, 4, 8]);
        expect(tf.max(tf.abs(tf.sub(patches, tokens[0]!))).dataSync()[0]).toBeLessThan(1e-6);
      }),
    );
    expect(() => model.forwardIntermediates(input, { indices: [5] })).toThrow(/out of range/);
    input.dispose();
    model.dispose();
  });

  it('DeiT distilled: forward is the mean of forwardDistillation, in inference and training', () => {
    const model = new VisionTransformer({ ...TINY, distilled: true });
    const input = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 6);
    expectNoLeak(() =>
      tf.tidy(() => {
        for (const training of [false, true]) {
          const [token, distillation] = model.forwardDistillation(input, { training });
          const output = model.forward(input, { training });
          const mean = tf.div(tf.add(token, distillation), 2);
          expect(tf.max(tf.abs(tf.sub(output, mean))).dataSync()[0]).toBeLessThan(1e-6);
          expect(tf.max(tf.abs(tf.sub(token, distillation))).dataSync()[0]).toBeGreaterThan(1e-4);
        }
      }),
    );
    model.resetClassifier(5);
    expect(Object.keys(model.stateDictShapes()).filter((key) => key.startsWith('head'))).toEqual([
      'head.weight',
      'head.bias',
      'head_dist.weight',
      'head_dist.bias',
    ]);
    expect(model.stateDictShapes()['head_dist.weight']).toEqual([5, 8]);
    const plain = new VisionTransformer(TINY);
    expect(() => plain.forwardDistillation(input)).toThrow(/needs a distilled model/);
    plain.dispose();
    input.dispose();
    model.dispose();
  });

  it('stochastic parts act only in training', () => {
    const model = new VisionTransformer({ ...TINY, dropPathRate: 0.5, posDropRate: 0.5, dropRate: 0.5 });
    const input = tf.randomNormal([4, 8, 8, 2], 0, 1, 'float32', 7);
    expectNoLeak(() =>
      tf.tidy(() => {
        const first = model.forward(input);
        const second = model.forward(input);
        expect(tf.max(tf.abs(tf.sub(first, second))).dataSync()[0]).toBe(0);
        const trained = model.forward(input, { training: true });
        expect(tf.max(tf.abs(tf.sub(first, trained))).dataSync()[0]).toBeGreaterThan(0);
      }),
    );
    input.dispose();
    model.dispose();
  });
});
