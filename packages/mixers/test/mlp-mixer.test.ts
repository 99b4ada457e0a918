// MLP-Mixer: the model suite on a tiny config, preset parameter counts, timm key names at full size,
// golden fixtures from PyTorch (tools/fixtures/mixers_timm.py), options and errors.
import { readFileSync } from 'node:fs';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { MLP_MIXER_PRESETS, MlpMixer, type MlpMixerConfig, mixerFashionMnist } from '../src/mlp-mixer.js';

const FIXTURES = new URL('../fixtures/mlp-mixer/', import.meta.url);

/** The Mixer closed form (notes/refs/vision.md section 0), with Dt = floor(r_t C), Dc = floor(r_c C). */
function mixerCount(options: {
  inChans: number;
  patch: number;
  tokens: number;
  dim: number;
  blocks: number;
  ratio: [number, number];
  classes: number;
}): number {
  const { inChans, patch, tokens: n, dim: c, blocks, ratio, classes } = options;
  const dt = Math.floor(ratio[0] * c);
  const dc = Math.floor(ratio[1] * c);
  const block = 4 * c + (n * dt + dt) + (dt * n + n) + (c * dc + dc) + (dc * c + c);
  return inChans * patch * patch * c + c + blocks * block + 2 * c + (classes > 0 ? c * classes + classes : 0);
}

const TINY: MlpMixerConfig = {
  imgSize: 8,
  patchSize: 2,
  inChans: 3,
  numClasses: 5,
  embedDim: 8,
  numBlocks: 2,
  dropRate: 0.1,
  dropPathRate: 0.1,
};

runModelSuite({
  name: 'mixer_tiny',
  create: () => new MlpMixer(TINY),
  inputShape: [8, 8, 3],
  numParameters: mixerCount({
    inChans: 3,
    patch: 2,
    tokens: 16,
    dim: 8,
    blocks: 2,
    ratio: [0.5, 4],
    classes: 5,
  }),
});

describe('MlpMixer presets', () => {
  // S/16 and S/32 (18-19M parameters) take seconds each to build on cpu: their counts are checked by
  // the closed form below; B/16 is built once, for its keys.
  it('the fashion-MNIST preset has the parameter count it states', () => {
    for (const name of ['mixer_fashion_mnist']) {
      const model = new MlpMixer(MLP_MIXER_PRESETS[name]!.config);
      expect(model.numParameters(), name).toBe(MLP_MIXER_PRESETS[name]!.numParameters);
      model.dispose();
    }
  });

  it('every preset count equals the closed form', () => {
    for (const [name, preset] of Object.entries(MLP_MIXER_PRESETS)) {
      const config = preset.config;
      const size = config.imgSize as number;
      const patch = config.patchSize!;
      const ratio = config.mlpRatio as [number, number];
      const expected = mixerCount({
        inChans: config.inChans!,
        patch,
        tokens: (size / patch) ** 2,
        dim: config.embedDim!,
        blocks: config.numBlocks!,
        ratio,
        classes: config.numClasses!,
      });
      expect(preset.numParameters, name).toBe(expected);
    }
  });

  it('mixer_b16_224 has timm keys and shapes (from the PyTorch re-creation) and its stated count', () => {
    const reference = JSON.parse(readFileSync(new URL('mixer_b16_224.keys.json', FIXTURES), 'utf8')) as {
      numParameters: number;
      shapes: Record<string, number[]>;
    };
    const before = tf.memory().numTensors;
    const model = new MlpMixer(MLP_MIXER_PRESETS.mixer_b16_224!.config);
    try {
      expect(model.stateDictShapes()).toEqual(reference.shapes);
      expect(model.numParameters()).toBe(reference.numParameters);
      expect(model.numParameters()).toBe(MLP_MIXER_PRESETS.mixer_b16_224!.numParameters);
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('MlpMixer golden fixtures (timm re-created in PyTorch)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => expect(names.length).toBeGreaterThanOrEqual(2));
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      for (const stemMode of ['linear', 'conv'] as const) {
        if (stemMode === 'conv' && tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) == null) continue;
        const model = new MlpMixer({ ...(fixture.options as MlpMixerConfig), stemMode });
        try {
          checkAgainstFixture(fixture, model, (input, options) => model.forward(input, options), 1e-4);
        } finally {
          model.dispose();
        }
      }
      fixture.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('MlpMixer behaviour', () => {
  it('initialises as timm: zero head, xavier weights, tiny MLP biases', () => {
    const model = new MlpMixer(TINY);
    const state = model.stateDict();
    try {
      expect(tf.max(tf.abs(state['head.weight']!)).dataSync()[0]).toBe(0);
      const fc1 = state['blocks.0.mlp_channels.fc1.weight']!;
      const bound = Math.sqrt(6 / (8 + 32));
      expect(tf.max(tf.abs(fc1)).dataSync()[0]).toBeLessThanOrEqual(bound);
      expect(tf.max(tf.abs(state['blocks.0.mlp_tokens.fc1.bias']!)).dataSync()[0]).toBeLessThan(1e-4);
      expect(tf.max(tf.abs(state['blocks.0.norm1.weight']!)).dataSync()[0]).toBe(1);
    } finally {
      tf.dispose(Object.values(state));
      model.dispose();
    }
  });

  it('forwardIntermediates gives NHWC grids of the chosen blocks', () => {
    const model = new MlpMixer({ ...TINY, imgSize: [8, 12], numBlocks: 3 });
    const input = tf.randomNormal([2, 8, 12, 3]);
    const all = model.forwardIntermediates(input);
    expect(all.map((t) => t.shape)).toEqual([
      [2, 4, 6, 8],
      [2, 4, 6, 8],
      [2, 4, 6, 8],
    ]);
    const [last] = model.forwardIntermediates(input, { indices: [-1] });
    expect(tf.max(tf.abs(tf.sub(last!, all[2]!))).dataSync()[0]).toBe(0);
    tf.dispose([input, last!, ...all]);
    model.dispose();
  });

  it('the fashion-MNIST preset takes 28x28x1 images and accepts overrides', () => {
    const model = mixerFashionMnist({ numClasses: 3 });
    const logits = model.forward(tf.zeros([2, 28, 28, 1]));
    expect(logits.shape).toEqual([2, 3]);
    logits.dispose();
    model.dispose();
  });

  it('rejects bad configs before creating variables, naming the problem', () => {
    const before = tf.memory().numTensors;
    expect(() => new MlpMixer({ imgSize: 30, patchSize: 16 })).toThrow(
      /MlpMixer: imgSize 30 is not divisible by patchSize 16/,
    );
    expect(() => new MlpMixer({ embedDim: 1, mlpRatio: [0.5, 4] })).toThrow(/mlpRatio/);
    expect(() => new MlpMixer({ dropRate: 1 })).toThrow(/dropRate must be in \[0, 1\)/);
    expect(() => new MlpMixer({ numClasses: -1 })).toThrow(/numClasses/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('says where and what on a wrong input shape', () => {
    const model = new MlpMixer(TINY);
    const input = tf.zeros([1, 8, 8, 1]);
    expect(() => model.forward(input)).toThrow('stem: expected input [B, 8, 8, 3], got [1, 8, 8, 1]');
    const tokens = tf.zeros([1, 15, 8]);
    expect(() => model.blocks.at(0).forward(tokens)).toThrow(
      'blocks.0: expected input [B, 16, 8], got [1, 15, 8]',
    );
    tf.dispose([input, tokens]);
    model.dispose();
  });
});
