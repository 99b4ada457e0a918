// S-KAN (selectable activation spaces), KANConv2d against PyTorch's F.unfold + pykan layer, and the
// ConvKAN / S-ConvKAN classifiers through the model suite.
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { CONVKAN_PRESETS, ConvKANClassifier, KANConv2d, type KANConv2dOptions } from '../src/convkan.js';
import { SKAN, SKANLinear } from '../src/skan.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);

describe('KANConv2d golden fixtures', () => {
  for (const name of fixtureNames(FIXTURES).filter((n) => n.startsWith('kan_conv2d_'))) {
    it(`${name}: output and gradients`, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      const conv = new KANConv2d(fixture.options as unknown as KANConv2dOptions);
      checkAgainstFixture(fixture, conv, (x) => conv.forward(x), 1e-4);
      conv.dispose();
      fixture.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});

describe('S-KAN phases', () => {
  it('full: equal weights; selective: softmax of learnable logits; pruned: one space per node', () => {
    const before = tf.memory().numTensors;
    const layer = new SKANLinear({
      inFeatures: 2,
      outFeatures: 3,
      spaces: ['bspline', 'chebyshev'],
      gridSize: 3,
    });
    const x = tf.randomNormal([5, 2], 0, 1, 'float32', 1);
    expect(layer.phase).toBe('full');
    expect(layer.selection.trainable).toBe(false);
    tf.tidy(() => {
      const expected = tf.mul(0.5, tf.add(layer.spaces.at(0).forward(x), layer.spaces.at(1).forward(x)));
      expect(tf.max(tf.abs(tf.sub(layer.forward(x), expected))).dataSync()[0]).toBeLessThan(1e-6);
    });
    layer.setPhase('selective');
    expect(layer.selection.trainable).toBe(true);
    expect(tf.tidy(() => layer.selectionEntropy().dataSync()[0])).toBeCloseTo(Math.log(2), 5);
    // node 0 and 2 prefer chebyshev, node 1 bspline
    tf.tidy(() =>
      layer.selection.assign(
        tf.tensor2d([
          [-2, 3, -1],
          [2, -3, 1],
        ]),
      ),
    );
    expect(layer.chosenSpaces()).toEqual(['chebyshev', 'bspline', 'chebyshev']);
    layer.setPhase('pruned');
    expect(layer.selection.trainable).toBe(false);
    tf.tidy(() => {
      const bspline = layer.spaces.at(0).forward(x).arraySync() as number[][];
      const chebyshev = layer.spaces.at(1).forward(x).arraySync() as number[][];
      const output = layer.forward(x).arraySync() as number[][];
      output.forEach((row, b) => {
        expect(row[0]).toBeCloseTo(chebyshev[b]![0]!, 5);
        expect(row[1]).toBeCloseTo(bspline[b]![1]!, 5);
        expect(row[2]).toBeCloseTo(chebyshev[b]![2]!, 5);
      });
    });
    x.dispose();
    layer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the selective phase learns to pick the space the target came from', () => {
    const before = tf.memory().numTensors;
    const teacher = new SKANLinear({
      inFeatures: 1,
      outFeatures: 1,
      spaces: ['fourier'],
      gridSize: 3,
      noiseScale: 2,
    });
    const student = new SKAN({ widths: [1, 1], spaces: ['bspline', 'fourier'], gridSize: 3, noiseScale: 2 });
    const layer = student.layers.at(0);
    // the student's fourier space starts as the teacher's, so that space explains the data
    tf.tidy(() => layer.spaces.at(1).coef.assign(teacher.spaces.at(0).coef));
    tf.tidy(() => layer.spaces.at(1).scaleBase.assign(teacher.spaces.at(0).scaleBase));
    const x = tf.tidy(() => tf.reshape(tf.linspace(-1, 1, 32), [32, 1]));
    const y = teacher.forward(x);
    student.setPhase('selective');
    const optimizer = tf.train.adam(0.1);
    for (let step = 0; step < 25; step++) {
      optimizer.minimize(
        () =>
          tf.tidy(
            () =>
              tf.add(
                tf.mean(tf.square(tf.sub(student.forward(x), y))),
                tf.mul(1e-3, student.selectionEntropy()),
              ) as tf.Scalar,
          ),
        false,
        [layer.selection],
      );
    }
    expect(layer.chosenSpaces()).toEqual(['fourier']);
    optimizer.dispose();
    tf.dispose([x, y]);
    teacher.dispose();
    student.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects unknown spaces', () => {
    expect(() => new SKANLinear({ inFeatures: 1, outFeatures: 1, spaces: ['spline' as never] })).toThrow(
      /SKANLinear: unknown space 'spline'/,
    );
  });
});

describe('ConvKAN presets', () => {
  for (const [name, preset] of Object.entries(CONVKAN_PRESETS)) {
    it(`${name}: parameter count`, () => {
      const model = new ConvKANClassifier(preset.config);
      expect(model.numParameters()).toBe(preset.numParameters);
      model.dispose();
    });
  }
});

runModelSuite({
  name: 'convkan_tiny',
  create: () => new ConvKANClassifier({ imgSize: 6, inChans: 1, numClasses: 3, channels: [2], gridSize: 3 }),
  inputShape: [6, 6, 1],
  numParameters: 9 * 2 * 8 + 2 * 3 * 8,
  tolerance: 1e-5,
});

runModelSuite({
  name: 'sconvkan_tiny',
  create: () =>
    new ConvKANClassifier({
      imgSize: 6,
      inChans: 1,
      numClasses: 3,
      channels: [2],
      gridSize: 3,
      kind: 'skan',
      spaces: ['bspline', 'chebyshev'],
    }),
  inputShape: [6, 6, 1],
  // bspline: 6 + 2 per edge, chebyshev (degree 3): 4 + 2 per edge, plus 2 selection logits per node
  numParameters: 9 * 2 * (8 + 6) + 2 * 2 + 2 * 3 * (8 + 6) + 2 * 3,
  tolerance: 1e-5,
});
