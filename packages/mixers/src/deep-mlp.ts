// The deep MLP with inverted-bottleneck residual blocks on flattened images, from "Scaling MLPs".
//
// Paper: "Scaling MLPs: A Tale of Inductive Bias", Bachmann, Anagnostidis, Hofmann, NeurIPS 2023,
// arXiv:2306.13575 (https://arxiv.org/abs/2306.13575).
// Reference implementation: gregorbachmann/scaling_mlps, `models/networks.py` (`BottleneckMLP`,
// `BottleneckBlock`) and `models/__init__.py` (`get_architecture`: "B_{blocks}-Wi_{width}[-Ex_{factor}]",
// expansion 4 by default). Parameter names are that code's state-dict keys (`linear_in`, `linear_out`,
// `blocks.{i}.block.0` / `.2`, `layernorms.{i}`), so their released checkpoints load by key.
//
// Their loader turns images into NCHW tensors and flattens them in (channel, row, column) order;
// `flattenOrder: 'chw'` (the default) reproduces that from our NHWC input, so their weights see the
// same input vector. For single-channel images both orders agree.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  type ForwardOptions,
  type ModelPreset,
  Module,
  ModuleList,
  type Random,
  registerModel,
  resolveIntermediateIndices,
  Sequential,
} from '@mlzoo/core';
import { Activation, Identity, LayerNorm, Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface DeepMlpConfig {
  /** Image size, square or [height, width] (default 64, the paper's ImageNet-21k resolution). */
  imgSize?: number | readonly [number, number];
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0 makes `forward` return the last block's features). */
  numClasses?: number;
  /** Residual blocks ("B_12" in the paper's names; default 12). */
  numBlocks?: number;
  /** Residual stream width ("Wi_1024", their `thin`; default 1024). */
  width?: number;
  /** Hidden width of each block as a multiple of `width` (their expansion factor; default 4). */
  expansionFactor?: number;
  /** LayerNorm epsilon before each block (default 1e-5, torch's nn.LayerNorm). */
  normEps?: number;
  /** Flatten order of the image: 'chw' (default, as their NCHW loader) or 'hwc' (NHWC as is). */
  flattenOrder?: 'chw' | 'hwc';
  /** Generator for the initial weights (default: core's default generator). */
  random?: Random;
}

/**
 * Their `BottleneckBlock`: `block` = Sequential(Linear(thin, wide), GELU, Linear(wide, thin)), so the
 * state dict holds `block.0.*` and `block.2.*`. The residual add and the norm live in the model.
 */
export class BottleneckBlock extends Module {
  readonly thin: number;
  readonly wide: number;
  readonly block: Sequential;

  constructor(options: { thin: number; wide: number; random?: Random }) {
    super();
    const { thin, wide, random } = options;
    this.thin = thin;
    this.wide = wide;
    this.block = this.addModule(
      'block',
      new Sequential([
        new Linear({ inFeatures: thin, outFeatures: wide, random }),
        new Activation('gelu'),
        new Linear({ inFeatures: wide, outFeatures: thin, random }),
      ]),
    );
  }

  forward(input: tf.Tensor): tf.Tensor {
    return this.block.forward(input);
  }
}

/**
 * BottleneckMLP: flatten -> `linear_in` (d -> width) -> for each block `x + blocks.i(layernorms.i(x))`
 * -> `linear_out` (width -> classes). No final norm, no dropout (as the reference). Input NHWC.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { DeepMlp } from '@mlzoo/mixers';
 *
 * const model = new DeepMlp({ imgSize: 28, inChans: 1, numClasses: 10, numBlocks: 4, width: 128 });
 * model.numParameters(); // 629642
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class DeepMlp extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly numBlocks: number;
  readonly width: number;
  readonly expansionFactor: number;
  readonly flattenOrder: 'chw' | 'hwc';
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'linear_out';
  readonly firstLayerName = 'linear_in';
  readonly linearIn: Linear;
  linearOut: Linear | Identity;
  readonly blocks: ModuleList<BottleneckBlock>;
  readonly layernorms: ModuleList<LayerNorm>;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: DeepMlpConfig = {}) {
    super();
    const size = config.imgSize ?? 64;
    const imgSize: [number, number] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    const inChans = config.inChans ?? 3;
    const numClasses = config.numClasses ?? 1000;
    const numBlocks = config.numBlocks ?? 12;
    const width = config.width ?? 1024;
    const expansionFactor = config.expansionFactor ?? 4;
    const normEps = config.normEps ?? 1e-5;
    const flattenOrder = config.flattenOrder ?? 'chw';
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    // everything is checked before the first variable exists, so a bad config leaks nothing
    const problems = [
      !imgSize.every(positive) && `imgSize must be positive integers, got ${JSON.stringify(size)}`,
      !positive(inChans) && `inChans must be a positive integer, got ${inChans}`,
      !(Number.isInteger(numClasses) && numClasses >= 0) &&
        `numClasses must be a non-negative integer, got ${numClasses}`,
      !positive(numBlocks) && `numBlocks must be a positive integer, got ${numBlocks}`,
      !positive(width) && `width must be a positive integer, got ${width}`,
      !positive(expansionFactor * width) &&
        `expansionFactor * width must be a positive integer, got ${expansionFactor * width}`,
      !(normEps > 0) && `normEps must be positive, got ${normEps}`,
      flattenOrder !== 'chw' &&
        flattenOrder !== 'hwc' &&
        `flattenOrder must be 'chw' or 'hwc', got '${flattenOrder}'`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`DeepMlp: ${problems.join('; ')}`);
    this.imgSize = imgSize;
    this.inChans = inChans;
    this.numBlocks = numBlocks;
    this.width = width;
    this.expansionFactor = expansionFactor;
    this.flattenOrder = flattenOrder;
    this.numFeatures = width;
    this.headHiddenSize = width;
    this.#numClasses = numClasses;
    this.#random = config.random;
    const random = this.#random;
    this.linearIn = this.addModule(
      'linear_in',
      new Linear({ inFeatures: imgSize[0] * imgSize[1] * inChans, outFeatures: width, random }),
    );
    this.linearOut = this.addModule('linear_out', this.#makeHead(numClasses));
    this.blocks = this.addModule('blocks', new ModuleList<BottleneckBlock>());
    this.layernorms = this.addModule('layernorms', new ModuleList<LayerNorm>());
    for (let index = 0; index < numBlocks; index++) {
      this.blocks.append(new BottleneckBlock({ thin: width, wide: expansionFactor * width, random }));
      this.layernorms.append(new LayerNorm({ normalizedShape: width, eps: normEps }));
    }
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.width, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  /** [B, H, W, C] -> [B, H * W * C] in the configured order. */
  #flatten(input: tf.Tensor): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    const batch = input.shape[0]!;
    return this.flattenOrder === 'chw' && this.inChans > 1
      ? tf.reshape(tf.transpose(input, [0, 3, 1, 2]), [batch, -1])
      : tf.reshape(input, [batch, -1]);
  }

  /** Runs `linear_in` and the blocks up to `last`, handing each block's output to `visit`. */
  #run(input: tf.Tensor, last: number, visit?: (index: number, x: tf.Tensor) => void): tf.Tensor {
    let x = this.linearIn.forward(this.#flatten(input));
    for (let index = 0; index <= last; index++) {
      x = tf.add(x, this.blocks.at(index).forward(this.layernorms.at(index).forward(x)));
      visit?.(index, x);
    }
    return x;
  }

  /** The residual stream after the last block: [B, H, W, C] -> [B, width]. */
  forwardFeatures(input: tf.Tensor, _options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.#run(input, this.numBlocks - 1));
  }

  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', this.width], 'features');
    return options.preLogits ? features : this.linearOut.forward(features);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** The residual stream [B, width] after the selected blocks (all by default; n = the last n). */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const indices = resolveIntermediateIndices(options.indices, this.numBlocks);
    return tf.tidy(() => {
      const outputs = new Map<number, tf.Tensor>();
      this.#run(input, Math.max(-1, ...indices), (index, x) => outputs.set(index, x));
      return indices.map((index) => outputs.get(index)!);
    });
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    const old = this.setSubmodule('linear_out', this.#makeHead(numClasses));
    old.dispose();
    this.#numClasses = numClasses;
  }
}

