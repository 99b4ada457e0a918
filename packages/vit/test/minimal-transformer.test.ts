// The minimal transformer: the model suite on tiny configs (each similarity), preset parameter counts,
// golden fixtures from a PyTorch re-creation of the reference (tools/fixtures/reduced_transformers.py),
// the symmetric similarity, score-normalisation options and errors.
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  MINIMAL_TRANSFORMER_PRESETS,
  MinimalAttention,
  MinimalTransformer,
  type MinimalTransformerConfig,
  minimalTransformerFashionMnist,
  minimalTransformerMnist,
} from '../src/minimal-transformer.js';

const FIXTURES = new URL('../fixtures/minimal-transformer/', import.meta.url);

/** Closed form of the parameter count (no MLP): embedding + depth x (attention + norm1) + classifier. */
function minimalCount(config: {
  image: number;
  patch: number;
  chans: number;
  dim: number;
  depth: number;
  heads: number;
  similarity: 'separate' | 'collapsed' | 'symmetric';
  value: boolean;
  classes: number;
}): number {
  const { image, patch, chans, dim, depth, heads, similarity, value, classes } = config;
  const linear = dim * dim + dim;
  const headDim = dim / heads;
  const scores =
    similarity === 'separate'
      ? 2 * linear
      : similarity === 'collapsed'
        ? linear
        : (heads * headDim * (headDim + 1)) / 2;
  const tokens = (image / patch) ** 2 + 1;
  const embedding = chans * patch * patch * dim + dim + dim + tokens * dim;
  return embedding + depth * (scores + (value ? 2 * linear : 0) + 2 * dim) + dim * classes + classes;
}

const TINY: MinimalTransformerConfig = {
  imgSize: 8,
  patchSize: 2,
  inChans: 2,
  numClasses: 3,
  embedDim: 8,
  depth: 2,
  numHeads: 2,
};

for (const [similarity, valueProjection] of [
  ['collapsed', false],
  ['symmetric', true],
  ['separate', true],
] as const) {
  runModelSuite({
    name: `minimal_tiny_${similarity}${valueProjection ? '' : '_novalue'}`,
    create: () => new MinimalTransformer({ ...TINY, similarity, valueProjection }),
    inputShape: [8, 8, 2],
    numParameters: minimalCount({
      image: 8,
      patch: 2,
      chans: 2,
      dim: 8,
      depth: 2,
      heads: 2,
      similarity,
      value: valueProjection,
      classes: 3,
    }),
  });
}

runModelSuite({
  name: 'minimal_tiny_mlp_sigmoid',
  create: () =>
    new MinimalTransformer({ ...TINY, includeMlp: true, mlpDim: 12, attention: { scoreNorm: 'sigmoid' } }),
  inputShape: [8, 8, 2],
});

