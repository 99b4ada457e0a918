// MAXIM blocks and the mlzoo MAXIM classifier: the shared model suite on a tiny config, preset counts,
// golden fixtures from the PyTorch re-creation of the Flax modules (tools/fixtures/maxim.py), the
// transposed-conv convention, and config errors.
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  bilinearResizeMatrix,
  CrossGatingBlock,
  FlaxConvTransposeUp,
  MAXIM_PRESETS,
  MAXIM_UNET_PRESETS,
  MaximClassifier,
  type MaximClassifierConfig,
  MaximUNet,
  type MaximUNetConfig,
  MultiAxisGmlpBlock,
  type MultiAxisGmlpBlockOptions,
  maximFashionMnist,
} from '../src/maxim.js';

const FIXTURES = new URL('../fixtures/maxim/', import.meta.url);

const tiny: MaximClassifierConfig = {
  imgSize: [8, 12],
  inChans: 2,
  numClasses: 3,
  features: 4,
  depth: 2,
  numGroups: 1,
  numBottleneckBlocks: 1,
  blockSizes: [
    [2, 2],
    [2, 3],
    [1, 3],
  ],
  gridSizes: [
    [4, 2],
    [1, 3],
  ],
  channelsReduction: 2,
  dropRate: 0.1,
};

runModelSuite({
  name: 'maxim_tiny',
  create: () => new MaximClassifier(tiny),
  inputShape: [8, 12, 2],
  // from the PyTorch re-creation (tools/fixtures/maxim.py, MaximClassifier with the same config)
  numParameters: 6_783,
});

