// Dynamic Spectrum Mixer: "Dynamic Spectrum Mixer for Visual Recognition", Hu et al., 2023,
// https://arxiv.org/abs/2309.06721.
//
// No public implementation of the paper could be found, and only its abstract was available to us, so
// this is an mlzoo interpretation of what the abstract describes, not a port: parameter names, the
// exact block layout and every preset are ours, and no published checkpoint loads into it.
// What the abstract states and this model does: token interactions are represented in the frequency
// domain with the Discrete Cosine Transform (log-linear in the paper with a fast DCT; here a matMul by a
// fixed orthonormal DCT-II basis, which tfjs runs fast at these sizes and which has a gradient on every
// backend), and a dynamic spectrum weight generation layer selects frequency bands per image. Our
// choices: the spectrum is filtered along the height and along the width separately (a DCT along one
// axis, a per-frequency and per-channel filter, the inverse DCT), the filter of each image is a softmax
// mixture of a small learned bank (`filters_h`, `filters_w`) whose weights come from the pooled
// features (`spectrum_weights`), a channel branch (`mix_c`) joins them, and the three branches are
// combined with Vision Permutator's split re-weighting (`reweight`) before a projection (`proj`).
// Blocks are pre-norm (LayerNorm eps 1e-6) with an MLP, in a hierarchy of stages that each start with
// a strided convolution.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  type ForwardOptions,
  init,
  type ModelPreset,
  Module,
  type Random,
  registerModel,
  resolveIntermediateIndices,
} from '@mlzoo/core';
import { Conv2d, dropPath, gelu, Identity, LayerNorm, Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface DynamicSpectrumMixerConfig {
  /** Image size, square or [height, width] (default 224). */
  imgSize?: number | readonly [number, number];
  inChans?: number;
  /** Classes (default 1000; 0 makes `forward` return the pooled features). */
  numClasses?: number;
  /** Stride and kernel of the first stage's embedding conv (default 4); later stages halve the resolution. */
  patchSize?: number;
  /** Channels per stage (default [64, 128, 320, 512]). */
  embedDims?: readonly number[];
  /** Blocks per stage (default [2, 2, 6, 2]). */
  depths?: readonly number[];
  /** Spectrum filters in each bank, mixed per image by the dynamic weights (default 4). */
  numFilters?: number;
  /** MLP hidden width as a multiple of the channels (default 3). */
  mlpRatio?: number;
  /** Stochastic depth, rising linearly over the blocks to this value (default 0). */
  dropPathRate?: number;
  random?: Random;
}

/** Orthonormal DCT-II matrix D[k, i] = s_k cos(pi (2 i + 1) k / (2 n)), s_0 = sqrt(1 / n), s_k = sqrt(2 / n); D^-1 = D^T. */
export function dctBasis(size: number): tf.Tensor2D {
  const values = new Float32Array(size * size);
  for (let k = 0; k < size; k++) {
    const scale = Math.sqrt((k === 0 ? 1 : 2) / size);
    for (let i = 0; i < size; i++) {
      values[k * size + i] = scale * Math.cos((Math.PI * (2 * i + 1) * k) / (2 * size));
    }
  }
  return tf.tensor2d(values, [size, size]);
}

/** fc1 -> GELU -> fc2. */
class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(inFeatures: number, hidden: number, outFeatures: number, random?: Random) {
    super();
    this.fc1 = this.addModule('fc1', new Linear({ inFeatures, outFeatures: hidden, random }));
    this.fc2 = this.addModule('fc2', new Linear({ inFeatures: hidden, outFeatures, random }));
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(gelu(this.fc1.forward(input))));
  }
}

/**
 * The dynamic spectrum mixing layer on NHWC [B, H, W, C]: per image, spectrum filters for the height and
 * the width are mixed from their banks with softmax weights generated from the pooled input; the
 * input is filtered in the DCT domain along each axis (DCT, multiply, inverse DCT); a channel branch is
 * added; the three are re-weighted per channel (softmax over branches) and projected.
 */
export class DynamicSpectrumMixing extends Module {
  readonly dim: number;
  readonly size: [number, number];
  readonly numFilters: number;
  readonly filtersH: tf.Variable;
  readonly filtersW: tf.Variable;
  readonly spectrumWeights: Mlp;
  readonly mixC: Linear;
  readonly reweight: Mlp;
  readonly proj: Linear;
  readonly dctH: tf.Variable;
  readonly dctW: tf.Variable;

