// gMLP: the model suite on a tiny config, preset parameter counts, golden fixtures from PyTorch
// (tools/fixtures/mixers_timm.py), the spatial gating unit's init and norm, errors.

import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { GMLP_PRESETS, GMlp, type GMlpConfig, SpatialGatingBlock } from '../src/gmlp.js';

const FIXTURES = new URL('../fixtures/gmlp/', import.meta.url);

/** gMLP closed form: stem + blocks of (LN, fc1 C->H, gate LN H/2, gate proj N x N, fc2 H/2->C) + LN + head. */
function gmlpCount(
  inChans: number,
  patch: number,
  n: number,
  c: number,
  blocks: number,
  ratio: number,
  classes: number,
) {
  const h = Math.floor(ratio * c);
  const block = 2 * c + (c * h + h) + h + (n * n + n) + ((h / 2) * c + c);
  return inChans * patch * patch * c + c + blocks * block + 2 * c + c * classes + classes;
}

const TINY: GMlpConfig = {
  imgSize: 8,
  patchSize: 2,
  inChans: 3,
  numClasses: 5,
  embedDim: 8,
  numBlocks: 2,
  mlpRatio: 6,
  dropRate: 0.1,
  dropPathRate: 0.1,
};

runModelSuite({
  name: 'gmlp_tiny',
  create: () => new GMlp(TINY),
  inputShape: [8, 8, 3],
  numParameters: gmlpCount(3, 2, 16, 8, 2, 6, 5),
});

describe('GMlp presets', () => {
  it('every preset has the parameter count it states (built: gmlp_fashion_mnist, gmlp_ti16_224)', () => {
    for (const [name, preset] of Object.entries(GMLP_PRESETS)) {
      const config = preset.config;
      const n = ((config.imgSize as number) / config.patchSize!) ** 2;
      const expected = gmlpCount(
        config.inChans!,
        config.patchSize!,
        n,
        config.embedDim!,
        config.numBlocks!,
        config.mlpRatio!,
        config.numClasses!,
      );
      expect(preset.numParameters, name).toBe(expected);
    }
    for (const name of ['gmlp_fashion_mnist', 'gmlp_ti16_224']) {
      const model = new GMlp(GMLP_PRESETS[name]!.config);
      expect(model.numParameters(), name).toBe(GMLP_PRESETS[name]!.numParameters);
      model.dispose();
    }
  });
});

describe('GMlp golden fixtures (timm re-created in PyTorch)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => expect(names.length).toBeGreaterThanOrEqual(1));
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new GMlp(fixture.options as GMlpConfig);
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

describe('GMlp behaviour', () => {
  it('has timm keys; the gate starts near identity (proj weight ~1e-6, bias 1) with eps 1e-5', () => {
    const model = new GMlp(TINY);
    const shapes = model.stateDictShapes();
    expect(shapes['blocks.0.norm.weight']).toEqual([8]);
    expect(shapes['blocks.0.mlp_channels.fc1.weight']).toEqual([48, 8]);
    expect(shapes['blocks.0.mlp_channels.gate.norm.weight']).toEqual([24]);
    expect(shapes['blocks.0.mlp_channels.gate.proj.weight']).toEqual([16, 16]);
    expect(shapes['blocks.0.mlp_channels.fc2.weight']).toEqual([8, 24]);
    const parameters = model.namedParameters();
    const weight = parameters.get('blocks.1.mlp_channels.gate.proj.weight')!;
    const bias = parameters.get('blocks.1.mlp_channels.gate.proj.bias')!;
    expect(tf.tidy(() => tf.max(tf.abs(weight)).dataSync()[0])).toBeLessThan(1e-5);
    expect([...bias.dataSync()].every((value) => value === 1)).toBe(true);
    const block = model.blocks.at(0);
    expect(block).toBeInstanceOf(SpatialGatingBlock);
    expect((block as SpatialGatingBlock).norm.eps).toBe(1e-6);
    expect((block as SpatialGatingBlock).mlpChannels.gate.norm.eps).toBe(1e-5);
    model.dispose();
  });

  it('rejects bad configs before creating variables', () => {
    const before = tf.memory().numTensors;
    expect(() => new GMlp({ ...TINY, embedDim: 3, mlpRatio: 1 })).toThrow(
      /GMlp: mlpRatio 1 \* embedDim must give a positive even width, got 3/,
    );
    expect(() => new GMlp({ ...TINY, gateNormEps: 0 })).toThrow(/gateNormEps/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
