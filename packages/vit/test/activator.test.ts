// Activator: the model suite on a tiny config, preset parameter counts, golden fixtures from a PyTorch
// re-creation of Abdullah-88/Activator (tools/fixtures/reduced_transformers.py), options and errors.
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  ACTIVATOR_PRESETS,
  Activator,
  type ActivatorConfig,
  activatorCifar10,
  activatorFashionMnist,
} from '../src/activator.js';

const FIXTURES = new URL('../fixtures/activator/', import.meta.url);

/** Closed form: patcher + depth x (shared norm, three projections, hidden norm, FFN) + classifier. */
function activatorCount(config: {
  patch: number;
  chans: number;
  dim: number;
  hidden: number;
  depth: number;
  classes: number;
  ffn: boolean;
}): number {
  const { patch, chans, dim, hidden, depth, classes, ffn } = config;
  const gating = 2 * (dim * hidden + hidden) + (hidden * dim + dim) + 2 * hidden;
  const feedForward = ffn ? dim * hidden + hidden + hidden * dim + dim : 0;
  return (
    chans * patch * patch * dim + dim + depth * (2 * dim + gating + feedForward) + dim * classes + classes
  );
}

const TINY: ActivatorConfig = {
  imgSize: 8,
  patchSize: 2,
  inChans: 2,
  numClasses: 3,
  embedDim: 8,
  hiddenDim: 12,
  depth: 2,
  dropRate: 0.2,
};

runModelSuite({
  name: 'activator_tiny',
  create: () => new Activator(TINY),
  inputShape: [8, 8, 2],
  numParameters: activatorCount({ patch: 2, chans: 2, dim: 8, hidden: 12, depth: 2, classes: 3, ffn: true }),
});

runModelSuite({
  name: 'activator_tiny_only_gating',
  create: () => new Activator({ ...TINY, ffn: false, gateActivation: 'silu' }),
  inputShape: [8, 8, 2],
  numParameters: activatorCount({ patch: 2, chans: 2, dim: 8, hidden: 12, depth: 2, classes: 3, ffn: false }),
});

describe('Activator presets', () => {
  it('every preset builds with its exact parameter count', () => {
    const before = tf.memory().numTensors;
    for (const [name, preset] of Object.entries(ACTIVATOR_PRESETS)) {
      const model = new Activator(preset.config);
      expect(model.numParameters(), name).toBe(preset.numParameters);
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('counts match the closed form (train.py CIFAR-10 config: 2,650,890)', () => {
    expect(ACTIVATOR_PRESETS.activator_cifar10!.numParameters).toBe(
      activatorCount({ patch: 4, chans: 3, dim: 256, hidden: 512, depth: 4, classes: 10, ffn: true }),
    );
    expect(ACTIVATOR_PRESETS.activator_only_geglu_cifar10!.numParameters).toBe(
      activatorCount({ patch: 4, chans: 3, dim: 256, hidden: 512, depth: 4, classes: 10, ffn: false }),
    );
  });

  it('builders take overrides and the fashion-MNIST preset fits 28x28x1', () => {
    const model = activatorCifar10({ numClasses: 100, depth: 1 });
    expect(model.numClasses).toBe(100);
    expect(model.model.length).toBe(1);
    model.dispose();
    const small = activatorFashionMnist();
    expect(small.config.imgSize).toEqual([28, 28]);
    tf.tidy(() => {
      expect(small.forward(tf.zeros([1, 28, 28, 1])).shape).toEqual([1, 10]);
    });
    small.dispose();
  });

  it('uses the reference state-dict keys', () => {
    const model = new Activator({ ...TINY, depth: 1 });
    expect(Object.keys(model.stateDictShapes())).toEqual([
      'patcher.weight',
      'patcher.bias',
      'model.0.norm.weight',
      'model.0.norm.bias',
      'model.0.actgu.proj_1.weight',
      'model.0.actgu.proj_1.bias',
      'model.0.actgu.proj_2.weight',
      'model.0.actgu.proj_2.bias',
      'model.0.actgu.proj_3.weight',
      'model.0.actgu.proj_3.bias',
      'model.0.actgu.norm.weight',
      'model.0.actgu.norm.bias',
      'model.0.ffn.net.0.weight',
      'model.0.ffn.net.0.bias',
      'model.0.ffn.net.3.weight',
      'model.0.ffn.net.3.bias',
      'classifier.weight',
      'classifier.bias',
    ]);
    model.dispose();
  });
});

describe('Activator golden fixtures (PyTorch re-creation of Abdullah-88/Activator)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => expect(names.length).toBeGreaterThanOrEqual(2));
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new Activator(fixture.options as ActivatorConfig);
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

describe('Activator behaviour', () => {
  it('mixes no tokens: changing one patch changes only that token', () => {
    const model = new Activator({ ...TINY, dropRate: 0 });
    tf.tidy(() => {
      const input = tf.randomNormal([1, 8, 8, 2], 0, 1, 'float32', 1);
      const changed = tf.add(
        input,
        tf.pad(tf.ones([1, 2, 2, 2]), [
          [0, 0],
          [6, 0],
          [6, 0],
          [0, 0],
        ]),
      );
      const difference = tf.sum(
        tf.abs(tf.sub(model.forwardFeatures(input), model.forwardFeatures(changed))),
        2,
      );
      const values = Array.from(difference.dataSync());
      expect(values.slice(0, 15).every((value) => value === 0)).toBe(true);
      expect(values[15]!).toBeGreaterThan(0);
    });
    model.dispose();
  });

  it('forwardIntermediates returns token maps', () => {
    const model = new Activator(TINY);
    tf.tidy(() => {
      const maps = model.forwardIntermediates(tf.zeros([2, 8, 8, 2]), { indices: [0, -1] });
      expect(maps.map((map) => map.shape)).toEqual([
        [2, 4, 4, 8],
        [2, 4, 4, 8],
      ]);
    });
    model.dispose();
  });

  it('rejects bad configs before creating variables, naming each problem', () => {
    const before = tf.memory().numTensors;
    expect(() => new Activator({ imgSize: 30, patchSize: 4 })).toThrow(
      /Activator: imgSize \[30, 30\] is not divisible by patchSize 4/,
    );
    expect(() => new Activator({ dropRate: 1, depth: 0 })).toThrow(
      /depth must be a positive integer.*dropRate/,
    );
    expect(() => new Activator({ gateActivation: 'tanh' as never })).toThrow(/gateActivation/);
    expect(tf.memory().numTensors).toBe(before);
    const model = new Activator(TINY);
    expect(() => model.forward(tf.zeros([1, 8, 8, 3]))).toThrow(/expected input \[B, 8, 8, 2\]/);
    model.dispose();
  });
});
