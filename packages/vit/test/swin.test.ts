// Swin Transformer: golden fixtures from a PyTorch re-creation of timm's SwinTransformer (and SwinCheX
// heads), the shared model suite on a tiny config, preset parameter counts, and focused checks.
import { binaryCrossEntropyWithLogits, createModel, type LossName, listModels } from '@mlzoo/core';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  convertSwinStateDict,
  registerSwinModels,
  relativePositionIndex,
  SWIN_PRESETS,
  SwinTransformer,
  type SwinTransformerConfig,
  shiftedWindowMask,
  swinParameterCount,
} from '../src/swin.js';

const FIXTURES = new URL('../fixtures/swin/', import.meta.url);

describe('Swin golden fixtures from PyTorch', () => {
  const names = fixtureNames(FIXTURES);
  it('has the fixtures', () => {
    expect(names).toEqual(['swin_padded', 'swin_shifted', 'swin_sigmoid', 'swin_swinchex_heads']);
  });
  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const model = new SwinTransformer(fixture.options as SwinTransformerConfig);
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

const tiny: SwinTransformerConfig = {
  imgSize: 8,
  patchSize: 1,
  inChans: 2,
  numClasses: 3,
  embedDim: 8,
  depths: [2, 1],
  numHeads: [2, 2],
  windowSize: 4,
  dropRate: 0.1,
  dropPathRate: 0.1,
};

runModelSuite({
  name: 'swin_tiny_test',
  create: () => new SwinTransformer(tiny),
  inputShape: [8, 8, 2],
});

runModelSuite({
  name: 'swin_swinchex_tiny_test',
  create: () => new SwinTransformer({ ...tiny, multiLabel: true, labelHeadHiddenDims: [5] }),
  inputShape: [8, 8, 2],
});

describe('Swin presets', () => {
  it('swin_fashion_mnist registers, has the preset count and classifies 28x28x1', () => {
    const preset = SWIN_PRESETS.swin_fashion_mnist!;
    registerSwinModels();
    expect(listModels(`${'swin_fashion_mnist'.split('_')[0]}*`)).toEqual(Object.keys(SWIN_PRESETS).sort());
    const model = createModel<SwinTransformer>('swin_fashion_mnist');
    expect(model.numParameters()).toBe(preset.numParameters);
    const output = tf.tidy(() => model.forward(tf.zeros([1, 28, 28, 1])));
    expect(output.shape).toEqual([1, 10]);
    output.dispose();
    model.dispose();
  });

  it('swinParameterCount equals the built model on small configs', () => {
    const configs: SwinTransformerConfig[] = [
      tiny,
      SWIN_PRESETS.swin_fashion_mnist!.config,
      {
        ...tiny,
        imgSize: [12, 20],
        patchSize: 2,
        windowSize: [4, 3],
        headDim: 3,
        qkvBias: false,
        mlpRatio: 2.5,
      },
      { ...tiny, multiLabel: true, labelHeadHiddenDims: [6, 4], numClasses: 5 },
      { ...tiny, numClasses: 0, embedDim: [8, 12] },
    ];
    for (const config of configs) {
      const model = new SwinTransformer(config);
      expect(swinParameterCount(config)).toBe(model.numParameters());
      model.dispose();
    }
  });

  // The ImageNet presets take 10-35 s each to initialise in JavaScript on the cpu backend, so their
  // counts (equal to the PyTorch re-creation's, printed by tools/fixtures/swin.py) are checked through
  // swinParameterCount, which the test above ties to built models.
  for (const name of [
    'swin_tiny_patch4_window7_224',
    'swin_small_patch4_window7_224',
    'swin_base_patch4_window7_224',
  ]) {
    it(`${name} has the count of the PyTorch re-creation`, () => {
      const preset = SWIN_PRESETS[name]!;
      expect(swinParameterCount(preset.config)).toBe(preset.numParameters);
    });
  }
});

describe('Swin behaviour', () => {
  it('relative position index matches the closed form at the corners', () => {
    const index = relativePositionIndex(7, 7);
    expect(index.length).toBe(49 * 49);
    expect(index[0]).toBe(6 * 13 + 6); // same token: centre of the table
    expect(index[48]).toBe(0); // query (0, 0), key (6, 6): offset (-6, -6)
    expect(index[48 * 49]).toBe(168); // query (6, 6), key (0, 0): offset (6, 6)
  });

  it('shifted-window mask separates the rolled regions', () => {
    const mask = shiftedWindowMask([8, 8], [4, 4], [2, 2]);
    expect(mask.shape).toEqual([4, 16, 16]);
    const values = mask.arraySync() as number[][][];
    expect(values[0]!.flat().every((value) => value === 0)).toBe(true); // top-left window: one region
    expect(values[3]![0]![15]).toBe(-100); // bottom-right window mixes four regions
    expect(values[3]![0]![1]).toBe(0);
    mask.dispose();
  });

  it('multi-label: sigmoid probabilities and a BCE loss that trains', () => {
    const before = tf.memory().numTensors;
    const model = new SwinTransformer({ ...tiny, multiLabel: true, dropRate: 0, dropPathRate: 0 });
    expect(model.lossName).toBe('bce-with-logits' satisfies LossName);
    const input = tf.randomNormal([4, 8, 8, 2], 0, 1, 'float32', 1);
    const targets = tf.tensor2d([1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1], [4, 3]);
    const probabilities = model.predictProbabilities(input);
    const logits = model.forward(input);
    tf.tidy(() => {
      expect(tf.max(tf.abs(tf.sub(probabilities, tf.sigmoid(logits)))).dataSync()[0]).toBeLessThan(1e-6);
      // rows need not sum to 1: labels are independent
      expect(Math.abs(tf.sum(probabilities, 1).dataSync()[0]! - 1)).toBeGreaterThan(1e-3);
      expect(model.computeLoss(logits, targets).dataSync()[0]).toBeCloseTo(
        binaryCrossEntropyWithLogits(logits, targets).dataSync()[0]!,
        6,
      );
    });
    const optimizer = tf.train.adam(1e-2);
    const loss = () => tf.tidy(() => model.computeLoss(model.forward(input, { training: true }), targets));
    const first = loss();
    for (let step = 0; step < 3; step++) optimizer.minimize(loss, false, model.parameters());
    const last = loss();
    expect(last.dataSync()[0]).toBeLessThan(first.dataSync()[0]!);
    tf.dispose([input, targets, probabilities, logits, first, last]);
    optimizer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('single-label predictProbabilities is a softmax', () => {
    const model = new SwinTransformer({ ...tiny, dropRate: 0 });
    const probabilities = model.predictProbabilities(tf.ones([2, 8, 8, 2]));
    expect(tf.tidy(() => tf.sum(probabilities, 1).arraySync())).toEqual([
      expect.closeTo(1, 5),
      expect.closeTo(1, 5),
    ]);
    probabilities.dispose();
    model.dispose();
  });

  it('forwardIntermediates returns every stage in NHWC', () => {
    const model = new SwinTransformer({ ...tiny, imgSize: 16, patchSize: 2 });
    const input = tf.zeros([1, 16, 16, 2]);
    const outputs = model.forwardIntermediates(input);
    expect(outputs.map((output) => output.shape)).toEqual([
      [1, 8, 8, 8],
      [1, 4, 4, 16],
    ]);
    tf.dispose([input, ...outputs]);
    model.dispose();
  });

  it('converts original-layout checkpoints (downsample at the end of a stage, head.weight)', () => {
    const model = new SwinTransformer(tiny);
    const state = model.stateDict();
    const old: Record<string, tf.Tensor> = {};
    for (const [key, value] of Object.entries(state)) {
      const renamed = key
        .replace(/^layers\.1\.downsample\./, 'layers.0.downsample.')
        .replace(/^head\.fc\./, 'head.');
      old[renamed] = value;
    }
    old['layers.0.blocks.0.attn.relative_position_index'] = tf.zeros([16, 16], 'int32');
    old['layers.0.blocks.1.attn_mask'] = tf.zeros([4, 16, 16]);
    const converted = convertSwinStateDict(old);
    expect(Object.keys(converted).sort()).toEqual(Object.keys(state).sort());
    const other = new SwinTransformer({ ...tiny, random: undefined });
    expect(other.loadStateDict(converted)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    tf.dispose(Object.values(old));
    model.dispose();
    other.dispose();
  });

  it('rejects bad configs with a sentence, before creating variables', () => {
    const before = tf.memory().numTensors;
    expect(() => new SwinTransformer({ ...tiny, numHeads: [2] })).toThrow(
      /numHeads needs one entry per stage/,
    );
    expect(() => new SwinTransformer({ ...tiny, imgSize: 9, patchSize: 2 })).toThrow(
      /divisible by patchSize/,
    );
    expect(() => new SwinTransformer({ ...tiny, embedDim: 6, numHeads: [4, 4] })).toThrow(
      /stage 0: embedDim 6/,
    );
    expect(() => new SwinTransformer({ ...tiny, labelHeadHiddenDims: [4] })).toThrow(/needs multiLabel/);
    expect(() => new SwinTransformer({ ...tiny, attention: { scoreNorm: 'bogus' as 'softmax' } })).toThrow(
      /scoreNorm/,
    );
    expect(tf.memory().numTensors).toBe(before);
    const model = new SwinTransformer(tiny);
    expect(() => model.forward(tf.zeros([1, 9, 8, 2]))).toThrow(
      /SwinTransformer: expected input \[B, 8, 8, 2\]/,
    );
    model.dispose();
  });
});
