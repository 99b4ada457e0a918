// SOFT and NaLaFormer attention: golden fixtures from PyTorch re-creations of the references
// (tools/fixtures/linear_attention.py), the Newton-Raphson inverse, the token grid, createAttention.
import { manualSeed } from '@mlzoo/core';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  createAttention,
  gaussianKernel,
  MultiHeadAttention,
  NalaformerAttention,
  type NalaformerAttentionOptions,
  newtonInverse,
  resolveTokenGrid,
  SoftAttention,
  type SoftAttentionOptions,
} from '../src/index.js';

const FIXTURES = new URL('../fixtures/linear-attention/', import.meta.url);

function randomNormal(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

describe('golden fixtures (PyTorch re-creations of fudan-zvg/SOFT and ZacharyMeng/NaLaFormer)', () => {
  const names = fixtureNames(FIXTURES);

  it('covers both attentions', () => {
    expect(names.filter((name) => name.startsWith('soft_')).length).toBeGreaterThanOrEqual(3);
    expect(names.filter((name) => name.startsWith('nala_')).length).toBeGreaterThanOrEqual(2);
  });

  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const module =
        fixture.layer === 'SoftAttention'
          ? new SoftAttention(fixture.options as unknown as SoftAttentionOptions)
          : new NalaformerAttention(fixture.options as unknown as NalaformerAttentionOptions);
      try {
        checkAgainstFixture(fixture, module, (input, options) => module.forward(input, options), 1e-4);
      } finally {
        module.dispose();
        fixture.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('newtonInverse', () => {
  it('inverts a Gaussian kernel matrix (A + 0.01 I) and matches the exact-inverse gradient', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const points = tf.mul(randomNormal([2, 5, 3], 1), 0.8);
      const kernel = gaussianKernel(points, points); // [2, 5, 5], symmetric, unit diagonal
      const inverse = newtonInverse(kernel, 60);
      const product = tf.matMul(tf.add(kernel, tf.mul(tf.eye(5), 0.01)), inverse);
      const error = tf.max(tf.abs(tf.sub(product, tf.eye(5)))).dataSync()[0]!;
      expect(error).toBeLessThan(1e-3);
      // d sum(V * C) / dA = -V^T C V^T
      const cotangent = randomNormal([2, 5, 5], 2);
      const gradient = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(newtonInverse(a, 60), cotangent)))(kernel);
      const expected = tf.neg(tf.matMul(tf.matMul(inverse, cotangent, true), inverse, false, true));
      expect(tf.max(tf.abs(tf.sub(gradient, expected))).dataSync()[0]!).toBeLessThan(1e-5);
    });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects non-square input and bad iteration counts', () => {
    expect(() => newtonInverse(tf.zeros([2, 3]))).toThrow(/square matrices/);
    expect(() => newtonInverse(tf.zeros([3, 3]), -1)).toThrow(/iterations/);
  });
});