  constructor(options: {
    dim: number;
    size: readonly [number, number];
    numFilters: number;
    random?: Random;
  }) {
    super();
    const { dim, numFilters, random } = options;
    this.dim = dim;
    this.size = [options.size[0], options.size[1]];
    this.numFilters = numFilters;
    const [height, width] = this.size;
    const bank = (length: number) =>
      tf.tidy(() => tf.add(init.truncNormal([numFilters, length, dim], { std: 0.02, random }), 1));
    this.filtersH = this.addParameter('filters_h', bank(height));
    this.filtersW = this.addParameter('filters_w', bank(width));
    this.spectrumWeights = this.addModule(
      'spectrum_weights',
      new Mlp(dim, Math.max(Math.floor(dim / 4), 1), numFilters * dim, random),
    );
    this.mixC = this.addModule('mix_c', new Linear({ inFeatures: dim, outFeatures: dim, random }));
    this.reweight = this.addModule(
      'reweight',
      new Mlp(dim, Math.max(Math.floor(dim / 4), 1), 3 * dim, random),
    );
    this.proj = this.addModule('proj', new Linear({ inFeatures: dim, outFeatures: dim, random }));
    // fixed bases, not part of the state dict
    this.dctH = this.addBuffer('dct_h', dctBasis(height), { persistent: false });
    this.dctW = this.addBuffer('dct_w', dctBasis(width), { persistent: false });
  }

  forward(input: tf.Tensor): tf.Tensor {
    this.checkShape(input, ['B', this.size[0], this.size[1], this.dim]);
    return tf.tidy(() => {
      const [batch, height, width, channels] = input.shape as [number, number, number, number];
      const k = this.numFilters;
      // [B, K, C] softmax over the bank
      const weights = tf.softmax(
        tf.transpose(
          tf.reshape(this.spectrumWeights.forward(tf.mean(input, [1, 2])), [batch, k, channels]),
          [0, 2, 1],
        ),
      );
      const mixBank = (bank: tf.Tensor) =>
        // [B, C, K] x [C, K, L] -> [B, L, C]
        tf.transpose(
          tf.matMul(
            tf.transpose(weights, [1, 0, 2]) as tf.Tensor3D,
            tf.transpose(bank, [2, 0, 1]) as tf.Tensor3D,
          ),
          [1, 2, 0],
        );
      const filterH = mixBank(this.filtersH); // [B, H, C]
      const filterW = mixBank(this.filtersW); // [B, W, C]
      // along the height: [B, W, C, H] rows times D^T (DCT), filter, times D (inverse)
      const rowsH = tf.reshape(tf.transpose(input, [0, 2, 3, 1]), [-1, height]) as tf.Tensor2D;
      const spectrumH = tf.mul(
        tf.reshape(tf.matMul(rowsH, this.dctH as tf.Tensor2D, false, true), [batch, width, channels, height]),
        tf.expandDims(tf.transpose(filterH, [0, 2, 1]), 1),
      );
      const mixedH = tf.transpose(
        tf.reshape(tf.matMul(tf.reshape(spectrumH, [-1, height]) as tf.Tensor2D, this.dctH as tf.Tensor2D), [
          batch,
          width,
          channels,
          height,
        ]),
        [0, 3, 1, 2],
      );
      // along the width: [B, H, C, W]
      const rowsW = tf.reshape(tf.transpose(input, [0, 1, 3, 2]), [-1, width]) as tf.Tensor2D;
      const spectrumW = tf.mul(
        tf.reshape(tf.matMul(rowsW, this.dctW as tf.Tensor2D, false, true), [batch, height, channels, width]),
        tf.expandDims(tf.transpose(filterW, [0, 2, 1]), 1),
      );
      const mixedW = tf.transpose(
        tf.reshape(tf.matMul(tf.reshape(spectrumW, [-1, width]) as tf.Tensor2D, this.dctW as tf.Tensor2D), [
          batch,
          height,
          channels,
          width,
        ]),
        [0, 1, 3, 2],
      );
      const mixedC = this.mixC.forward(input);
      const pooled = tf.mean(tf.addN([mixedH, mixedW, mixedC]), [1, 2]);
      const branchWeights = tf.softmax(tf.reshape(this.reweight.forward(pooled), [batch, channels, 3]));
      const branch = (index: number) =>
        tf.reshape(tf.slice(branchWeights, [0, 0, index], [batch, channels, 1]), [batch, 1, 1, channels]);
      const combined = tf.addN([
        tf.mul(mixedH, branch(0)),
        tf.mul(mixedW, branch(1)),
        tf.mul(mixedC, branch(2)),
      ]);
      return this.proj.forward(combined);
    });
  }
}

