// Deep MLP (Scaling MLPs' BottleneckMLP): the model suite on a tiny config, preset parameter counts,
// a golden fixture from the reference re-created in PyTorch (tools/fixtures/mixers_mlps.py), flatten
// order, errors.

import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { DEEP_MLP_PRESETS, DeepMlp, type DeepMlpConfig } from '../src/deep-mlp.js';

const FIXTURES = new URL('../fixtures/deep-mlp/', import.meta.url);

/** linear_in + blocks of (LayerNorm, Linear(w, e w), Linear(e w, w)) + linear_out. */
function deepMlpCount(
  inputs: number,
  width: number,
  blocks: number,
  expansion: number,
  classes: number,
): number {
  const wide = expansion * width;
  const block = 2 * width + (width * wide + wide) + (wide * width + width);
  return inputs * width + width + blocks * block + width * classes + classes;
}

const TINY: DeepMlpConfig = {
  imgSize: 6,
  inChans: 2,
  numClasses: 4,
  numBlocks: 2,
  width: 8,
  expansionFactor: 2,
};

runModelSuite({
  name: 'deep_mlp_tiny',
  create: () => new DeepMlp(TINY),
  inputShape: [6, 6, 2],
  numParameters: deepMlpCount(72, 8, 2, 2, 4),
});

describe('DeepMlp presets', () => {
  it('every preset has the parameter count it states (built: the fashion-MNIST and B_6-Wi_512 presets)', () => {
    for (const [name, preset] of Object.entries(DEEP_MLP_PRESETS)) {
      const config = preset.config;
      const size = config.imgSize as number;
      const expected = deepMlpCount(
        size * size * config.inChans!,
        config.width!,
        config.numBlocks!,
        config.expansionFactor!,
        config.numClasses!,
      );
      expect(preset.numParameters, name).toBe(expected);
    }
    // the released B_12-Wi_1024 (124.8M) is too big to build in a unit test; its count is checked above
    // against the closed form and was computed by the PyTorch re-creation (tools/fixtures/mixers_mlps.py)
    for (const name of ['deep_mlp_fashion_mnist', 'deep_mlp_b6_wi512_in21k']) {
      const model = new DeepMlp(DEEP_MLP_PRESETS[name]!.config);
      expect(model.numParameters(), name).toBe(DEEP_MLP_PRESETS[name]!.numParameters);
      model.dispose();
    }
  });

  it("uses the reference's key names", () => {
    const model = new DeepMlp(TINY);
    expect(Object.keys(model.stateDictShapes())).toEqual([
      'linear_in.weight',
      'linear_in.bias',
      'linear_out.weight',
      'linear_out.bias',
      'blocks.0.block.0.weight',
      'blocks.0.block.0.bias',
      'blocks.0.block.2.weight',
      'blocks.0.block.2.bias',
      'blocks.1.block.0.weight',
      'blocks.1.block.0.bias',
      'blocks.1.block.2.weight',
      'blocks.1.block.2.bias',
      'layernorms.0.weight',
      'layernorms.0.bias',
      'layernorms.1.weight',
      'layernorms.1.bias',
    ]);
    model.dispose();
  });
});

describe('DeepMlp golden fixtures (scaling_mlps re-created in PyTorch)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => expect(names.length).toBeGreaterThanOrEqual(1));
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new DeepMlp(fixture.options as DeepMlpConfig);
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

describe('DeepMlp behaviour', () => {
  it("'hwc' flattening equals 'chw' flattening of the channel-transposed image", () => {
    const chw = new DeepMlp(TINY);
    const hwc = new DeepMlp({ ...TINY, flattenOrder: 'hwc' });
    const state = chw.stateDict();
    hwc.loadStateDict(state);
    tf.tidy(() => {
      const image = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 5);
      // permuting the input weights' rows from (c, h, w) to (h, w, c) order makes the models agree
      const weight = state['linear_in.weight']!; // [width, c * h * w]
      const permuted = tf.reshape(tf.transpose(tf.reshape(weight, [8, 2, 6, 6]), [0, 2, 3, 1]), [8, 72]);
      hwc.loadStateDict({ ...state, 'linear_in.weight': permuted });
      const difference = tf.max(tf.abs(tf.sub(chw.forward(image), hwc.forward(image)))).dataSync()[0]!;
      expect(difference).toBeLessThan(1e-5);
    });
    tf.dispose(Object.values(state));
    chw.dispose();
    hwc.dispose();
  });

  it('forwardIntermediates returns the residual stream after each chosen block', () => {
    const model = new DeepMlp({ ...TINY, numBlocks: 3 });
    const input = tf.randomNormal([2, 6, 6, 2]);
    const outputs = model.forwardIntermediates(input, { indices: [0, -1] });
    expect(outputs.map((output) => output.shape)).toEqual([
      [2, 8],
      [2, 8],
    ]);
    const features = model.forwardFeatures(input);
    expect(tf.max(tf.abs(tf.sub(features, outputs[1]!))).dataSync()[0]).toBe(0);
    tf.dispose([input, features, ...outputs]);
    model.dispose();
  });

  it('rejects bad configs before creating variables', () => {
    const before = tf.memory().numTensors;
    expect(() => new DeepMlp({ width: 0 })).toThrow(/DeepMlp: width must be a positive integer, got 0/);
    expect(() => new DeepMlp({ flattenOrder: 'whc' as 'chw' })).toThrow(/flattenOrder/);
    expect(() => new DeepMlp({ numBlocks: 0 })).toThrow(/numBlocks/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
