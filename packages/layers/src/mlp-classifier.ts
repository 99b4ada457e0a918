// A plain MLP image classifier (the simplest zoo model): flatten -> [Linear -> act -> dropout]* -> head.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardOptions,
  type ModelPreset,
  Module,
  type Random,
  registerModel,
} from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { Activation, type ActivationName } from './activations.js';
import { dropout } from './dropout.js';
import { Identity } from './identity.js';
import { Linear } from './linear.js';

export interface MlpClassifierConfig {
  /** Image size, square or [height, width] (default 28). */
  imgSize?: number | readonly [number, number];
  /** Image channels (default 1). */
  inChans?: number;
  /** Classes (default 10; 0 makes `forward` return the last hidden features). */
  numClasses?: number;
  /** Hidden layer widths (default [512, 256]). */
  hiddenDims?: readonly number[];
  /** Dropout after each hidden activation, in training (default 0). */
  dropRate?: number;
  /** Hidden activation (default 'relu'). */
  activation?: ActivationName;
  random?: Random;
}

/**
 * MLP classifier on NHWC images [B, H, W, C], flattened in (h, w, c) order. Parameter names:
 * `fc1`, `fc2`, ... for the hidden layers (`fc{i}.weight` [out, in], `fc{i}.bias`) and `head` for the
 * classifier. Implements core's `Classifier` surface.
 *
 * Note: PyTorch flattens NCHW images in (c, h, w) order; for single-channel images (Fashion-MNIST) the
 * orders agree, so a PyTorch MLP's state dict loads as is.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { MlpClassifier } from '@mlzoo/layers';
 *
 * const model = new MlpClassifier({ imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [512, 256] });
 * model.numParameters(); // 535818
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class MlpClassifier extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly hiddenDims: number[];
  readonly dropRate: number;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName: string;
  readonly hidden: Linear[] = [];
  readonly act: Activation;
  head: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: MlpClassifierConfig = {}) {
    super();
    const size = config.imgSize ?? 28;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.inChans = config.inChans ?? 1;
    this.hiddenDims = [...(config.hiddenDims ?? [512, 256])];
    this.dropRate = config.dropRate ?? 0;
    this.#numClasses = config.numClasses ?? 10;
    this.#random = config.random;
    // everything is checked before the first variable exists, so a bad config leaks nothing
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems = [
      !this.imgSize.every(positive) && `imgSize must be positive integers, got ${JSON.stringify(size)}`,
      !positive(this.inChans) && `inChans must be a positive integer, got ${this.inChans}`,
      !this.hiddenDims.every(positive) &&
        `hiddenDims must be positive integers, got [${this.hiddenDims.join(', ')}]`,
      !(Number.isInteger(this.#numClasses) && this.#numClasses >= 0) &&
        `numClasses must be a non-negative integer, got ${this.#numClasses}`,
      !(this.dropRate >= 0 && this.dropRate < 1) && `dropRate must be in [0, 1), got ${this.dropRate}`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`MlpClassifier: ${problems.join('; ')}`);
    let width = this.imgSize[0] * this.imgSize[1] * this.inChans;
    this.hiddenDims.forEach((hidden, index) => {
      this.hidden.push(
        this.addModule(
          `fc${index + 1}`,
          new Linear({ inFeatures: width, outFeatures: hidden, random: this.#random }),
        ),
      );
      width = hidden;
    });
    this.act = this.addModule('act', new Activation(config.activation ?? 'relu'));
    this.numFeatures = width;
    this.headHiddenSize = width;
    this.firstLayerName = this.hiddenDims.length > 0 ? 'fc1' : 'head';
    this.head = this.addModule('head', this.#makeHead(this.#numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  /** Flattened image through the hidden layers: [B, H, W, C] -> [B, numFeatures]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    return tf.tidy(() => {
      let x = tf.reshape(input, [input.shape[0]!, -1]);
      for (const layer of this.hidden) {
        x = dropout(this.act.forward(layer.forward(x)), this.dropRate, {
          training: options.training,
          random: this.#random,
        });
      }
      return x;
    });
  }

  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', this.numFeatures], 'features');
    return options.preLogits ? features : this.head.forward(features);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    const old = this.setSubmodule('head', this.#makeHead(numClasses));
    old.dispose();
    this.#numClasses = numClasses;
  }
}

/** Presets of `MlpClassifier` (pure data). */
export const MLP_CLASSIFIER_PRESETS: Record<string, ModelPreset<MlpClassifierConfig>> = {
  mlp_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      hiddenDims: [512, 256],
      dropRate: 0,
      activation: 'relu',
    },
    numParameters: 535_818,
    description: 'MLP 784-512-256-10 with ReLU for 28x28 grayscale images (Fashion-MNIST).',
    source: 'mlzoo',
    packageName: '@mlzoo/layers',
  },
};

/** Registers this package's models (`mlp_fashion_mnist`) with core's `createModel`. Nothing registers on import. */
export function registerLayersModels(): void {
  for (const [name, preset] of Object.entries(MLP_CLASSIFIER_PRESETS)) {
    registerModel(name, createMlpClassifier, preset);
  }
}

/** Factory used by the registry. */
export function createMlpClassifier(config: MlpClassifierConfig): MlpClassifier {
  return new MlpClassifier(config);
}
