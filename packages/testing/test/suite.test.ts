import {
  type Classifier,
  type ForwardHeadOptions,
  init,
  Module,
  setBackend,
  TRANSPOSED_2D,
} from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  BACKEND_AGREEMENT_TOLERANCE,
  checkAgreesWithCpu,
  checkClassifierSurface,
  checkGradients,
  checkModel,
  checkNoLeaks,
  checkParameterCount,
  checkStateDictRoundTrip,
  type ModelSuiteSpec,
  runModelSuite,
} from '../src/index.js';

class Dense extends Module {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(inputs: number, outputs: number) {
    super();
    this.weight = this.addParameter(
      'weight',
      init.torchDefaultWeight([inputs, outputs], { fanIn: inputs, fanOut: outputs }),
      {
        layout: TRANSPOSED_2D,
      },
    );
    this.bias = this.addParameter('bias', init.torchDefaultBias([outputs], { fanIn: inputs }));
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.add(tf.matMul(x, this.weight), this.bias));
  }
}

/** A small but complete classifier used to exercise the suite (a one-hidden-layer MLP on NHWC input). */
class TinyMlp extends Module implements Classifier {
  readonly classifierName = 'head';
  readonly firstLayerName = 'fc1';
  readonly numFeatures = 16;
  readonly headHiddenSize = 16;
  numClasses: number;
  fc1: Dense;
  head: Dense | null;
  constructor(
    readonly inputSize: number,
    numClasses: number,
    readonly flaw?: 'leak' | 'dead-parameter' | 'nondeterministic-load' | 'backend-dependent',
  ) {
    super();
    this.numClasses = numClasses;
    this.fc1 = this.addModule('fc1', new Dense(inputSize, 16));
    this.head = this.addModule('head', new Dense(16, numClasses));
    if (flaw === 'dead-parameter') this.addModule('unused', new Dense(2, 2));
  }
  forwardFeatures(x: tf.Tensor): tf.Tensor {
    if (this.flaw === 'leak') tf.keep(tf.zeros([1]));
    const features = tf.relu(this.fc1.forward(tf.reshape(x, [x.shape[0]!, -1])));
    // off by 10x the agreement tolerance everywhere but on cpu
    if (this.flaw === 'backend-dependent' && tf.getBackend() !== 'cpu') {
      return tf.add(features, 10 * BACKEND_AGREEMENT_TOLERANCE);
    }
    return features;
  }
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    if (options.preLogits || !this.head) return features;
    return this.head.forward(features);
  }
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(x)));
  }
  resetClassifier(numClasses: number): void {
    const old = this.head;
    if (numClasses > 0) {
      if (old) this.setSubmodule('head', new Dense(16, numClasses));
    }
    this.numClasses = numClasses;
    if (numClasses === 0) this.head = null;
    old?.dispose();
  }
}

const spec = (flaw?: TinyMlp['flaw']): ModelSuiteSpec<TinyMlp> => ({
  name: `tiny_mlp${flaw ? `_${flaw}` : ''}`,
  create: () => new TinyMlp(4 * 4 * 2, 3, flaw),
  inputShape: [4, 4, 2],
  numParameters: 32 * 16 + 16 + 16 * 3 + 3,
});

runModelSuite(spec());

describe('the checks catch broken models', () => {
  it('a leak', async () => {
    await expect(checkNoLeaks(spec('leak'))).rejects.toThrow(
      /tiny_mlp_leak: forward \(inference\) leaves 1 tensors besides its output/,
    );
  });

  it('a parameter no gradient reaches', async () => {
    await expect(checkGradients(spec('dead-parameter'))).rejects.toThrow(
      /no gradient reaches 2 parameters: unused.weight, unused.bias/,
    );
  });

  it('a wrong parameter count', () => {
    expect(() => checkParameterCount({ ...spec(), numParameters: 100 })).toThrow(
      /has 579 parameters, the preset says 100/,
    );
  });

  it('a state dict that does not restore the model', async () => {
    const broken: ModelSuiteSpec<TinyMlp> = {
      ...spec(),
      create: () => {
        const model = new TinyMlp(32, 3);
        const original = model.loadStateDict.bind(model);
        model.loadStateDict = (tensors, options) => {
          const { ['head.bias']: _dropped, ...rest } = tensors;
          return original(rest, { ...options, strict: false });
        };
        return model;
      },
    };
    await expect(checkStateDictRoundTrip(broken)).rejects.toThrow(/round trip lost keys: .*head\.bias/);
  });

  it('a classifier name that is not in the state dict', async () => {
    const broken = { ...spec(), create: () => Object.assign(new TinyMlp(32, 3), { classifierName: 'fc' }) };
    await expect(checkClassifierSurface(broken as ModelSuiteSpec<TinyMlp>)).rejects.toThrow(
      /classifierName 'fc' names no state-dict entry/,
    );
  });

  describe('agreement with the cpu backend (on the active backend, or wasm when that is cpu)', () => {
    // the agreement check needs a backend other than cpu: the lane's own, or wasm on the cpu lane
    const active = tf.getBackend();
    const other = active === 'cpu' ? 'wasm' : active;
    const onOtherBackend = async (run: () => Promise<void>) => {
      await setBackend(other as 'wasm', { quiet: true });
      try {
        await run();
      } finally {
        await tf.setBackend(active);
      }
    };

    it('passes for a model that computes the same everywhere, and leaves no tensors', async () => {
      const before = tf.memory().numTensors;
      await onOtherBackend(() => checkAgreesWithCpu(spec()));
      expect(tf.getBackend()).toBe(active);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('reports a model whose output depends on the backend, naming the element and both values', async () => {
      await onOtherBackend(async () => {
        await expect(checkAgreesWithCpu(spec('backend-dependent'))).rejects.toThrow(
          new RegExp(
            `tiny_mlp_backend-dependent: inference output: element \\d+ is .* on ${other}, .* on cpu`,
          ),
        );
      });
    });

    it('refuses to compare cpu with itself', async () => {
      await setBackend('cpu', { quiet: true });
      try {
        await expect(checkAgreesWithCpu(spec())).rejects.toThrow(/the active one is cpu/);
      } finally {
        await tf.setBackend(active);
      }
    });
  });

  it('checkModel reports every failing check', async () => {
    const failures = await checkModel(spec('dead-parameter'));
    expect(failures.map((failure) => failure.check)).toEqual([
      'parameter count equals the preset',
      'every trainable parameter receives a finite gradient',
    ]);
  });
});