// ---- presets -----------------------------------------------------------------------------------

const PAPER = 'Scaling MLPs: A Tale of Inductive Bias (arXiv:2306.13575)';
/** Classes of their ImageNet-21k pre-training set (`CLASS_DICT['imagenet21']` in data_utils/data_stats.py). */
const IMAGENET21K_CLASSES = 11_230;

function released(
  numBlocks: number,
  width: number,
  numParameters: number,
  name: string,
): ModelPreset<DeepMlpConfig> {
  return {
    config: {
      imgSize: 64,
      inChans: 3,
      numClasses: IMAGENET21K_CLASSES,
      numBlocks,
      width,
      expansionFactor: 4,
    },
    numParameters,
    description: `${name} BottleneckMLP at 64x64x3 with their 11,230-class ImageNet-21k head (released checkpoints).`,
    paper: PAPER,
    source: 'gregorbachmann/scaling_mlps models/networks.py, README',
    packageName: '@mlzoo/mixers',
  };
}

/** Presets of `DeepMlp` (pure data). The four released "B_x-Wi_y" models and a Fashion-MNIST one. */
export const DEEP_MLP_PRESETS: Record<string, ModelPreset<DeepMlpConfig>> = {
  deep_mlp_b12_wi1024_in21k: released(12, 1024, 124_843_998, 'B_12-Wi_1024'),
  deep_mlp_b12_wi512_in21k: released(12, 512, 37_261_790, 'B_12-Wi_512'),
  deep_mlp_b6_wi1024_in21k: released(6, 1024, 74_469_342, 'B_6-Wi_1024'),
  deep_mlp_b6_wi512_in21k: released(6, 512, 24_657_374, 'B_6-Wi_512'),
  deep_mlp_fashion_mnist: {
    config: { imgSize: 28, inChans: 1, numClasses: 10, numBlocks: 4, width: 128, expansionFactor: 4 },
    numParameters: 629_642,
    description: 'B_4-Wi_128 BottleneckMLP for 28x28 grayscale images (Fashion-MNIST).',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/mixers',
  },
};

