// ConvKAN and S-ConvKAN: convolutions whose kernel is a KAN over each patch.
//
// "Convolutional Kolmogorov-Arnold Networks", Alexander Dylan Bodner, Antonio Santiago Tepsich, Jack
// Natan Spolski, Santiago Pourteau, 2024. https://arxiv.org/abs/2406.13155
// S-ConvKAN: "Activation Space Selectable Kolmogorov-Arnold Networks", Yang, Zhang, Luo, Lu, Shen, 2024.
// https://arxiv.org/abs/2408.08338 (reference code layout: SeriYann/KANConv2d).
//
// As in KANConv2d, the input is unfolded into patches of C·k·k values (PyTorch F.unfold order: channel
// major, then kernel row, then column), a KAN layer maps each patch to the output channels, and the
// result is folded back to NHWC [B, H_out, W_out, out]. The unfold is a convolution with a fixed
// one-hot kernel, so stride and padding follow Conv2d and gradients flow to the input on every backend.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardOptions,
  type ModelPreset,
  Module,
  ModuleList,
  type Random,
  registerModel,
} from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import type { BasisName } from './bases.js';
import { KANLinear, kanLinearProblems } from './kan-linear.js';
import { SKANLinear, type SKANPhase } from './skan.js';

export interface KANConv2dOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride?: number;
  /** Zero padding on each side (default 0). */
  padding?: number;
  /** 'kan' (one basis, `basis`) or 'skan' (selectable spaces, `spaces`). Default 'kan'. */
  kind?: 'kan' | 'skan';
  basis?: BasisName;
  spaces?: readonly BasisName[];
  gridSize?: number;
  splineOrder?: number;
  degree?: number;
  gridRange?: readonly [number, number];
  random?: Random;
}

/** Unfolds NHWC x into patches [B, H_out, W_out, C·k·k] (F.unfold's feature order). */
export function unfoldPatches(
  x: tf.Tensor4D,
  kernelSize: number,
  stride: number,
  padding: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const channels = x.shape[3];
    const k = kernelSize;
    const features = channels * k * k;
    const kernel = new Float32Array(k * k * channels * features);
    for (let c = 0; c < channels; c++) {
      for (let row = 0; row < k; row++) {
        for (let column = 0; column < k; column++) {
          const feature = c * k * k + row * k + column;
          kernel[((row * k + column) * channels + c) * features + feature] = 1;
        }
      }
    }
    const padded =
      padding > 0
        ? tf.pad(x, [
            [0, 0],
            [padding, padding],
            [padding, padding],
            [0, 0],
          ])
        : x;
    return tf.conv2d(padded, tf.tensor4d(kernel, [k, k, channels, features]), stride, 'valid');
  });
}

/** A KAN convolution NHWC [B, H, W, in] -> [B, H_out, W_out, out]; its KAN is `kan` (pykan names inside). */
export class KANConv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  readonly kan: KANLinear | SKANLinear;

  constructor(options: KANConv2dOptions) {
    super();
    this.inChannels = options.inChannels;
    this.outChannels = options.outChannels;
    this.kernelSize = options.kernelSize;
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    const patch = this.inChannels * this.kernelSize * this.kernelSize;
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems = [
      ...(positive(this.kernelSize) ? [] : [`kernelSize must be a positive integer, got ${this.kernelSize}`]),
      ...(positive(this.stride) ? [] : [`stride must be a positive integer, got ${this.stride}`]),
      ...(Number.isInteger(this.padding) && this.padding >= 0
        ? []
        : [`padding must be a non-negative integer, got ${this.padding}`]),
      ...kanLinearProblems({ ...options, inFeatures: patch || 1, outFeatures: this.outChannels }),
    ];
    if (!positive(this.inChannels))
      problems.push(`inChannels must be a positive integer, got ${this.inChannels}`);
    if (problems.length > 0) throw new Error(`KANConv2d: ${problems.join('; ')}`);
    const layerOptions = {
      inFeatures: patch,
      outFeatures: this.outChannels,
      gridSize: options.gridSize,
      splineOrder: options.splineOrder,
      degree: options.degree,
      gridRange: options.gridRange,
      random: options.random,
    };
    this.kan = this.addModule(
      'kan',
      options.kind === 'skan'
        ? new SKANLinear({ ...layerOptions, spaces: options.spaces })
        : new KANLinear({ ...layerOptions, basis: options.basis }),
    );
  }

  forward(x: tf.Tensor, _options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(x, ['B', 'H', 'W', this.inChannels]);
    return tf.tidy(() => {
      const patches = unfoldPatches(x as tf.Tensor4D, this.kernelSize, this.stride, this.padding);
      const [batch, height, width, features] = patches.shape;
      const y = this.kan.forward(tf.reshape(patches, [batch * height * width, features]));
      return tf.reshape(y, [batch, height, width, this.outChannels]);
    });
  }
}

