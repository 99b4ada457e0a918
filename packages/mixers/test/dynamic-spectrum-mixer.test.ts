// Dynamic Spectrum Mixer (mlzoo interpretation): the shared model suite on a tiny config, the preset
// count, the DCT basis, a golden fixture from an independent PyTorch implementation
// (tools/fixtures/dynamic_spectrum_mixer.py), and config errors.
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  DYNAMIC_SPECTRUM_MIXER_PRESETS,
  DynamicSpectrumMixer,
  type DynamicSpectrumMixerConfig,
  dctBasis,
  dynamicSpectrumMixerFashionMnist,
} from '../src/dynamic-spectrum-mixer.js';

const FIXTURES = new URL('../fixtures/dynamic-spectrum-mixer/', import.meta.url);

const tiny: DynamicSpectrumMixerConfig = {
  imgSize: [8, 12],
  inChans: 2,
  numClasses: 3,
  patchSize: 2,
  embedDims: [8, 12],
  depths: [1, 1],
  numFilters: 2,
  mlpRatio: 2,
  dropPathRate: 0.1,
};

runModelSuite({
  name: 'dynamic_spectrum_mixer_tiny',
  create: () => new DynamicSpectrumMixer(tiny),
  inputShape: [8, 12, 2],
  // from the PyTorch implementation (tools/fixtures/dynamic_spectrum_mixer.py) with the same config
  numParameters: 2_713,
});

describe('Dynamic Spectrum Mixer', () => {
  it('the DCT-II basis is orthonormal and its first rows are the constant and the half cosine', async () => {
    const before = tf.memory().numTensors;
    const basis = dctBasis(4);
    const error = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.matMul(basis, basis, false, true), tf.eye(4)))));
    expect((await error.data())[0]).toBeLessThan(1e-6);
    const values = await basis.data();
    expect(values[0]).toBeCloseTo(0.5, 6);
    expect(values[4]).toBeCloseTo(Math.SQRT1_2 * Math.cos(Math.PI / 8), 6);
    tf.dispose([basis, error]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the fashion-mnist preset has its parameter count and classifies 28x28x1 images', () => {
    const before = tf.memory().numTensors;
    const model = dynamicSpectrumMixerFashionMnist();
    const preset = DYNAMIC_SPECTRUM_MIXER_PRESETS.dynamic_spectrum_mixer_fashion_mnist!;
    expect(model.numParameters()).toBe(preset.numParameters);
    // the DCT bases are buffers outside the state dict
    expect(Object.keys(model.stateDictShapes()).some((key) => key.includes('dct'))).toBe(false);
    const input = tf.randomNormal([2, 28, 28, 1]);
    const stages = model.forwardIntermediates(input);
    expect(stages.map((stage) => stage.shape)).toEqual([
      [2, 14, 14, 48],
      [2, 7, 7, 96],
    ]);
    const logits = model.forward(input);
    expect(logits.shape).toEqual([2, 10]);
    tf.dispose([input, logits, ...stages]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  const names = fixtureNames(FIXTURES);
  for (const name of names) {
    it(`golden fixture ${name}`, () => {
      const fixture = loadFixture(FIXTURES, name);
      const before = tf.memory().numTensors;
      const model = new DynamicSpectrumMixer(fixture.options as DynamicSpectrumMixerConfig);
      checkAgainstFixture(fixture, model, (input, options) => model.forward(input, options), 1e-4);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
      fixture.dispose();
    });
  }

  const cases: Array<[string, DynamicSpectrumMixerConfig, RegExp]> = [
    [
      'image not divisible',
      { imgSize: 28, patchSize: 4 },
      /must be divisible by patchSize \* 2\^\(stages - 1\) = 32/,
    ],
    ['mismatched stage lists', { embedDims: [8, 16], depths: [1] }, /need one entry per stage/],
    ['bad filter count', { numFilters: 0 }, /numFilters must be a positive integer/],
  ];
  for (const [title, config, message] of cases) {
    it(`config error: ${title}`, () => {
      const before = tf.memory().numTensors;
      expect(() => new DynamicSpectrumMixer(config)).toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
