// Strip-MLP: the shared model suite on a tiny config, preset parameter counts, golden fixtures from
// the PyTorch re-creation of Med-Process/Strip_MLP (tools/fixtures/strip_mlp.py), and config errors.
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  STRIP_MLP_PRESETS,
  StripMLPNet,
  StripMlpBasicBlock,
  StripMlpBlock,
  type StripMlpConfig,
  stripGroups,
  stripMlpFashionMnist,
} from '../src/strip-mlp.js';

const FIXTURES = new URL('../fixtures/strip-mlp/', import.meta.url);

const tiny: StripMlpConfig = {
  imgSize: 8,
  patchSize: 2,
  inChans: 2,
  numClasses: 3,
  embedDim: 8,
  layers: [1, 1],
};

runModelSuite({
  name: 'strip_mlp_tiny',
  create: () => new StripMLPNet(tiny),
  inputShape: [8, 8, 2],
  // from the PyTorch re-creation (tools/fixtures/strip_mlp.py, StripMLPNet with the same config)
  numParameters: 6_381,
});

describe('Strip-MLP presets', () => {
  it('parameter counts equal the models built from the presets', () => {
    // A model's count is its block-free skeleton plus its blocks; each distinct block (channels,
    // resolution) is built once, so the 18-block ImageNet variants stay fast to check.
    const before = tf.memory().numTensors;
    const blockCounts = new Map<string, number>();
    const blockCount = (channels: number, size: number) => {
      const key = `${channels}@${size}`;
      if (!blockCounts.has(key)) {
        const block = new StripMlpBasicBlock({ channels, size, mlpRatio: 3, dropPathRate: 0 });
        blockCounts.set(key, block.numParameters());
        block.dispose();
      }
      return blockCounts.get(key)!;
    };
    for (const [name, preset] of Object.entries(STRIP_MLP_PRESETS)) {
      const config = preset.config;
      const layers = config.layers!;
      const skeleton = new StripMLPNet({ ...config, layers: layers.map(() => 0) });
      let total = skeleton.numParameters();
      skeleton.dispose();
      const resolution = config.imgSize! / config.patchSize!;
      layers.forEach((depth, stage) => {
        total += depth * blockCount(config.embedDim! * 2 ** stage, resolution / 2 ** stage);
      });
      expect(total, name).toBe(preset.numParameters);
    }
    const full = stripMlpFashionMnist();
    expect(full.numParameters()).toBe(STRIP_MLP_PRESETS.strip_mlp_fashion_mnist!.numParameters);
    full.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the fashion-mnist preset classifies 28x28x1 images; forwardIntermediates returns each stage', () => {
    const before = tf.memory().numTensors;
    const model = stripMlpFashionMnist();
    const input = tf.randomNormal([2, 28, 28, 1]);
    const logits = model.forward(input);
    expect(logits.shape).toEqual([2, 10]);
    const stages = model.forwardIntermediates(input);
    expect(stages.map((stage) => stage.shape)).toEqual([
      [2, 14, 14, 48],
      [2, 7, 7, 96],
    ]);
    tf.dispose([input, logits, ...stages]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('groups strips as the reference: 2 groups when channels % 80 == 0, else 4', () => {
    expect([80, 160, 96, 112, 48].map(stripGroups)).toEqual([2, 2, 4, 4, 4]);
  });
});

describe('Strip-MLP golden fixtures (PyTorch re-creation of Med-Process/Strip_MLP)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => {
    expect(names.length).toBeGreaterThan(0);
  });
  for (const name of names) {
    it(name, () => {
      const fixture = loadFixture(FIXTURES, name);
      const before = tf.memory().numTensors;
      const model =
        fixture.layer === 'StripMlpBlock'
          ? new StripMlpBlock(fixture.options as { channels: number; size: number })
          : new StripMLPNet(fixture.options as StripMlpConfig);
      checkAgainstFixture(
        fixture,
        model,
        (input, options) => (model as StripMLPNet | StripMlpBlock).forward(input, options),
        1e-4,
      );
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
      fixture.dispose();
    });
  }
});

describe('Strip-MLP config errors', () => {
  const cases: Array<[string, StripMlpConfig, RegExp]> = [
    ['channels not divisible into strip groups', { embedDim: 12 }, /stage 1 has 12 channels/],
    ['resolution not divisible for the stages', { imgSize: 28, patchSize: 2 }, /divisible by 8 for 4 stages/],
    ['too many stages', { layers: [1, 1, 1, 1, 1] }, /layers must be 1 to 4/],
    ['bad drop path', { dropPathRate: -0.1 }, /dropPathRate must be in \[0, 1\)/],
  ];
  for (const [title, config, message] of cases) {
    it(title, () => {
      const before = tf.memory().numTensors;
      expect(() => new StripMLPNet(config)).toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
