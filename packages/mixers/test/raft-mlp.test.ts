// RaftMLP: the shared model suite on a tiny config, preset parameter counts, golden fixtures from
// the PyTorch re-creation of okojoalg/raft-mlp (tools/fixtures/raft_mlp.py), and config errors.
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { RAFT_MLP_PRESETS, RaftMLP, type RaftMlpConfig, raftMlpFashionMnist } from '../src/raft-mlp.js';

const FIXTURES = new URL('../fixtures/raft-mlp/', import.meta.url);

const tiny: RaftMlpConfig = {
  imgSize: [8, 12],
  inChans: 2,
  numClasses: 3,
  layers: [
    { depth: 1, dim: 8, patchSize: 2, raftSize: 2, embeddingKernels: [2, 4] },
    { depth: 1, dim: 12, patchSize: 2, raftSize: 3 },
  ],
  dropRate: 0.1,
  dropPathRate: 0.1,
};

runModelSuite({
  name: 'raft_mlp_tiny',
  create: () => new RaftMLP(tiny),
  inputShape: [8, 12, 2],
  // from the PyTorch re-creation (tools/fixtures/raft_mlp.py, RaftMLP with the same levels)
  numParameters: 4076,
});

describe('RaftMLP presets', () => {
  it('parameter counts equal the models built from the presets (S, M, L built once each)', () => {
    for (const [name, preset] of Object.entries(RAFT_MLP_PRESETS)) {
      const before = tf.memory().numTensors;
      const model = new RaftMLP(preset.config);
      expect(model.numParameters(), name).toBe(preset.numParameters);
      model.dispose();
      expect(tf.memory().numTensors, name).toBe(before);
    }
  });

  it('the fashion-mnist preset classifies 28x28x1 images and forwardIntermediates returns each level', () => {
    const before = tf.memory().numTensors;
    const model = raftMlpFashionMnist();
    const input = tf.randomNormal([2, 28, 28, 1]);
    const logits = model.forward(input);
    expect(logits.shape).toEqual([2, 10]);
    const levels = model.forwardIntermediates(input);
    expect(levels.map((level) => level.shape)).toEqual([
      [2, 14, 14, 32],
      [2, 7, 7, 64],
      [2, 7, 7, 128],
    ]);
    const picked = model.forwardIntermediates(input, { indices: [0] });
    expect(picked.map((level) => level.shape)).toEqual([[2, 14, 14, 32]]);
    tf.dispose([input, logits, ...levels, ...picked]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('RaftMLP golden fixtures (PyTorch re-creation of okojoalg/raft-mlp)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => {
    expect(names.length).toBeGreaterThan(0);
  });
  for (const name of names) {
    it(name, () => {
      const fixture = loadFixture(FIXTURES, name);
      const before = tf.memory().numTensors;
      const model = new RaftMLP(fixture.options as RaftMlpConfig);
      checkAgainstFixture(fixture, model, (input, options) => model.forward(input, options), 1e-4);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
      fixture.dispose();
    });
  }
});

describe('RaftMLP config errors', () => {
  const cases: Array<[string, RaftMlpConfig, RegExp]> = [
    [
      'raft size not dividing dim',
      { layers: [{ depth: 1, dim: 10, patchSize: 4, raftSize: 3 }] },
      /dim \(10\)/,
    ],
    [
      'kernel not a multiple of the patch',
      { layers: [{ depth: 1, dim: 8, patchSize: 4, raftSize: 2, embeddingKernels: [4, 6] }] },
      /embeddingKernels/,
    ],
    [
      'grid not divisible',
      { imgSize: 28, layers: [{ depth: 1, dim: 8, patchSize: 8, raftSize: 2 }] },
      /28x28 grid is not divisible by patchSize 8/,
    ],
    ['empty layers', { layers: [] }, /layers must not be empty/],
    ['bad drop path', { dropPathRate: 1 }, /dropPathRate must be in \[0, 1\)/],
  ];
  for (const [title, config, message] of cases) {
    it(title, () => {
      const before = tf.memory().numTensors;
      expect(() => new RaftMLP(config)).toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('rejects an input of the wrong size naming the model', () => {
    const model = new RaftMLP({ ...tiny });
    const input = tf.zeros([1, 8, 8, 2]);
    expect(() => model.forward(input)).toThrow(/RaftMLP: expected input \[B, 8, 12, 2\]/);
    input.dispose();
    model.dispose();
  });
});