/** Pre-norm block: x + DropPath(mixing(LN(x))), then x + DropPath(MLP(LN(x))). */
export class DynamicSpectrumBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: DynamicSpectrumMixing;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly dropPathRate: number;
  readonly #random: Random | undefined;

  constructor(options: {
    dim: number;
    size: readonly [number, number];
    numFilters: number;
    mlpRatio: number;
    dropPathRate: number;
    random?: Random;
  }) {
    super();
    const { dim, random } = options;
    this.dropPathRate = options.dropPathRate;
    this.#random = random;
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: dim, eps: 1e-6 }));
    this.attn = this.addModule(
      'attn',
      new DynamicSpectrumMixing({ dim, size: options.size, numFilters: options.numFilters, random }),
    );
    this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: dim, eps: 1e-6 }));
    this.mlp = this.addModule('mlp', new Mlp(dim, Math.floor(dim * options.mlpRatio), dim, random));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const drop = (x: tf.Tensor) =>
        dropPath(x, this.dropPathRate, { training: options.training, random: this.#random });
      const x = tf.add(input, drop(this.attn.forward(this.norm1.forward(input))));
      return tf.add(x, drop(this.mlp.forward(this.norm2.forward(x))));
    });
  }
}

/** A stage: `downsample.proj` (strided conv) then `blocks.{j}`. */
class Stage extends Module {
  readonly downsample: Conv2d;
  readonly blocks: DynamicSpectrumBlock[] = [];

  constructor(
    inChannels: number,
    dim: number,
    patch: number,
    blocks: DynamicSpectrumBlock[],
    random?: Random,
  ) {
    super();
    const holder = this.addModule('downsample', new Holder());
    this.downsample = holder.add(
      'proj',
      new Conv2d({ inChannels, outChannels: dim, kernelSize: patch, stride: patch, random }),
    );
    const list = this.addModule('blocks', new Holder());
    blocks.forEach((block, index) => {
      this.blocks.push(list.add(String(index), block));
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      let x = this.downsample.forward(input);
      for (const block of this.blocks) x = block.forward(x, options);
      return x;
    });
  }
}

/** A module whose children are added by name from outside. */
class Holder extends Module {
  add<M extends Module>(name: string, module: M): M {
    return this.addModule(name, module);
  }
}

/**
 * The mlzoo Dynamic Spectrum Mixer classifier on NHWC images [B, H, W, C] (see the file header: an
 * interpretation of the paper's abstract, with our own names): `stages.{i}.downsample.proj`,
 * `stages.{i}.blocks.{j}.{norm1, attn.{filters_h, filters_w, spectrum_weights, mix_c, reweight, proj},
 * norm2, mlp}`, `norm`, `head`. The spectrum filters are sized by each stage's resolution, so the image
 * size is fixed at construction.
 */
