import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { init, Module, ModuleList, manualSeed, TRANSPOSED_2D } from '../src/index.js';

class Dense extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    super();
    this.weight = this.addParameter(
      'weight',
      init.torchDefaultWeight([inFeatures, outFeatures], { fanIn: inFeatures, fanOut: outFeatures }),
      { layout: TRANSPOSED_2D },
    );
    this.bias = this.addParameter('bias', init.zeros([outFeatures]));
  }
  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape(x, ['B', this.inFeatures]);
    return tf.add(tf.matMul(x, this.weight), this.bias);
  }
}

class Norm extends Module {
  readonly runningMean = this.addBuffer('running_mean', init.zeros([3]));
  readonly scratch = this.addBuffer('scratch', init.zeros([3]), { persistent: false });
}

class Net extends Module {
  readonly stem = this.addModule('stem', new Dense(4, 3));
  readonly blocks = this.addModule('blocks', new ModuleList([new Dense(3, 3), new Dense(3, 3)]));
  readonly norm = this.addModule('norm', new Norm());
  readonly head = this.addModule('head', new Dense(3, 2));
  forward(x: tf.Tensor): tf.Tensor {
    let y = this.stem.forward(x);
    for (const block of this.blocks) y = block.forward(y);
    return this.head.forward(y);
  }
}

describe('Module', () => {
  it('names parameters and buffers with PyTorch dotted paths in registration order', () => {
    const net = new Net();
    expect([...net.namedParameters().keys()]).toEqual([
      'stem.weight',
      'stem.bias',
      'blocks.0.weight',
      'blocks.0.bias',
      'blocks.1.weight',
      'blocks.1.bias',
      'head.weight',
      'head.bias',
    ]);
    expect([...net.namedBuffers().keys()]).toEqual(['norm.running_mean', 'norm.scratch']);
    expect(net.numParameters()).toBe(4 * 3 + 3 + 2 * (9 + 3) + 3 * 2 + 2);
    expect(net.blocks.at(1).path).toBe('blocks.1');
    net.dispose();
  });

  it('state dict uses PyTorch layouts and round-trips', () => {
    manualSeed(1);
    const net = new Net();
    const shapes = net.stateDictShapes();
    expect(shapes['stem.weight']).toEqual([3, 4]);
    expect(shapes['norm.running_mean']).toEqual([3]);
    expect(shapes['norm.scratch']).toBeUndefined();
    const state = net.stateDict();
    const expected = net.stem.weight.arraySync() as number[][];
    expect(state['stem.weight']!.arraySync()).toEqual(
      expected[0]!.map((_, column) => expected.map((row) => row[column])),
    );
    manualSeed(2);
    const other = new Net();
    const x = tf.randomNormal([2, 4], 0, 1, 'float32', 3);
    expect(other.forward(x).arraySync()).not.toEqual(net.forward(x).arraySync());
    expect(other.loadStateDict(state)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(other.forward(x).arraySync()).toEqual(net.forward(x).arraySync());
    tf.dispose([x, ...Object.values(state)]);
    net.dispose();
    other.dispose();
  });

  it('strict loading lists missing and unexpected keys; shape mismatches name the key', () => {
    const net = new Net();
    const state = net.stateDict();
    const extra = tf.zeros([1]);
    const partial = { ...state, 'blocks.9.weight': extra } as Record<string, tf.Tensor>;
    delete partial['head.bias'];
    expect(() => net.loadStateDict(partial)).toThrow(
      /missing keys: head\.bias; unexpected keys: blocks\.9\.weight/,
    );
    expect(net.loadStateDict(partial, { strict: false })).toEqual({
      missingKeys: ['head.bias'],
      unexpectedKeys: ['blocks.9.weight'],
    });
    const wrong = { ...state, 'stem.weight': tf.zeros([4, 3]) };
    expect(() => net.loadStateDict(wrong)).toThrow('stem.weight: expected shape [3, 4], got [4, 3]');
    tf.dispose([extra, wrong['stem.weight'], ...Object.values(state)]);
    net.dispose();
  });

  it('freezes by prefix and replaces submodules by path', () => {
    const net = new Net();
    net.freeze('stem', 'blocks.0');
    expect([...net.namedParameters({ trainable: true }).keys()]).toEqual([
      'blocks.1.weight',
      'blocks.1.bias',
      'head.weight',
      'head.bias',
    ]);
    expect(() => net.freeze('nothing')).toThrow(/no parameters under 'nothing'/);
    const replacement = new Dense(3, 5);
    const old = net.setSubmodule('head', replacement);
    expect(net.head).toBe(replacement);
    expect(net.stateDictShapes()['head.weight']).toEqual([5, 3]);
    old.dispose();
    const block = new Dense(3, 3);
    net.setSubmodule('blocks.1', block);
    expect(net.blocks.at(1)).toBe(block);
    expect(block.path).toBe('blocks.1');
    net.dispose();
  });

  it('shape errors name the module path and both shapes', () => {
    const net = new Net();
    const x = tf.zeros([2, 5]);
    expect(() => net.forward(x)).toThrow('stem: expected input [B, 4], got [2, 5]');
    x.dispose();
    net.dispose();
  });

  it('dispose releases every variable', () => {
    const before = tf.memory().numTensors;
    const net = new Net();
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('initializers', () => {
  it('truncNormal stays within bounds, matches the moments, and is fast for narrow far-off bounds', async () => {
    const { truncNormal } = init;
    const { Random } = await import('../src/index.js');
    const wide = truncNormal([20000], { std: 0.02, random: new Random(1) });
    const values = Array.from(wide.dataSync());
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(2);
    const mean = values.reduce((sum, value) => sum + value, 0) / values.length;
    const std = Math.sqrt(values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / values.length);
    expect(Math.abs(mean)).toBeLessThan(0.001);
    expect(std).toBeGreaterThan(0.0195);
    expect(std).toBeLessThan(0.0205);
    // far-off narrow bounds take the inverse-CDF path (rejection sampling would run for minutes and
    // hit the test timeout); the values must lie inside and follow the falling density
    const narrow = truncNormal([10000], { a: 5, b: 5.01, random: new Random(2) });
    const narrowValues = Array.from(narrow.dataSync());
    expect(Math.min(...narrowValues)).toBeGreaterThanOrEqual(5);
    expect(Math.max(...narrowValues)).toBeLessThanOrEqual(5.01);
    // the density falls across [5, 5.01]: more samples in the lower half
    expect(narrowValues.filter((value) => value < 5.005).length).toBeGreaterThan(5000);
    // a one-sided tail: mean of N(0,1) given z > 3 is phi(3) / (1 - Phi(3)) = 3.2831
    const tailTensor = truncNormal([20000], { a: 3, b: 50, random: new Random(3) });
    const tail = Array.from(tailTensor.dataSync());
    expect(tail.reduce((sum, value) => sum + value, 0) / tail.length).toBeCloseTo(3.283, 1);
    tf.dispose([wide, narrow, tailTensor]);
  });
});