export interface ConvKANClassifierConfig {
  imgSize?: number | readonly [number, number];
  inChans?: number;
  numClasses?: number;
  /** Channels of the KAN convolutions (default [8, 16]); each is followed by 2x2 max pooling. */
  channels?: readonly number[];
  kernelSize?: number;
  /** 'kan' (ConvKAN) or 'skan' (S-ConvKAN). Default 'kan'. */
  kind?: 'kan' | 'skan';
  basis?: BasisName;
  spaces?: readonly BasisName[];
  gridSize?: number;
  splineOrder?: number;
  degree?: number;
  random?: Random;
}

/**
 * ConvKAN / S-ConvKAN image classifier: [KANConv2d (padding k/2) -> 2x2 max pool]* -> global average
 * pool -> KAN head (`head`, a KANLinear or SKANLinear). Stages are `convs.{i}`.
 */
export class ConvKANClassifier extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly channels: number[];
  readonly kind: 'kan' | 'skan';
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'convs.0';
  readonly convs: ModuleList<KANConv2d>;
  readonly config: ConvKANClassifierConfig;
  head: KANLinear | SKANLinear | Passthrough;
  #numClasses: number;

  constructor(config: ConvKANClassifierConfig = {}) {
    super();
    this.config = { ...config };
    const size = config.imgSize ?? 28;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.inChans = config.inChans ?? 1;
    this.channels = [...(config.channels ?? [8, 16])];
    this.kind = config.kind ?? 'kan';
    this.#numClasses = config.numClasses ?? 10;
    const kernelSize = config.kernelSize ?? 3;
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems = [
      !this.imgSize.every(positive) && `imgSize must be positive integers, got ${JSON.stringify(size)}`,
      !positive(this.inChans) && `inChans must be a positive integer, got ${this.inChans}`,
      !(this.channels.length > 0 && this.channels.every(positive)) &&
        `channels must be one or more positive integers, got [${this.channels.join(', ')}]`,
      !(Number.isInteger(this.#numClasses) && this.#numClasses >= 0) &&
        `numClasses must be a non-negative integer, got ${this.#numClasses}`,
      !(positive(kernelSize) && kernelSize % 2 === 1) &&
        `kernelSize must be an odd positive integer, got ${kernelSize}`,
      !['kan', 'skan'].includes(this.kind) && `kind must be 'kan' or 'skan', got '${this.kind}'`,
      ...kanLinearProblems({ ...config, inFeatures: 1, outFeatures: 1 }),
    ].filter((problem): problem is string => typeof problem === 'string');
    if (problems.length > 0) throw new Error(`ConvKANClassifier: ${problems.join('; ')}`);
    const widths = [this.inChans, ...this.channels];
    this.convs = this.addModule(
      'convs',
      new ModuleList(
        this.channels.map(
          (out, index) =>
            new KANConv2d({
              ...config,
              inChannels: widths[index]!,
              outChannels: out,
              kernelSize,
              padding: (kernelSize - 1) / 2,
              kind: this.kind,
            }),
        ),
      ),
    );
    this.numFeatures = this.channels.at(-1)!;
    this.headHiddenSize = this.numFeatures;
    this.head = this.addModule('head', this.#makeHead(this.#numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): KANLinear | SKANLinear | Passthrough {
    if (numClasses === 0) return new Passthrough();
    const options = { ...this.config, inFeatures: this.numFeatures, outFeatures: numClasses };
    return this.kind === 'skan' ? new SKANLinear(options) : new KANLinear(options);
  }

  /** Sets the S-KAN phase of every selectable layer (no-op for ConvKAN). */
  setPhase(phase: SKANPhase): void {
    for (const module of this.namedModules().values())
      if (module instanceof SKANLinear) module.setPhase(phase);
  }

  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    return tf.tidy(() => {
      let x = input as tf.Tensor4D;
      for (const conv of this.convs) {
        x = conv.forward(x, options) as tf.Tensor4D;
        if (x.shape[1] >= 2 && x.shape[2] >= 2) x = tf.maxPool(x, 2, 2, 'valid');
      }
      return tf.mean(x, [1, 2]);
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

/** Identity head (numClasses 0). */
export class Passthrough extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.clone(x);
  }
}

/** Parameters of a ConvKAN classifier with B-spline KANs: Σ fan_in · out · (G + k + 2). */
function convKanCount(
  channels: number[],
  inChans: number,
  kernel: number,
  classes: number,
  basis: number,
): number {
  let total = 0;
  let previous = inChans;
  for (const out of channels) {
    total += previous * kernel * kernel * out * (basis + 2);
    previous = out;
  }
  return total + previous * classes * (basis + 2);
}

/** S-KAN layer parameters: every space's KAN plus the selection logits. */
function sconvKanCount(
  channels: number[],
  inChans: number,
  kernel: number,
  classes: number,
  bases: number[],
): number {
  let total = 0;
  let previous = inChans;
  const layer = (fanIn: number, out: number) =>
    bases.reduce((sum, basis) => sum + fanIn * out * (basis + 2), 0) + bases.length * out;
  for (const out of channels) {
    total += layer(previous * kernel * kernel, out);
    previous = out;
  }
  return total + layer(previous, classes);
}

/** Presets (pure data). */
export const CONVKAN_PRESETS: Record<string, ModelPreset<ConvKANClassifierConfig>> = {
  convkan_fashion_mnist: {
    config: { imgSize: 28, inChans: 1, numClasses: 10, channels: [8, 16], kernelSize: 3, gridSize: 5 },
    numParameters: convKanCount([8, 16], 1, 3, 10, 8),
    description:
      'ConvKAN: two 3x3 B-spline KAN convolutions (8, 16 channels, G=5 k=3) with max pooling, KAN head.',
    paper: 'Convolutional Kolmogorov-Arnold Networks (arXiv 2406.13155)',
    source: 'mlzoo',
    packageName: '@mlzoo/kan',
  },
  sconvkan_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      channels: [8, 16],
      kernelSize: 3,
      kind: 'skan',
      spaces: ['bspline', 'rbf', 'chebyshev'],
      gridSize: 5,
    },
    // bspline G + k = 8, rbf G = 5, chebyshev degree + 1 = 4
    numParameters: sconvKanCount([8, 16], 1, 3, 10, [8, 5, 4]),
    description: 'S-ConvKAN: ConvKAN whose nodes select among B-spline, RBF and Chebyshev spaces.',
    paper: 'Activation Space Selectable Kolmogorov-Arnold Networks (arXiv 2408.08338)',
    source: 'mlzoo',
    packageName: '@mlzoo/kan',
  },
};

export function createConvKANClassifier(config: ConvKANClassifierConfig): ConvKANClassifier {
  return new ConvKANClassifier(config);
}

/** Registers `convkan_fashion_mnist` and `sconvkan_fashion_mnist`. Nothing registers on import. */
export function registerConvKanModels(): void {
  for (const [name, preset] of Object.entries(CONVKAN_PRESETS))
    registerModel(name, createConvKANClassifier, preset);
}