describe('MinimalTransformer presets', () => {
  it('every preset builds with its exact parameter count, equal to the closed form', () => {
    const before = tf.memory().numTensors;
    for (const [name, preset] of Object.entries(MINIMAL_TRANSFORMER_PRESETS)) {
      const model = new MinimalTransformer(preset.config);
      expect(model.numParameters(), name).toBe(preset.numParameters);
      const config = model.config;
      expect(
        minimalCount({
          image: config.imgSize[0],
          patch: config.patchSize,
          chans: config.inChans,
          dim: config.embedDim,
          depth: config.depth,
          heads: config.numHeads,
          similarity: config.similarity,
          value: config.valueProjection,
          classes: config.numClasses,
        }),
        name,
      ).toBe(preset.numParameters);
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('builders take overrides; fashion-MNIST preset runs on 28x28x1', () => {
    const model = minimalTransformerMnist({ depth: 1, attention: { scoreNorm: 'softplus' } });
    expect(model.transformer_encoder.layers.length).toBe(1);
    expect(model.transformer_encoder.layers.at(0).self_attn.scores.scoreNorm).toBe('softplus');
    model.dispose();
    const small = minimalTransformerFashionMnist({ depth: 1 });
    tf.tidy(() => {
      expect(small.forward(tf.zeros([1, 28, 28, 1])).shape).toEqual([1, 10]);
    });
    small.dispose();
  });

  it('uses the reference state-dict keys', () => {
    const model = new MinimalTransformer({ ...TINY, depth: 1, similarity: 'symmetric' });
    expect(Object.keys(model.stateDictShapes()).sort()).toEqual(
      [
        'embedding.patcher.0.weight',
        'embedding.patcher.0.bias',
        'embedding.cls_token',
        'embedding.position_embeddings',
        'transformer_encoder.layers.0.self_attn.trainable_params',
        'transformer_encoder.layers.0.self_attn.value.weight',
        'transformer_encoder.layers.0.self_attn.value.bias',
        'transformer_encoder.layers.0.self_attn.out.weight',
        'transformer_encoder.layers.0.self_attn.out.bias',
        'transformer_encoder.layers.0.norm1.weight',
        'transformer_encoder.layers.0.norm1.bias',
        'classifier.weight',
        'classifier.bias',
      ].sort(),
    );
    expect(model.stateDictShapes()['transformer_encoder.layers.0.self_attn.trainable_params']).toEqual([
      2, 10,
    ]);
    model.dispose();
  });
});

describe('MinimalTransformer golden fixtures (PyTorch re-creation of the reference modules)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures for every reference modification', () => expect(names.length).toBeGreaterThanOrEqual(4));
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new MinimalTransformer(fixture.options as MinimalTransformerConfig);
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

describe('MinimalAttention', () => {
  it('symmetric similarity: T T^T is symmetric and the scores of a token pair agree both ways', () => {
    const before = tf.memory().numTensors;
    const attention = new MinimalAttention({ dim: 8, numHeads: 2, similarity: 'symmetric' });
    tf.tidy(() => {
      const matrices = attention.similarityMatrices();
      expect(matrices.shape).toEqual([2, 4, 4]);
      const asymmetry = tf.max(tf.abs(tf.sub(matrices, tf.transpose(matrices, [0, 2, 1])))).dataSync()[0];
      expect(asymmetry).toBe(0);
      // positive semi-definite: x^T (T T^T) x >= 0, so a token is never dissimilar to itself
      const x = tf.randomNormal([5, 4], 0, 1, 'float32', 2);
      const selfScores = tf.sum(tf.mul(tf.matMul(x, matrices.unstack()[0]!), x), 1);
      expect(tf.min(selfScores).dataSync()[0]!).toBeGreaterThanOrEqual(0);
    });
    attention.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('without value projection the output is a convex combination of the inputs (softmax)', () => {
    const attention = new MinimalAttention({
      dim: 4,
      numHeads: 1,
      similarity: 'collapsed',
      valueProjection: false,
    });
    expect(attention.value).toBeNull();
    tf.tidy(() => {
      const input = tf.randomNormal([1, 6, 4], 0, 1, 'float32', 3);
      const output = attention.forward(input);
      const inside = tf.logicalAnd(
        tf.lessEqual(output, tf.add(tf.max(input, 1, true), 1e-6)),
        tf.greaterEqual(output, tf.sub(tf.min(input, 1, true), 1e-6)),
      );
      expect(tf.all(inside).dataSync()[0]).toBe(1);
    });
    attention.dispose();
  });

  it('rejects bad configs before creating variables', () => {
    const before = tf.memory().numTensors;
    expect(() => new MinimalTransformer({ embedDim: 10, numHeads: 4 })).toThrow(
      /MinimalTransformer: numHeads \(4\) must divide embedDim \(10\)/,
    );
    expect(() => new MinimalTransformer({ similarity: 'low-rank' as never })).toThrow(
      /similarity must be one of/,
    );
    expect(() => new MinimalTransformer({ attention: { scoreNorm: 'relu' as never } })).toThrow(
      /attention.scoreNorm/,
    );
    expect(() => new MinimalTransformer({ imgSize: 30 })).toThrow(/not divisible by patchSize 7/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