function withOverrides(name: string, overrides: DeepMlpConfig): DeepMlp {
  return new DeepMlp({ ...DEEP_MLP_PRESETS[name]!.config, ...overrides });
}

export const deepMlpB12Wi1024In21k = (overrides: DeepMlpConfig = {}) =>
  withOverrides('deep_mlp_b12_wi1024_in21k', overrides);
export const deepMlpB12Wi512In21k = (overrides: DeepMlpConfig = {}) =>
  withOverrides('deep_mlp_b12_wi512_in21k', overrides);
export const deepMlpB6Wi1024In21k = (overrides: DeepMlpConfig = {}) =>
  withOverrides('deep_mlp_b6_wi1024_in21k', overrides);
export const deepMlpB6Wi512In21k = (overrides: DeepMlpConfig = {}) =>
  withOverrides('deep_mlp_b6_wi512_in21k', overrides);
export const deepMlpFashionMnist = (overrides: DeepMlpConfig = {}) =>
  withOverrides('deep_mlp_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createDeepMlp(config: DeepMlpConfig): DeepMlp {
  return new DeepMlp(config);
}

/** Registers every `DEEP_MLP_PRESETS` entry with core's `createModel`. Nothing registers on import. */
export function registerDeepMlpModels(): void {
  for (const [name, preset] of Object.entries(DEEP_MLP_PRESETS)) registerModel(name, createDeepMlp, preset);
}