export class DynamicSpectrumMixer extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly embedDims: number[];
  readonly depths: number[];
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'stages.0.downsample.proj';
  readonly stages: Stage[] = [];
  readonly norm: LayerNorm;
  head: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: DynamicSpectrumMixerConfig = {}) {
    super();
    const size = config.imgSize ?? 224;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.inChans = config.inChans ?? 3;
    this.#numClasses = config.numClasses ?? 1000;
    this.#random = config.random;
    const patchSize = config.patchSize ?? 4;
    this.embedDims = [...(config.embedDims ?? [64, 128, 320, 512])];
    this.depths = [...(config.depths ?? [2, 2, 6, 2])];
    const numFilters = config.numFilters ?? 4;
    const mlpRatio = config.mlpRatio ?? 3;
    const dropPathRate = config.dropPathRate ?? 0;
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems: string[] = [];
    if (!this.imgSize.every(positive))
      problems.push(`imgSize must be positive integers, got ${String(size)}`);
    if (!positive(this.inChans)) problems.push(`inChans must be a positive integer, got ${this.inChans}`);
    if (!(Number.isInteger(this.#numClasses) && this.#numClasses >= 0)) {
      problems.push(`numClasses must be a non-negative integer, got ${this.#numClasses}`);
    }
    if (!positive(patchSize)) problems.push(`patchSize must be a positive integer, got ${patchSize}`);
    if (!positive(numFilters)) problems.push(`numFilters must be a positive integer, got ${numFilters}`);
    if (!(mlpRatio > 0)) problems.push(`mlpRatio must be positive, got ${mlpRatio}`);
    if (!(dropPathRate >= 0 && dropPathRate < 1))
      problems.push(`dropPathRate must be in [0, 1), got ${dropPathRate}`);
    const stageCount = this.embedDims.length;
    if (stageCount === 0 || !this.embedDims.every(positive) || this.depths.length !== stageCount) {
      problems.push(
        `embedDims and depths need one entry per stage, got [${this.embedDims.join(', ')}] and [${this.depths.join(', ')}]`,
      );
    }
    if (!this.depths.every((depth) => Number.isInteger(depth) && depth >= 0)) {
      problems.push(`depths must be non-negative integers, got [${this.depths.join(', ')}]`);
    }
    const divisor = patchSize * 2 ** Math.max(stageCount - 1, 0);
    if (this.imgSize[0] % divisor !== 0 || this.imgSize[1] % divisor !== 0) {
      problems.push(
        `imgSize ${this.imgSize.join('x')} must be divisible by patchSize * 2^(stages - 1) = ${divisor}`,
      );
    }
    if (problems.length > 0) throw new Error(`DynamicSpectrumMixer: ${problems.join('; ')}`);

    const random = this.#random;
    const total = this.depths.reduce((sum, depth) => sum + depth, 0);
    const rate = (index: number) => (total > 1 ? (dropPathRate * index) / (total - 1) : 0);
    const stages = this.addModule('stages', new Holder());
    let grid: [number, number] = [this.imgSize[0] / patchSize, this.imgSize[1] / patchSize];
    let inChannels = this.inChans;
    let blockIndex = 0;
    this.embedDims.forEach((dim, stage) => {
      if (stage > 0) grid = [grid[0] / 2, grid[1] / 2];
      const stageGrid: [number, number] = [...grid];
      const blocks = Array.from(
        { length: this.depths[stage]! },
        () =>
          new DynamicSpectrumBlock({
            dim,
            size: stageGrid,
            numFilters,
            mlpRatio,
            dropPathRate: rate(blockIndex++),
            random,
          }),
      );
      this.stages.push(
        stages.add(String(stage), new Stage(inChannels, dim, stage === 0 ? patchSize : 2, blocks, random)),
      );
      inChannels = dim;
    });
    this.numFeatures = inChannels;
    this.headHiddenSize = inChannels;
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: inChannels, eps: 1e-6 }));
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

  /** Stages and the final LayerNorm: [B, H, W, C] -> [B, h, w, numFeatures]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    return tf.tidy(() => {
      let x = input;
      for (const stage of this.stages) x = stage.forward(x, options);
      return this.norm.forward(x);
    });
  }

  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'h', 'w', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = tf.mean(features, [1, 2]);
      return options.preLogits ? pooled : this.head.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** Outputs of the selected stages (NHWC, the last before `norm`). */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.stages.length));
    const last = Math.max(...chosen);
    return tf.tidy(() => {
      const outputs: tf.Tensor[] = [];
      let x = input;
      for (let stage = 0; stage <= last; stage++) {
        x = this.stages[stage]!.forward(x, options);
        if (chosen.has(stage)) outputs.push(x);
      }
      return outputs;
    });
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

/**
 * Presets (pure data). The paper publishes no configuration we could read, so there is no official
 * preset; this small one is mlzoo's, its count from tools/fixtures/dynamic_spectrum_mixer.py.
 */
export const DYNAMIC_SPECTRUM_MIXER_PRESETS: Record<string, ModelPreset<DynamicSpectrumMixerConfig>> = {
  dynamic_spectrum_mixer_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      patchSize: 2,
      embedDims: [48, 96],
      depths: [2, 2],
      numFilters: 4,
      mlpRatio: 3,
    },
    numParameters: 282_634,
    description:
      'Small two-stage Dynamic Spectrum Mixer (mlzoo interpretation) for 28x28 grayscale images: 48 channels on 14x14, 96 on 7x7.',
    paper: 'Dynamic Spectrum Mixer for Visual Recognition (arXiv 2309.06721)',
    source: 'mlzoo',
    packageName: '@mlzoo/mixers',
  },
};

/** `dynamic_spectrum_mixer_fashion_mnist` with optional config overrides. */
export function dynamicSpectrumMixerFashionMnist(
  overrides: DynamicSpectrumMixerConfig = {},
): DynamicSpectrumMixer {
  return new DynamicSpectrumMixer({
    ...DYNAMIC_SPECTRUM_MIXER_PRESETS.dynamic_spectrum_mixer_fashion_mnist!.config,
    ...overrides,
  });
}

/** Factory used by the registry. */
export function createDynamicSpectrumMixer(config: DynamicSpectrumMixerConfig): DynamicSpectrumMixer {
  return new DynamicSpectrumMixer(config);
}

/** Registers the Dynamic Spectrum Mixer presets with core's `createModel`. Nothing registers on import. */
export function registerDynamicSpectrumMixerModels(): void {
  for (const [name, preset] of Object.entries(DYNAMIC_SPECTRUM_MIXER_PRESETS)) {
    registerModel(name, createDynamicSpectrumMixer, preset);
  }
}
