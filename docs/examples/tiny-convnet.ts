// A contributor's model, written as a zoo model file reads: config, blocks, model class, presets,
// register function. It implements core's Classifier surface so the shared suite, the registry and
// the CLI can use it without knowing the architecture.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardOptions,
  type ModelPreset,
  Module,
  registerModel,
} from '@mlzoo/core';
import { Conv2d, Identity, Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface TinyConvNetConfig {
  inChans?: number;
  numClasses?: number;
  /** Channels of the two stride-2 convolutions (default [8, 16]). */
  widths?: readonly [number, number];
}

/** conv3x3/2 -> ReLU -> conv3x3/2 -> ReLU -> global average pool -> head. NHWC input. */
export class TinyConvNet extends Module implements Classifier {
  readonly inChans: number;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'conv1';
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  head: Linear | Identity;
  #numClasses: number;

  constructor(config: TinyConvNetConfig = {}) {
    super();
    const [first, second] = config.widths ?? [8, 16];
    this.inChans = config.inChans ?? 1;
    this.#numClasses = config.numClasses ?? 10;
    this.conv1 = this.addModule(
      'conv1',
      new Conv2d({ inChannels: this.inChans, outChannels: first, kernelSize: 3, stride: 2, padding: 1 }),
    );
    this.conv2 = this.addModule(
      'conv2',
      new Conv2d({ inChannels: first, outChannels: second, kernelSize: 3, stride: 2, padding: 1 }),
    );
    this.numFeatures = second;
    this.headHiddenSize = second;
    this.head = this.addModule('head', this.#makeHead(this.#numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses })
      : new Identity();
  }

  /** [B, H, W, C] -> [B, H/4, W/4, numFeatures]. */
  forwardFeatures(input: tf.Tensor, _options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', 'H', 'W', this.inChans]);
    return tf.tidy(() => tf.relu(this.conv2.forward(tf.relu(this.conv1.forward(input)))));
  }

  /** Global average pool, then the classifier (or the pooled features with preLogits). */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const pooled = tf.mean(features, [1, 2]);
      return options.preLogits ? pooled : this.head.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  resetClassifier(numClasses: number): void {
    this.setSubmodule('head', this.#makeHead(numClasses)).dispose();
    this.#numClasses = numClasses;
  }
}

/** Presets are pure data: a variant is three lines, not a new class. */
export const TINY_CONVNET_PRESETS: Record<string, ModelPreset<TinyConvNetConfig>> = {
  tiny_convnet: {
    config: { inChans: 1, numClasses: 10, widths: [8, 16] },
    // conv1 8*1*3*3 + 8, conv2 16*8*3*3 + 16, head 16*10 + 10
    numParameters: 80 + 1168 + 170,
    description: 'Two stride-2 3x3 convolutions and a linear head, for 28x28 grayscale images',
    packageName: 'docs example',
  },
};

/** The factory the registry calls with the preset's config and any overrides. */
export function createTinyConvNet(config: TinyConvNetConfig): TinyConvNet {
  return new TinyConvNet(config);
}

/** Opt-in registration: nothing registers on import. */
export function registerTinyConvNetModels(): void {
  for (const [name, preset] of Object.entries(TINY_CONVNET_PRESETS)) {
    registerModel(name, createTinyConvNet, preset);
  }
}
