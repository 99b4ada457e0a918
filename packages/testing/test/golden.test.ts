import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSafetensors, init, Module, TRANSPOSED_2D } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkAgainstFixture,
  checkAgainstFixtureAsync,
  expectClose,
  expectCloseAsync,
  fixtureNames,
  loadFixture,
} from '../src/golden.js';

/** y = x W^T + b with PyTorch's [out, in] weight layout in the state dict. */
class Linear extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(inputs: number, outputs: number) {
    super();
    this.weight = this.addParameter('weight', init.zeros([inputs, outputs]), { layout: TRANSPOSED_2D });
    this.bias = this.addParameter('bias', init.zeros([outputs]));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.add(tf.matMul(x, this.weight), this.bias));
  }
}

// A fixture computed by hand in plain JavaScript (what a PyTorch script would write): a linear layer
// 3 -> 2 on a batch of 2, its output, the input gradient and the parameter gradients for a cotangent.
const weight = [
  [0.5, -1, 2],
  [1.5, 0.25, -0.75],
]; // [out, in]
const bias = [0.1, -0.2];
const input = [
  [1, 2, 3],
  [-1, 0.5, 4],
];
const cotangent = [
  [1, -2],
  [0.5, 3],
];
const output = input.map((row) =>
  weight.map((w, o) => w.reduce((sum, value, i) => sum + value * row[i]!, bias[o]!)),
);
const gradInput = cotangent.map((row) =>
  [0, 1, 2].map((i) => row.reduce((sum, c, o) => sum + c * weight[o]![i]!, 0)),
);
const gradWeight = [0, 1].map((o) =>
  [0, 1, 2].map((i) => cotangent.reduce((sum, c, b) => sum + c[o]! * input[b]![i]!, 0)),
);
const gradBias = [0, 1].map((o) => cotangent.reduce((sum, c) => sum + c[o]!, 0));

const folder = mkdtempSync(join(tmpdir(), 'mlzoo-golden-'));
function writeFixture(name: string, gradWeightValues: number[][]): void {
  const tensors = {
    'params.weight': tf.tensor2d(weight),
    'params.bias': tf.tensor1d(bias),
    input: tf.tensor2d(input),
    output: tf.tensor2d(output),
    cotangent: tf.tensor2d(cotangent),
    'grad.input': tf.tensor2d(gradInput),
    'grad.params.weight': tf.tensor2d(gradWeightValues),
    'grad.params.bias': tf.tensor1d(gradBias),
  };
  const metadata = { layer: 'Linear', options: JSON.stringify({ inputs: 3, outputs: 2 }), forward: '{}' };
  writeFileSync(join(folder, `${name}.safetensors`), encodeSafetensors(tensors, metadata));
  tf.dispose(Object.values(tensors));
}
writeFixture('linear', gradWeight);
// one element of the weight gradient off by 0.5: element 4 is row 1, column 1
writeFixture(
  'linear_wrong_gradient',
  gradWeight.map((row, o) => row.map((value, i) => (o === 1 && i === 1 ? value + 0.5 : value))),
);
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('golden fixtures', () => {
  it('lists fixtures by name', () => {
    expect(fixtureNames(folder)).toEqual(['linear', 'linear_wrong_gradient']);
  });

  for (const [variant, check] of [
    ['sync', checkAgainstFixture],
    ['async', checkAgainstFixtureAsync],
  ] as const) {
    it(`checkAgainstFixture (${variant}) accepts a module that matches, leaving no tensors`, async () => {
      const fixture = loadFixture(folder, 'linear');
      const module = new Linear(3, 2);
      const before = tf.memory().numTensors;
      try {
        await check(fixture, module, (x) => module.forward(x), 1e-6);
      } finally {
        expect(tf.memory().numTensors).toBe(before);
        module.dispose();
        fixture.dispose();
      }
    });

    it(`checkAgainstFixture (${variant}) names the wrong gradient element, leaving no tensors`, async () => {
      const fixture = loadFixture(folder, 'linear_wrong_gradient');
      const module = new Linear(3, 2);
      const before = tf.memory().numTensors;
      try {
        await expect(async () => check(fixture, module, (x) => module.forward(x), 1e-6)).rejects.toThrow(
          /linear_wrong_gradient grad\.params\.weight: element 4 is .*, expected .* \(tolerance 0\.000001\)/,
        );
      } finally {
        expect(tf.memory().numTensors).toBe(before);
        module.dispose();
        fixture.dispose();
      }
    });
  }

  it('expectClose and expectCloseAsync agree: relative tolerance 1 + |expected|', async () => {
    const expected = tf.tensor1d([100, 0]);
    const within = tf.tensor1d([100.5, 0.004]); // 0.5 / 101 and 0.004 / 1 are both <= 0.005
    const beyond = tf.tensor1d([100, 0.006]);
    try {
      expectClose(within, expected, 0.005, 'within');
      await expectCloseAsync(within, expected, 0.005, 'within');
      expect(() => expectClose(beyond, expected, 0.005, 'beyond')).toThrow(/beyond: element 1 is 0\.006/);
      await expect(expectCloseAsync(beyond, expected, 0.005, 'beyond')).rejects.toThrow(
        /beyond: element 1 is 0\.006/,
      );
    } finally {
      tf.dispose([expected, within, beyond]);
    }
  });
});