describe('MAXIM presets', () => {
  it('parameter counts equal the models built from the presets', () => {
    const before = tf.memory().numTensors;
    for (const [name, preset] of Object.entries(MAXIM_PRESETS)) {
      const model = new MaximClassifier(preset.config);
      expect(model.numParameters(), name).toBe(preset.numParameters);
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the fashion-mnist preset classifies 28x28x1 images; forwardIntermediates taps levels, bottleneck, gating', () => {
    const before = tf.memory().numTensors;
    const model = maximFashionMnist();
    const input = tf.randomNormal([1, 28, 28, 1]);
    const taps = model.forwardIntermediates(input);
    expect(taps.map((tap) => tap.shape)).toEqual([
      [1, 28, 28, 24],
      [1, 14, 14, 48],
      [1, 7, 7, 48],
      [1, 14, 14, 48],
    ]);
    // the last tap is the cross-gated map that forwardFeatures normalises: it classifies into 10 classes
    const logits = tf.tidy(() => model.forwardHead(model.norm.forward(taps[3]!)));
    expect(logits.shape).toEqual([1, 10]);
    tf.dispose([input, logits, ...taps]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('MAXIM golden fixtures (PyTorch re-creation of the Flax modules)', () => {
  const names = fixtureNames(FIXTURES);
  it('has fixtures', () => {
    expect(names.length).toBeGreaterThan(0);
  });
  for (const name of names) {
    it(name, () => {
      const fixture = loadFixture(FIXTURES, name);
      const before = tf.memory().numTensors;
      if (fixture.layer === 'MaximUNet') {
        const unet = new MaximUNet(fixture.options as MaximUNetConfig);
        checkAgainstFixture(fixture, unet, (input, options) => unet.forward(input, options), 1e-4);
        unet.dispose();
      } else if (fixture.layer === 'MultiAxisGmlpBlock') {
        const block = new MultiAxisGmlpBlock(fixture.options as unknown as MultiAxisGmlpBlockOptions);
        checkAgainstFixture(fixture, block, (input, options) => block.forward(input, options), 1e-4);
        block.dispose();
      } else {
        const model = new MaximClassifier(fixture.options as MaximClassifierConfig);
        checkAgainstFixture(fixture, model, (input, options) => model.forward(input, options), 1e-4);
        model.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
      fixture.dispose();
    });
  }
});

describe('MAXIM layers', () => {
  it('ConvTranspose up-sampling puts x[i, j] @ kernel[1 - a, 1 - b] at (2i + a, 2j + b) (Flax SAME convention)', async () => {
    const before = tf.memory().numTensors;
    const up = new FlaxConvTransposeUp({ inFeatures: 1, features: 1 });
    tf.tidy(() => up.kernel.assign(tf.tensor4d([1, 2, 3, 4], [2, 2, 1, 1])));
    const input = tf.tensor4d([1, 10], [1, 1, 2, 1]);
    const output = up.forward(input);
    expect(output.shape).toEqual([1, 2, 4, 1]);
    expect(Array.from(await output.data())).toEqual([4, 3, 40, 30, 2, 1, 20, 10]);
    tf.dispose([input, output]);
    up.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the cross-gating block returns gated x and y of the same shape and names the size mismatch', () => {
    const before = tf.memory().numTensors;
    const block = new CrossGatingBlock({
      xChannels: 6,
      yChannels: 8,
      features: 4,
      imageSize: [4, 4],
      blockSize: [2, 2],
      gridSize: [2, 2],
    });
    const x = tf.randomNormal([2, 4, 4, 6]);
    const y = tf.randomNormal([2, 2, 2, 8]);
    const [gatedX, gatedY] = block.forward(x, y);
    expect(gatedX.shape).toEqual([2, 4, 4, 4]);
    expect(gatedY.shape).toEqual([2, 4, 4, 4]);
    const wrong = tf.randomNormal([2, 4, 4, 8]);
    expect(() => block.forward(x, wrong)).toThrow(/CrossGatingBlock: y gives a 8x8 map, expected 4x4/);
    tf.dispose([x, y, gatedX, gatedY, wrong]);
    block.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('MAXIM UNet (one stage)', () => {
  it('MAXIM-S-1 and MAXIM-M-1 have the parameter counts of the reference code comments', () => {
    const before = tf.memory().numTensors;
    for (const [name, preset] of Object.entries(MAXIM_UNET_PRESETS)) {
      const model = new MaximUNet(preset.config);
      expect(model.numParameters(), name).toBe(preset.numParameters);
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('every parameter of a tiny UNet gets a finite gradient', async () => {
    const before = tf.memory().numTensors;
    const model = new MaximUNet({
      imgSize: 8,
      features: 4,
      depth: 2,
      numGroups: 1,
      numBottleneckBlocks: 1,
      channelsReduction: 2,
      highResStages: 1,
      blockSizeHr: [2, 2],
      blockSizeLr: [2, 2],
      gridSizeHr: [2, 2],
    });
    const input = tf.randomNormal([1, 8, 8, 3]);
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(model.forward(input, { training: true }))) as tf.Scalar,
    );
    expect(Object.keys(grads).length).toBe(model.parameters().length);
    for (const grad of Object.values(grads)) {
      const values = await grad.data();
      expect(values.every((item) => Number.isFinite(item))).toBe(true);
    }
    tf.dispose([value, input, ...Object.values(grads)]);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the bilinear resize matrices follow jax.image.resize (half-pixel centres, antialiased down-sampling)', async () => {
    const before = tf.memory().numTensors;
    const up = bilinearResizeMatrix(2, 4);
    expect(Array.from(await up.data()).map((value) => Number(value.toFixed(6)))).toEqual([
      1, 0.75, 0.25, 0, 0, 0.25, 0.75, 1,
    ]);
    const down = bilinearResizeMatrix(4, 2);
    // triangle of half-width 2 input pixels around input 0.5 and 2.5, renormalised at the borders
    expect(Array.from(await down.data()).map((value) => Number(value.toFixed(6)))).toEqual([
      0.428571, 0, 0.428571, 0.142857, 0.142857, 0.428571, 0, 0.428571,
    ]);
    tf.dispose([up, down]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('MAXIM config errors', () => {
  const cases: Array<[string, MaximClassifierConfig, RegExp]> = [
    ['image not halving depth times', { imgSize: 28, depth: 3 }, /must be divisible by 2\^depth = 8/],
    [
      'block size not dividing a level',
      {
        imgSize: 32,
        depth: 2,
        blockSizes: [
          [16, 16],
          [32, 32],
          [8, 8],
        ],
        gridSizes: [
          [16, 16],
          [16, 16],
        ],
      },
      /blockSizes\[1\] \[32, 32\] must divide the 16x16 map/,
    ],
    ['wrong number of sizes', { depth: 2, blockSizes: [[8, 8]] }, /blockSizes needs depth \+ 1 = 3 entries/],
  ];
  for (const [title, config, message] of cases) {
    it(title, () => {
      const before = tf.memory().numTensors;
      expect(() => new MaximClassifier(config)).toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