describe('token grid', () => {
  it('infers square grids, a cls token, and checks explicit grids', () => {
    expect(resolveTokenGrid(16, {}, 'here')).toEqual({ height: 4, width: 4, numPrefixTokens: 0 });
    expect(resolveTokenGrid(17, {}, 'here')).toEqual({ height: 4, width: 4, numPrefixTokens: 1 });
    expect(resolveTokenGrid(26, { gridSize: [4, 6] }, 'here')).toEqual({
      height: 4,
      width: 6,
      numPrefixTokens: 2,
    });
    expect(() => resolveTokenGrid(24, {}, 'blocks.0.attn')).toThrow(
      /blocks\.0\.attn: cannot infer a square token grid from 24 tokens/,
    );
    expect(() => resolveTokenGrid(20, { gridSize: [5, 5] }, 'here')).toThrow(/do not hold a 5x5 grid/);
  });

  it('SOFT and NaLa give the same result with an inferred and an explicit square grid', () => {
    const before = tf.memory().numTensors;
    manualSeed(3);
    const soft = new SoftAttention({ dim: 8, numHeads: 2 });
    const nala = new NalaformerAttention({ dim: 8, numHeads: 2 });
    tf.tidy(() => {
      const input = randomNormal([1, 17, 8], 4);
      for (const module of [soft, nala]) {
        const inferred = module.forward(input);
        const explicit = module.forward(input, { gridSize: [4, 4], numPrefixTokens: 1 });
        expect(tf.max(tf.abs(tf.sub(inferred, explicit))).dataSync()[0]).toBe(0);
      }
    });
    soft.dispose();
    nala.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('NaLa mixes tokens globally: changing a far token changes every output', () => {
    const nala = new NalaformerAttention({ dim: 8, numHeads: 1 });
    tf.tidy(() => {
      const input = randomNormal([1, 36, 8], 5);
      const changed = tf.concat([tf.slice(input, [0, 0, 0], [1, 35, 8]), tf.zeros([1, 1, 8])], 1);
      const difference = tf.abs(tf.sub(nala.forward(input), nala.forward(changed)));
      // token 0 is outside the 5x5 lepe window of token 35: only the attention can reach it
      expect(tf.max(tf.slice(difference, [0, 0, 0], [1, 1, 8])).dataSync()[0]).toBeGreaterThan(1e-6);
    });
    nala.dispose();
  });
});

describe('createAttention', () => {
  it("builds 'soft' and 'nalaformer' with the block's width, heads and bias", () => {
    const before = tf.memory().numTensors;
    const soft = createAttention(
      { type: 'soft', ratio: 2, convSize: 0 },
      { dim: 16, numHeads: 4, qkvBias: false },
    );
    expect(soft).toBeInstanceOf(SoftAttention);
    expect(soft.numHeads).toBe(4);
    expect([...soft.namedParameters().keys()]).toEqual([
      'W_q.weight',
      'W_v.weight',
      'attn.Qlandmark_op.weight',
      'attn.Qnorm_act.0.weight',
      'attn.Qnorm_act.0.bias',
      'ff.weight',
      'ff.bias',
    ]);
    const nala = createAttention({ type: 'nalaformer' }, { dim: 16, numHeads: 2, qkvBias: true });
    expect(nala).toBeInstanceOf(NalaformerAttention);
    expect(Object.keys(nala.stateDictShapes())).toEqual([
      'qkvg.weight',
      'qkvg.bias',
      'lepe.weight',
      'lepe.bias',
      'out_proj.weight',
      'out_proj.bias',
      'ln.weight',
      'ln.bias',
    ]);
    expect(nala.stateDictShapes()['lepe.weight']).toEqual([16, 1, 5, 5]);
    const standard = createAttention(undefined, { dim: 16, numHeads: 2 });
    expect(standard).toBeInstanceOf(MultiHeadAttention);
    tf.tidy(() => {
      const input = randomNormal([2, 16, 16], 6);
      for (const attention of [soft, nala, standard]) {
        expect(attention.forward(input, { gridSize: [4, 4] }).shape).toEqual([2, 16, 16]);
      }
    });
    for (const attention of [soft, nala, standard]) attention.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects bad configs before creating variables', () => {
    const before = tf.memory().numTensors;
    expect(() => createAttention({ type: 'soft', ratio: 0 }, { dim: 16, numHeads: 4 })).toThrow(
      /SoftAttention: ratio must be a positive integer, got 0/,
    );
    expect(() => createAttention({ type: 'soft', convSize: 4 }, { dim: 16, numHeads: 4 })).toThrow(
      /convSize/,
    );
    expect(() => createAttention({ type: 'nalaformer' }, { dim: 12, numHeads: 2 })).toThrow(
      /head width dim \/ numHeads \(6\) must be a multiple of 4/,
    );
    expect(() => createAttention({ type: 'linformer' } as never, { dim: 16, numHeads: 4 })).toThrow(
      /unknown attention type 'linformer'/,
    );
    expect(tf.memory().numTensors).toBe(before);
  });

  it('errors name the module and the shape', () => {
    const soft = new SoftAttention({ dim: 16, numHeads: 4, ratio: 4 });
    expect(() => soft.forward(tf.zeros([1, 9, 16]))).toThrow(/3x3 token grid is smaller than ratio 4/);
    expect(() => soft.forward(tf.zeros([1, 9, 8]))).toThrow(/expected input \[B, N, 16\]/);
    soft.dispose();
  });

  it('SOFT trains: every parameter gets a finite gradient (conv and pool landmarks)', () => {
    for (const landmarks of ['conv', 'pool'] as const) {
      const soft = new SoftAttention({ dim: 8, numHeads: 2, landmarks });
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.square(soft.forward(randomNormal([2, 16, 8], 7)))) as tf.Scalar,
        soft.parameters(),
      );
      expect(Object.keys(grads).length).toBe(soft.parameters().length);
      for (const gradient of Object.values(grads)) {
        expect(Number.isFinite(tf.sum(tf.abs(gradient)).dataSync()[0])).toBe(true);
      }
      tf.dispose([value, ...Object.values(grads)]);
      soft.dispose();
    }
  });
});
