// VOLO: golden fixtures from a PyTorch re-creation of timm's volo.py (tools/fixtures/volo.py), the
// shared model suite on a tiny config, preset parameter counts and focused behaviour checks.
import { createModel, manualSeed, unregisterModel } from '@mlzoo/core';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { OutlookAttention, registerVoloModels, VOLO, VOLO_PRESETS, type VoloConfig } from '../src/volo.js';

const FIXTURES = new URL('../fixtures/volo/', import.meta.url);

const TINY: VoloConfig = {
  layers: [1, 1, 1],
  imgSize: 16,
  inChans: 2,
  numClasses: 3,
  patchSize: 4,
  stemHiddenDim: 4,
  embedDims: [8, 12, 12],
  numHeads: [2, 3, 3],
  downsamples: [true, false, false],
  outlookAttention: [true, false, false],
  mlpRatio: 2,
  postLayers: 1,
};

function countParameters(config: VoloConfig): number {
  const model = new VOLO(config);
  const count = model.numParameters();
  model.dispose();
  return count;
}

describe('VOLO golden fixtures (PyTorch re-creation of timm)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => {
    expect(names.length).toBeGreaterThan(0);
  });
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new VOLO(fixture.options as VoloConfig);
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

runModelSuite({
  name: 'volo_tiny_test',
  create: () => new VOLO({ ...TINY, dropPathRate: 0.1 }),
  inputShape: [16, 16, 2],
  numParameters: countParameters(TINY),
});

describe('VOLO presets', () => {
  it('volo_fashion_mnist has its preset count', () => {
    expect(countParameters(VOLO_PRESETS.volo_fashion_mnist!.config)).toBe(
      VOLO_PRESETS.volo_fashion_mnist!.numParameters,
    );
  });

  // Building 27M / 59M parameters takes ~20-60 s on the cpu backend, so these run only with
  // `mlzoo info --verify`; tools/fixtures/volo.py --counts gives the same counts from PyTorch.
  // Full builds of the large presets: `mlzoo info --verify --filter 'volo*'` (the CLI builds each
  // preset and compares its count; 10-190 s per preset on cpu, so not part of the unit tests).

  it('registers every preset and builds by name with overrides', () => {
    registerVoloModels();
    const model = createModel<VOLO>('volo_fashion_mnist', { numClasses: 4 });
    expect(model.numClasses).toBe(4);
    expect(model.stateDictShapes()['aux_head.weight']).toEqual([4, 128]);
    model.dispose();
    for (const name of Object.keys(VOLO_PRESETS)) expect(unregisterModel(name)).toBe(true);
  });
});

describe('VOLO behaviour', () => {
  it('outlook attention with uniform weights averages each K x K neighbourhood (unfold, fold)', () => {
    manualSeed(0);
    const attention = new OutlookAttention({ dim: 2, numHeads: 1, kernelSize: 3, padding: 1, stride: 1 });
    // v and proj the identity, attention logits zero: every location spreads the mean of its window
    tf.tidy(() => {
      attention.v.weight.assign(tf.eye(2));
      attention.proj.weight.assign(tf.eye(2));
      attention.proj.bias!.assign(tf.zeros([2]));
      attention.attn.weight.assign(tf.zerosLike(attention.attn.weight));
      attention.attn.bias!.assign(tf.zerosLike(attention.attn.bias!));
    });
    const input = tf.tidy(() => tf.reshape(tf.range(0, 2 * 3 * 3 * 2), [2, 3, 3, 2]));
    const output = attention.forward(input);
    // fold of (each window's mean at each of its positions): output[p] = sum over windows containing p of mean(window)
    const values = input.arraySync() as number[][][][];
    const mean = (batch: number, row: number, column: number, channel: number) => {
      let sum = 0;
      for (let dr = -1; dr <= 1; dr++)
        for (let dc = -1; dc <= 1; dc++) {
          const r = row + dr;
          const c = column + dc;
          if (r >= 0 && r < 3 && c >= 0 && c < 3) sum += values[batch]![r]![c]![channel]!;
        }
      return sum / 9;
    };
    const actual = output.arraySync() as number[][][][];
    for (const batch of [0, 1])
      for (let row = 0; row < 3; row++)
        for (let column = 0; column < 3; column++)
          for (const channel of [0, 1]) {
            let expected = 0;
            for (let dr = -1; dr <= 1; dr++)
              for (let dc = -1; dc <= 1; dc++) {
                const r = row + dr;
                const c = column + dc;
                if (r >= 0 && r < 3 && c >= 0 && c < 3) expected += mean(batch, r, c, channel);
              }
            expect(actual[batch]![row]![column]![channel]!).toBeCloseTo(expected, 4);
          }
    tf.dispose([input, output]);
    attention.dispose();
  });

  it('the attention config reaches every attention (scoreNorm changes the output)', () => {
    const input = tf.randomNormal([1, 16, 16, 2], 0, 1, 'float32', 2);
    const outputs = (['softmax', 'sigmoid'] as const).map((scoreNorm) => {
      manualSeed(3);
      const model = new VOLO({ ...TINY, attention: { scoreNorm } });
      const output = model.forward(input);
      model.dispose();
      return output;
    });
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(outputs[0]!, outputs[1]!))).dataSync()[0]!);
    expect(difference).toBeGreaterThan(1e-5);
    tf.dispose([input, ...outputs]);
  });

  it('forwardIntermediates gives every stage map; resetClassifier replaces both heads', () => {
    manualSeed(4);
    const model = new VOLO(TINY);
    const input = tf.randomNormal([2, 16, 16, 2], 0, 1, 'float32', 2);
    const maps = model.forwardIntermediates(input);
    expect(maps.map((map) => map.shape)).toEqual([
      [2, 4, 4, 8],
      [2, 2, 2, 12],
      [2, 2, 2, 12],
    ]);
    model.resetClassifier(0);
    expect(Object.keys(model.stateDictShapes()).some((key) => key.startsWith('aux_head'))).toBe(false);
    model.resetClassifier(6);
    expect(model.stateDictShapes()['aux_head.weight']).toEqual([6, 12]);
    tf.dispose([input, ...maps]);
    model.dispose();
  });

  it('rejects bad configs before creating variables, naming the problem', () => {
    const before = tf.memory().numTensors;
    expect(() => new VOLO({ ...TINY, patchSize: 6 })).toThrow(/patchSize must be 4, 8 or 16/);
    expect(() => new VOLO({ ...TINY, numHeads: [3, 3, 3] })).toThrow(
      /stage 0: numHeads \(3\) must divide embedDims \(8\)/,
    );
    expect(() => new VOLO({ ...TINY, embedDims: [8, 12] })).toThrow(
      /embedDims must have one value per stage \(3\), got 2/,
    );
    expect(() => new VOLO({ ...TINY, poolingScale: 1 })).toThrow(
      /position embedding \[4, 4, 12\] does not fit/,
    );
    expect(tf.memory().numTensors).toBe(before);
    const model = new VOLO(TINY);
    const wrong = tf.zeros([1, 16, 16, 3]);
    expect(() => model.forward(wrong)).toThrow(/VOLO: expected input \[B, 16, 16, 2\], got \[1, 16, 16, 3\]/);
    wrong.dispose();
    model.dispose();
  });
});
