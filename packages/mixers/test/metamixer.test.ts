// MetaMixer / FFNet: the shared model suite on a tiny config, preset parameter counts, golden fixtures
// from the PyTorch re-creation of ysj9909/FFNet (tools/fixtures/metamixer.py), and config errors.
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FFBlock, FFNET_PRESETS, FFNet, type FFNetConfig, ffnetFashionMnist } from '../src/metamixer.js';

const FIXTURES = new URL('../fixtures/metamixer/', import.meta.url);

const tiny: FFNetConfig = {
  imgSize: 16,
  inChans: 2,
  numClasses: 3,
  inDim: 4,
  embedDim: [4, 8],
  depth: [1, 1],
  kernelSizes: [3, 7],
  kernelSizes1: [3, 7],
  kernelSizes2: [7, 3],
  expansionRatios: [2, 2],
  useLayerScale: true,
  dropPathRate: 0.1,
};

runModelSuite({
  name: 'ffnet_tiny',
  create: () => new FFNet(tiny),
  inputShape: [16, 16, 2],
  // from the PyTorch re-creation (tools/fixtures/metamixer.py, FFNet with the same config)
  numParameters: 2_739,
});

describe('FFNet presets', () => {
  it('parameter counts equal the models built from the presets', () => {
    // A model's count is its block-free skeleton plus its blocks; each distinct block is built once.
    const before = tf.memory().numTensors;
    for (const [name, preset] of Object.entries(FFNET_PRESETS)) {
      const config = preset.config;
      const depth = config.depth!;
      const skeleton = new FFNet({ ...config, depth: depth.map(() => 0) });
      let total = skeleton.numParameters();
      skeleton.dispose();
      depth.forEach((count, stage) => {
        const block = new FFBlock({
          dim: config.embedDim![stage]!,
          kernelSize: config.kernelSizes![stage]!,
          kernelSize1: config.kernelSizes1![stage]!,
          kernelSize2: config.kernelSizes2![stage]!,
          expansionRatio: config.expansionRatios![stage]!,
          useLayerScale: config.useLayerScale ?? false,
          layerScaleInitValue: 1e-6,
          dropPathRate: 0,
        });
        total += count * block.numParameters();
        block.dispose();
      });
      expect(total, name).toBe(preset.numParameters);
    }
    const full = ffnetFashionMnist();
    expect(full.numParameters()).toBe(FFNET_PRESETS.ffnet_fashion_mnist!.numParameters);
    full.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the fashion-mnist preset classifies 28x28x1 images; forwardIntermediates returns each stage', () => {
    const before = tf.memory().numTensors;
    const model = ffnetFashionMnist();
    const input = tf.randomNormal([2, 28, 28, 1]);
    const logits = model.forward(input);
    expect(logits.shape).toEqual([2, 10]);
    const stages = model.forwardIntermediates(input);
    expect(stages.map((stage) => stage.shape)).toEqual([
      [2, 7, 7, 32],
      [2, 4, 4, 64],
      [2, 2, 2, 128],
    ]);
    expect(model.featureSizes()).toEqual([
      [7, 7],
      [4, 4],
      [2, 2],
    ]);
    tf.dispose([input, logits, ...stages]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('FFNet golden fixtures (PyTorch re-creation of ysj9909/FFNet)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => {
    expect(names.length).toBeGreaterThan(0);
  });
  for (const name of names) {
    it(name, () => {
      const fixture = loadFixture(FIXTURES, name);
      const before = tf.memory().numTensors;
      const model = new FFNet(fixture.options as FFNetConfig);
      checkAgainstFixture(fixture, model, (input, options) => model.forward(input, options), 1e-4);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
      fixture.dispose();
    });
  }
});

describe('FFNet config errors', () => {
  const cases: Array<[string, FFNetConfig, RegExp]> = [
    [
      'per-stage list of the wrong length',
      { kernelSizes: [3, 3] },
      /kernelSizes needs one value per stage \(4\)/,
    ],
    ['even kernel', { kernelSizes1: [3, 4, 7, 7] }, /kernelSizes1 must be odd/],
    [
      'stage width not a multiple of the previous',
      { embedDim: [80, 120, 320, 640] },
      /embedDim\[1\] \(120\) must be a multiple of embedDim\[0\] \(80\)/,
    ],
    ['bad drop path', { dropPathRate: 1 }, /dropPathRate must be in \[0, 1\)/],
  ];
  for (const [title, config, message] of cases) {
    it(title, () => {
      const before = tf.memory().numTensors;
      expect(() => new FFNet(config)).toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
