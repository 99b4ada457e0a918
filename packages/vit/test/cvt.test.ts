// CvT: golden fixtures from a PyTorch re-creation of microsoft/CvT cls_cvt.py (tools/fixtures/cvt.py),
// the shared model suite on a tiny config, preset parameter counts and focused behaviour checks.
import { createModel, manualSeed, unregisterModel } from '@mlzoo/core';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { CVT_PRESETS, CvT, type CvtConfig, cvt13, quickGelu, registerCvtModels } from '../src/cvt.js';

const FIXTURES = new URL('../fixtures/cvt/', import.meta.url);

const TINY: CvtConfig = {
  imgSize: 12,
  inChans: 2,
  numClasses: 3,
  embedDim: [4, 8],
  depth: [1, 1],
  numHeads: [1, 2],
  patchSize: 3,
  patchStride: 2,
  patchPadding: 1,
};

function countParameters(config: CvtConfig): number {
  const model = new CvT(config);
  const count = model.numParameters();
  model.dispose();
  return count;
}

describe('CvT golden fixtures (PyTorch re-creation of microsoft/CvT)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => {
    expect(names.length).toBeGreaterThan(0);
  });
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new CvT(fixture.options as CvtConfig);
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
  name: 'cvt_tiny_test',
  create: () => new CvT({ ...TINY, dropPathRate: 0.1 }),
  inputShape: [12, 12, 2],
  numParameters: countParameters(TINY),
});

describe('CvT presets', () => {
  it('cvt_fashion_mnist builds with its preset count', () => {
    expect(countParameters(CVT_PRESETS.cvt_fashion_mnist!.config)).toBe(
      CVT_PRESETS.cvt_fashion_mnist!.numParameters,
    );
  });

  it('cvt_13 and cvt_21 counts: a one-block-per-stage model plus the extra blocks, built on their own', () => {
    // Building all 20M / 32M parameters takes ~25 s on cpu (done below with `mlzoo info --verify`):
    // the count is linear in the depths, so one block per stage plus single stage-1 and stage-2 blocks
    // (each built by the same constructor) give the exact totals.
    const shallow = countParameters({ ...CVT_PRESETS.cvt_13!.config, depth: [1, 1, 1] });
    const deeper = (depth: number[]) => countParameters({ ...CVT_PRESETS.cvt_13!.config, depth });
    const block1 = deeper([1, 2, 1]) - shallow;
    const block2 = deeper([1, 1, 2]) - shallow;
    for (const name of ['cvt_13', 'cvt_21']) {
      const depth = CVT_PRESETS[name]!.config.depth!;
      expect(shallow + (depth[1]! - 1) * block1 + (depth[2]! - 1) * block2, name).toBe(
        CVT_PRESETS[name]!.numParameters,
      );
    }
  }, 30_000);

  // Full builds of the large presets: `mlzoo info --verify --filter 'cvt*'` (the CLI builds each
  // preset and compares its count; 10-190 s per preset on cpu, so not part of the unit tests).

  it('registers every preset and builds by name with overrides', () => {
    registerCvtModels();
    const model = createModel<CvT>('cvt_fashion_mnist', { numClasses: 4 });
    expect(model.numClasses).toBe(4);
    model.dispose();
    for (const name of Object.keys(CVT_PRESETS)) expect(unregisterModel(name)).toBe(true);
  });

  it('cvt_13 keys follow the official checkpoint', () => {
    const model = cvt13({ depth: [1, 1, 1], numClasses: 5 });
    const keys = Object.keys(model.stateDictShapes());
    expect(keys).toContain('stage2.cls_token');
    expect(keys).not.toContain('stage0.cls_token');
    expect(model.stateDictShapes()['stage1.blocks.0.attn.conv_proj_k.conv.weight']).toEqual([192, 1, 3, 3]);
    expect(keys).toContain('stage1.blocks.0.attn.conv_proj_v.bn.running_var');
    expect(model.stateDictShapes()['stage0.patch_embed.proj.weight']).toEqual([64, 3, 7, 7]);
    expect(model.stateDictShapes()['head.weight']).toEqual([5, 384]);
    model.dispose();
  });
});

describe('CvT behaviour', () => {
  it('quickGelu is x * sigmoid(1.702 x)', () => {
    const x = tf.tensor1d([-2, 0, 1.5]);
    const y = quickGelu(x);
    const expected = [-2, 0, 1.5].map((value) => value / (1 + Math.exp(-1.702 * value)));
    const values = Array.from(y.dataSync());
    for (const [index, value] of values.entries()) expect(value).toBeCloseTo(expected[index]!, 6);
    tf.dispose([x, y]);
  });

  it('accepts other image sizes (no position embedding) and gives stage maps as intermediates', () => {
    manualSeed(1);
    const model = new CvT(TINY);
    const input = tf.randomNormal([1, 12, 10, 2], 0, 1, 'float32', 1);
    const maps = model.forwardIntermediates(input);
    expect(maps.map((map) => map.shape)).toEqual([
      [1, 6, 5, 4],
      [1, 3, 3, 8],
    ]);
    const logits = model.forward(input);
    expect(logits.shape).toEqual([1, 3]);
    tf.dispose([input, logits, ...maps]);
    model.dispose();
  });

  it('the attention score normalisation comes from the config', () => {
    const input = tf.randomNormal([1, 12, 12, 2], 0, 1, 'float32', 2);
    const outputs = (['softmax', 'sigmoid'] as const).map((scoreNorm) => {
      manualSeed(3);
      const model = new CvT({ ...TINY, attention: { scoreNorm } });
      const output = model.forward(input);
      model.dispose();
      return output;
    });
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(outputs[0]!, outputs[1]!))).dataSync()[0]!);
    expect(difference).toBeGreaterThan(1e-5);
    tf.dispose([input, ...outputs]);
  });

  it('rejects bad configs before creating variables, naming the problem', () => {
    const before = tf.memory().numTensors;
    expect(() => new CvT({ ...TINY, numHeads: [3, 2] })).toThrow(
      /stage 0: numHeads \(3\) must divide embedDim \(4\)/,
    );
    expect(() => new CvT({ ...TINY, depth: [1, 1, 1] })).toThrow(
      /depth must have one value per stage \(2\), got 3/,
    );
    expect(() => new CvT({ ...TINY, imgSize: 1, patchSize: 7, patchPadding: 0 })).toThrow(/leaves no tokens/);
    expect(() => new CvT({ ...TINY, activation: 'relu' as 'gelu' })).toThrow(/activation must be/);
    expect(tf.memory().numTensors).toBe(before);
    const model = new CvT(TINY);
    const wrong = tf.zeros([1, 12, 12, 3]);
    expect(() => model.forward(wrong)).toThrow(/CvT: expected input \[B, H, W, 2\], got \[1, 12, 12, 3\]/);
    wrong.dispose();
    model.dispose();
  });
});
