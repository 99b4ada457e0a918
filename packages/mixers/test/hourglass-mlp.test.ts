// Hourglass MLP: the model suite on a tiny config, the preset count, a golden fixture from a PyTorch
// rendering with the same keys (tools/fixtures/mixers_mlps.py), the fixed random lift, errors.

import { fit } from '@mlzoo/core';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { HOURGLASS_MLP_PRESETS, HourglassMlp, type HourglassMlpConfig } from '../src/hourglass-mlp.js';

const FIXTURES = new URL('../fixtures/hourglass-mlp/', import.meta.url);

/** Trainable parameters: blocks of (LN, down, up) + final LN + head; the lift is a buffer. */
function hourglassCount(wide: number, narrow: number, blocks: number, classes: number): number {
  const block = 2 * wide + (wide * narrow + narrow) + (narrow * wide + wide);
  return blocks * block + 2 * wide + wide * classes + classes;
}

const TINY: HourglassMlpConfig = {
  imgSize: 6,
  inChans: 1,
  numClasses: 4,
  wideDim: 16,
  narrowDim: 4,
  numBlocks: 2,
};

runModelSuite({
  name: 'hourglass_mlp_tiny',
  create: () => new HourglassMlp(TINY),
  inputShape: [6, 6, 1],
  numParameters: hourglassCount(16, 4, 2, 4),
});

describe('HourglassMlp', () => {
  it('the fashion-MNIST preset has the parameter count it states', () => {
    const preset = HOURGLASS_MLP_PRESETS.hourglass_mlp_fashion_mnist!;
    expect(preset.numParameters).toBe(hourglassCount(512, 64, 8, 10));
    const model = new HourglassMlp(preset.config);
    expect(model.numParameters()).toBe(preset.numParameters);
    model.dispose();
  });

  it('keeps the lift as a fixed buffer: saved in the state dict, regenerated from projectionSeed, never trained', async () => {
    const model = new HourglassMlp(TINY);
    const same = new HourglassMlp(TINY);
    const other = new HourglassMlp({ ...TINY, projectionSeed: 1 });
    const lift = () => model.namedBuffers().get('input_proj.weight')!;
    expect(model.namedParameters().has('input_proj.weight')).toBe(false);
    expect(model.stateDictShapes()['input_proj.weight']).toEqual([16, 36]);
    const difference = (a: tf.Tensor, b: tf.Tensor) =>
      tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
    expect(difference(lift(), same.namedBuffers().get('input_proj.weight')!)).toBe(0);
    expect(difference(lift(), other.namedBuffers().get('input_proj.weight')!)).toBeGreaterThan(0);
    const before = tf.clone(lift());
    const images = tf.randomNormal([8, 6, 6, 1], 0, 1, 'float32', 3);
    const labels = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32');
    const downBefore = tf.clone(model.namedParameters().get('blocks.0.down.weight')!);
    const optimizer = tf.train.adam(1e-2);
    await fit(model, { x: images, y: labels }, { optimizer, epochs: 1, batchSize: 4 });
    expect(difference(before, lift())).toBe(0);
    expect(difference(downBefore, model.namedParameters().get('blocks.0.down.weight')!)).toBeGreaterThan(0);
    optimizer.dispose();
    tf.dispose([before, downBefore, images, labels]);
    const trained = new HourglassMlp({ ...TINY, trainInputProjection: true });
    expect(trained.namedParameters().has('input_proj.weight')).toBe(true);
    expect(trained.numParameters()).toBe(hourglassCount(16, 4, 2, 4) + 16 * 36);
    for (const instance of [model, same, other, trained]) instance.dispose();
  });

  it('matches the golden fixtures', () => {
    const names = fixtureNames(FIXTURES);
    expect(names.length).toBeGreaterThanOrEqual(1);
    for (const name of names) {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new HourglassMlp(fixture.options as HourglassMlpConfig);
      try {
        checkAgainstFixture(fixture, model, (input, options) => model.forward(input, options), 1e-4);
      } finally {
        model.dispose();
        fixture.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('rejects bad configs before creating variables', () => {
    const before = tf.memory().numTensors;
    expect(() => new HourglassMlp({ narrowDim: 0 })).toThrow(
      /HourglassMlp: narrowDim must be a positive integer, got 0/,
    );
    expect(() => new HourglassMlp({ projectionSeed: 0.5 })).toThrow(/projectionSeed/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
