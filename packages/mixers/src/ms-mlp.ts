// MS-MLP: hierarchical vision MLP whose token mixing circularly shifts channel groups by different
// distances and mixes each group with a depthwise conv of its own size ("mix-shift").
//
// Paper: "Mixing and Shifting: Exploiting Global and Local Dependencies in Vision MLPs", Huangjie Zheng,
// Pengcheng He, Weizhu Chen, Mingyuan Zhou, 2022, arXiv:2202.06510 (https://arxiv.org/abs/2202.06510).
// Reference implementation: JegZheng/MS-MLP, `models/ms_mlp.py` (`MS_MLP`, `MixShiftBlock`, `PatchEmbed`,
// channels-last `LayerNorm`), configs `configs/msmlp_tiny_patch4_shift5_224.yaml`. Parameter names are its
// state-dict keys (`patch_embed.proj`, `layers.{i}.blocks.{j}.dwconv_lr.{k}`, `dwconv_td.{k}`, `norm`,
// `pwconv1`, `pwconv2`, `gamma`, `layers.{i}.downsample.{proj,norm}`, `norm`, `head`).
//
// Layout: the reference runs NCHW and chunks/rolls along dims 1/2/3; here everything is NHWC, so the
// channel chunks are taken on the last axis and "lr" rolls move along W (axis 2), "td" along H (axis 1).
// Shifts are circular (torch.roll), done with slice + concat (tfjs has no roll).
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  type ForwardOptions,
  init,
  type ModelPreset,
  Module,
  ModuleList,
  type Random,
  registerModel,
  resolveIntermediateIndices,
} from '@mlzoo/core';
import { Activation, Conv2d, DropPath, Identity, LayerNorm, Linear, PatchEmbed } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface MsMlpConfig {
  /** Image size, square or [height, width] (default 224). Each stage halves it. */
  imgSize?: number | readonly [number, number];
  /** Patch size of the stem (default 4). */
  patchSize?: number;
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0 makes `forward` return the pooled, normalised features). */
  numClasses?: number;
  /** Width of the first stage; stage i has embedDim * 2^i (default 96). */
  embedDim?: number;
  /** Blocks per stage (default [3, 3, 9, 3], the tiny yaml). */
  depths?: readonly number[];
  /** Channel groups per block (their shift_size; default 5). */
  shiftSize?: number;
  /** Circular shift of each group (their shift_dist; default [-2, -1, 0, 1, 2]). */
  shiftDist?: readonly number[];
  /** Depthwise kernel size of each group, per stage (their mix_size; default the tiny yaml's). */
  mixSize?: readonly (readonly number[])[];
  /** Channel MLP width as a multiple of the stage width (default 4). */
  mlpRatio?: number;
  /** Initial LayerScale `gamma` (default 1e-6; 0 disables it, and the key, as the reference). */
  layerScaleInitValue?: number;
  /** Stochastic depth, rising linearly from 0 over all blocks to this (default 0; the yaml trains with 0.1). */
  dropPathRate?: number;
  random?: Random;
}

const TINY_MIX_SIZE = [
  [1, 1, 3, 5, 7],
  [1, 3, 3, 5, 7],
  [1, 5, 5, 5, 7],
  [1, 7, 7, 7, 7],
] as const;

/** torch.chunk(n) sizes along a dimension of `size`: chunks of ceil(size / n), the last one smaller. */
export function chunkSizes(size: number, chunks: number): number[] {
  const step = Math.ceil(size / chunks);
  const sizes: number[] = [];
  for (let offset = 0; offset < size; offset += step) sizes.push(Math.min(step, size - offset));
  return sizes;
}

/** torch.roll(x, shift, axis): element i moves to (i + shift) mod n, with slice + concat. */
export function roll(x: tf.Tensor, shift: number, axis: number): tf.Tensor {
  const size = x.shape[axis]!;
  const amount = ((shift % size) + size) % size;
  if (amount === 0) return x;
  return tf.tidy(() => {
    const begin = x.shape.map(() => 0);
    const tailBegin = [...begin];
    tailBegin[axis] = size - amount;
    const tailSize = x.shape.map((dimension, index) => (index === axis ? amount : dimension));
    const headSize = x.shape.map((dimension, index) => (index === axis ? size - amount : dimension));
    return tf.concat([tf.slice(x, tailBegin, tailSize), tf.slice(x, begin, headSize)], axis);
  });
}

/**
 * A stride-1, 'same'-padded depthwise convolution computed from `conv`'s own parameters as a sum of
 * k x k shifted slices times per-channel weights. Same results as `conv.forward`.
 *
 * @deprecated The blocks now call `conv.forward` (tfjs depthwise kernels; @mlzoo/core registers their
 * backprops on wasm). This was a workaround for tfjs-backend-wasm 4.22's missing depthwise backprops.
 */
export function depthwiseBySlices(conv: Conv2d, input: tf.Tensor): tf.Tensor {
  const [kernelHeight, kernelWidth] = conv.kernelSize;
  return tf.tidy(() => {
    const [batch, height, width, channels] = input.shape as [number, number, number, number];
    const padHeight = Math.floor(kernelHeight / 2);
    const padWidth = Math.floor(kernelWidth / 2);
    const padded =
      padHeight + padWidth > 0
        ? tf.pad(input, [
            [0, 0],
            [padHeight, padHeight],
            [padWidth, padWidth],
            [0, 0],
          ])
        : input;
    // stored HWIO [kH, kW, 1, C] for groups = C
    const taps = tf.reshape(conv.weight, [kernelHeight * kernelWidth, channels]);
    let output: tf.Tensor | null = null;
    for (let row = 0; row < kernelHeight; row++) {
      for (let column = 0; column < kernelWidth; column++) {
        const window = tf.slice(padded, [0, row, column, 0], [batch, height, width, channels]);
        const weight = tf.reshape(tf.slice(taps, [row * kernelWidth + column, 0], [1, channels]), [channels]);
        const term = tf.mul(window, weight);
        output = output ? tf.add(output, term) : term;
      }
    }
    return conv.bias ? tf.add(output!, conv.bias) : output!;
  });
}

export interface MixShiftBlockOptions {
  dim: number;
  shiftSize?: number;
  shiftDist?: readonly number[];
  /** Kernel size per channel group. */
  mixSize: readonly number[];
  mlpRatio?: number;
  layerScaleInitValue?: number;
  dropPathRate?: number;
  random?: Random;
}

/**
 * The reference's `MixShiftBlock` on NHWC [B, H, W, C]: split C into groups (torch.chunk), roll group k
 * by shiftDist[k] along W ("lr") and along H ("td"), mix each rolled group with its own depthwise conv
 * (`dwconv_lr.{k}`, `dwconv_td.{k}`, kernel mixSize[k], padding k // 2, bias), add the two branches, then
 * `x + gamma * pwconv2(GELU(pwconv1(norm(.))))`.
 */
export class MixShiftBlock extends Module {
  readonly dim: number;
  readonly chunkSizes: number[];
  readonly shiftDist: number[];
  readonly dwconvLr: ModuleList<Conv2d>;
  readonly dwconvTd: ModuleList<Conv2d>;
  readonly norm: LayerNorm;
  readonly pwconv1: Linear;
  readonly act: Activation;
  readonly pwconv2: Linear;
  readonly gamma: tf.Variable | null;
  readonly dropPath: DropPath | null;

  constructor(options: MixShiftBlockOptions) {
    super();
    const { dim, random } = options;
    this.dim = dim;
    const sizes = chunkSizes(dim, options.shiftSize ?? 5);
    const shiftDist = [...(options.shiftDist ?? [-2, -1, 0, 1, 2])];
    // as the reference's zip(): as many groups as chunks, shifts and kernel sizes all exist
    const groups = Math.min(sizes.length, shiftDist.length, options.mixSize.length);
    this.chunkSizes = sizes.slice(0, groups);
    if (groups < sizes.length) {
      throw new Error(
        `MixShiftBlock: ${sizes.length} channel groups of dim ${dim} but only ${groups} shifts/kernel sizes`,
      );
    }
    this.shiftDist = shiftDist.slice(0, groups);
    const depthwise = (channels: number, kernel: number) =>
      new Conv2d({
        inChannels: channels,
        outChannels: channels,
        kernelSize: kernel,
        padding: Math.floor(kernel / 2),
        groups: channels,
        random,
      });
    this.dwconvLr = this.addModule(
      'dwconv_lr',
      new ModuleList(this.chunkSizes.map((channels, index) => depthwise(channels, options.mixSize[index]!))),
    );
    this.dwconvTd = this.addModule(
      'dwconv_td',
      new ModuleList(this.chunkSizes.map((channels, index) => depthwise(channels, options.mixSize[index]!))),
    );
    const hidden = Math.floor((options.mlpRatio ?? 4) * dim);
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: dim, eps: 1e-6 }));
    this.pwconv1 = this.addModule('pwconv1', new Linear({ inFeatures: dim, outFeatures: hidden, random }));
    this.act = this.addModule('act', new Activation('gelu'));
    this.pwconv2 = this.addModule('pwconv2', new Linear({ inFeatures: hidden, outFeatures: dim, random }));
    const scale = options.layerScaleInitValue ?? 1e-6;
    this.gamma = scale > 0 ? this.addParameter('gamma', init.constant([dim], scale)) : null;
    this.dropPath = options.dropPathRate
      ? this.addModule('drop_path', new DropPath({ probability: options.dropPathRate, random }))
      : null;
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', 'H', 'W', this.dim]);
    return tf.tidy(() => {
      const groups = tf.split(input, this.chunkSizes, 3);
      const lr = groups.map((group, index) =>
        this.dwconvLr.at(index).forward(roll(group, this.shiftDist[index]!, 2)),
      );
      const td = groups.map((group, index) =>
        this.dwconvTd.at(index).forward(roll(group, this.shiftDist[index]!, 1)),
      );
      const mixed = tf.add(tf.concat(lr, 3), tf.concat(td, 3));
      let x = this.pwconv2.forward(this.act.forward(this.pwconv1.forward(this.norm.forward(mixed))));
      if (this.gamma) x = tf.mul(x, this.gamma);
      if (this.dropPath) x = this.dropPath.forward(x, options);
      return tf.add(input, x);
    });
  }
}

/** The reference's `BasicLayer`: `blocks.{j}` then, except in the last stage, `downsample` (PatchEmbed 2x2 + LN). */
export class MsMlpStage extends Module {
  readonly blocks: ModuleList<MixShiftBlock>;
  readonly downsample: PatchEmbed | null;

  constructor(blocks: MixShiftBlock[], downsample: PatchEmbed | null) {
    super();
    this.blocks = this.addModule('blocks', new ModuleList(blocks));
    this.downsample = downsample ? this.addModule('downsample', downsample) : null;
  }
}

/**
 * MS-MLP (the reference's `MS_MLP`) on NHWC images. State dict as the reference: `patch_embed.proj.*`,
 * `patch_embed.norm.*`, `layers.{i}.blocks.{j}.*`, `layers.{i}.downsample.*`, `norm.*`, `head.*`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { MsMlp } from '@mlzoo/mixers';
 *
 * const model = new MsMlp({ imgSize: 28, patchSize: 2, inChans: 1, numClasses: 10, embedDim: 48,
 *   depths: [2, 2], mixSize: [[1, 1, 3, 5, 7], [1, 3, 3, 5, 7]] });
 * model.numParameters(); // 217082
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class MsMlp extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly patchSize: number;
  readonly inChans: number;
  readonly embedDim: number;
  readonly depths: number[];
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'patch_embed.proj';
  readonly patchEmbed: PatchEmbed;
  readonly layers: ModuleList<MsMlpStage>;
  readonly norm: LayerNorm;
  head: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: MsMlpConfig = {}) {
    super();
    const size = config.imgSize ?? 224;
    const imgSize: [number, number] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    const patchSize = config.patchSize ?? 4;
    const inChans = config.inChans ?? 3;
    const numClasses = config.numClasses ?? 1000;
    const embedDim = config.embedDim ?? 96;
    const depths = [...(config.depths ?? [3, 3, 9, 3])];
    const shiftSize = config.shiftSize ?? 5;
    const shiftDist = [...(config.shiftDist ?? [-2, -1, 0, 1, 2])];
    const mixSize = (config.mixSize ?? TINY_MIX_SIZE).map((sizes) => [...sizes]);
    const mlpRatio = config.mlpRatio ?? 4;
    const dropPathRate = config.dropPathRate ?? 0;
    const stages = depths.length;
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const reduction = patchSize * 2 ** Math.max(0, stages - 1);
    // everything is checked before the first variable exists, so a bad config leaks nothing
    const problems = [
      !imgSize.every(positive) && `imgSize must be positive integers, got ${JSON.stringify(size)}`,
      !positive(patchSize) && `patchSize must be a positive integer, got ${patchSize}`,
      imgSize.every(positive) &&
        positive(patchSize) &&
        imgSize.some((side) => side % reduction !== 0) &&
        `imgSize ${JSON.stringify(size)} must be divisible by patchSize * 2^(stages - 1) = ${reduction}`,
      !positive(inChans) && `inChans must be a positive integer, got ${inChans}`,
      !(Number.isInteger(numClasses) && numClasses >= 0) &&
        `numClasses must be a non-negative integer, got ${numClasses}`,
      !positive(embedDim) && `embedDim must be a positive integer, got ${embedDim}`,
      !(stages > 0 && depths.every(positive)) &&
        `depths must be positive integers, got [${depths.join(', ')}]`,
      !positive(shiftSize) && `shiftSize must be a positive integer, got ${shiftSize}`,
      !(shiftDist.length >= shiftSize && shiftDist.every(Number.isInteger)) &&
        `shiftDist must hold ${shiftSize} integers, got [${shiftDist.join(', ')}]`,
      !(
        mixSize.length >= stages &&
        mixSize.every((sizes) => sizes.length >= shiftSize && sizes.every((k) => positive(k) && k % 2 === 1))
      ) && `mixSize must give ${shiftSize} odd kernel sizes for each of the ${stages} stages`,
      !(Math.floor(mlpRatio * embedDim) > 0) && `mlpRatio must give a positive hidden width, got ${mlpRatio}`,
      !(dropPathRate >= 0 && dropPathRate < 1) && `dropPathRate must be in [0, 1), got ${dropPathRate}`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`MsMlp: ${problems.join('; ')}`);
    this.imgSize = imgSize;
    this.patchSize = patchSize;
    this.inChans = inChans;
    this.embedDim = embedDim;
    this.depths = depths;
    this.numFeatures = embedDim * 2 ** (stages - 1);
    this.headHiddenSize = this.numFeatures;
    this.#numClasses = numClasses;
    this.#random = config.random;
    const random = this.#random;
    this.patchEmbed = this.addModule(
      'patch_embed',
      new PatchEmbed({
        imgSize,
        patchSize,
        inChans,
        embedDim,
        normEps: 1e-6,
        flatten: false,
        mode: 'linear',
        random,
      }),
    );
    // stochastic depth decay rule: linspace(0, rate, total blocks)
    const total = depths.reduce((sum, depth) => sum + depth, 0);
    const rates = Array.from({ length: total }, (_, index) =>
      total > 1 ? (dropPathRate * index) / (total - 1) : 0,
    );
    this.layers = this.addModule('layers', new ModuleList<MsMlpStage>());
    let grid: [number, number] = [imgSize[0] / patchSize, imgSize[1] / patchSize];
    let blockIndex = 0;
    depths.forEach((depth, stage) => {
      const dim = embedDim * 2 ** stage;
      const blocks = Array.from(
        { length: depth },
        () =>
          new MixShiftBlock({
            dim,
            shiftSize,
            shiftDist,
            mixSize: mixSize[stage]!,
            mlpRatio,
            layerScaleInitValue: config.layerScaleInitValue,
            dropPathRate: rates[blockIndex++],
            random,
          }),
      );
      const downsample =
        stage < stages - 1
          ? new PatchEmbed({
              imgSize: grid,
              patchSize: 2,
              inChans: dim,
              embedDim: 2 * dim,
              normEps: 1e-6,
              flatten: false,
              mode: 'linear',
              random,
            })
          : null;
      this.layers.append(new MsMlpStage(blocks, downsample));
      grid = [grid[0] / 2, grid[1] / 2];
    });
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: this.numFeatures, eps: 1e-6 }));
    this.head = this.addModule('head', this.#makeHead(numClasses));
    this.#initWeights();
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    if (numClasses === 0) return new Identity();
    const head = new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random });
    this.#initLinear(head);
    return head;
  }

  /** The reference's `_init_weights`: Linear weights trunc_normal(std 0.02), biases 0 (convs keep torch's default). */
  #initLinear(linear: Linear): void {
    const weight = init.truncNormal(linear.weight.shape, { std: 0.02, random: this.#random });
    linear.weight.assign(weight);
    weight.dispose();
    if (linear.bias) {
      const zeros = init.zeros(linear.bias.shape);
      linear.bias.assign(zeros);
      zeros.dispose();
    }
  }

  #initWeights(): void {
    for (const module of this.namedModules().values()) if (module instanceof Linear) this.#initLinear(module);
  }

  /**
   * Runs the stem and the stages up to `lastStage`; `visit` sees each stage's output before its downsample.
   */
  #run(
    input: tf.Tensor,
    lastStage: number,
    options: ForwardOptions,
    visit?: (stage: number, x: tf.Tensor) => void,
  ): tf.Tensor {
    let x = this.patchEmbed.forward(input);
    for (let stage = 0; stage <= lastStage; stage++) {
      const layer = this.layers.at(stage);
      for (const block of layer.blocks) x = block.forward(x, options);
      visit?.(stage, x);
      if (layer.downsample && stage < this.depths.length - 1) x = layer.downsample.forward(x);
    }
    return x;
  }

  /** The last stage's feature map: [B, H, W, C] -> [B, H / 2^(stages+1), W / ..., numFeatures]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.#run(input, this.depths.length - 1, options));
  }

  /** Global average pool -> `norm` -> `head` (preLogits: the pooled, normalised features). */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'H', 'W', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = this.norm.forward(tf.mean(features, [1, 2]));
      return options.preLogits ? pooled : this.head.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** NHWC feature maps of the selected stages (after their blocks, before their downsample). */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const indices = resolveIntermediateIndices(options.indices, this.depths.length);
    return tf.tidy(() => {
      const outputs = new Map<number, tf.Tensor>();
      this.#run(input, Math.max(-1, ...indices), options, (stage, x) => outputs.set(stage, x));
      return indices.map((index) => outputs.get(index)!);
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

// ---- presets -----------------------------------------------------------------------------------

const PAPER =
  'Mixing and Shifting: Exploiting Global and Local Dependencies in Vision MLPs (arXiv:2202.06510)';

/** Presets of `MsMlp` (pure data). */
export const MS_MLP_PRESETS: Record<string, ModelPreset<MsMlpConfig>> = {
  msmlp_tiny: {
    config: {
      imgSize: 224,
      patchSize: 4,
      inChans: 3,
      numClasses: 1000,
      embedDim: 96,
      depths: [3, 3, 9, 3],
      shiftSize: 5,
      shiftDist: [-2, -1, 0, 1, 2],
      mixSize: TINY_MIX_SIZE,
      mlpRatio: 4,
    },
    numParameters: 28_656_232,
    description: 'MS-MLP-T (msmlp_tiny_patch4_shift5_224.yaml); trained with drop-path 0.1.',
    paper: PAPER,
    source: 'JegZheng/MS-MLP models/ms_mlp.py, configs/msmlp_tiny_patch4_shift5_224.yaml',
    packageName: '@mlzoo/mixers',
  },
  msmlp_fashion_mnist: {
    config: {
      imgSize: 28,
      patchSize: 2,
      inChans: 1,
      numClasses: 10,
      embedDim: 48,
      depths: [2, 2],
      shiftSize: 5,
      shiftDist: [-2, -1, 0, 1, 2],
      mixSize: [
        [1, 1, 3, 5, 7],
        [1, 3, 3, 5, 7],
      ],
      mlpRatio: 4,
    },
    numParameters: 217_082,
    description:
      'MS-MLP for 28x28 grayscale images: patch 2, stages of width 48 (14x14) and 96 (7x7), 2 blocks each.',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/mixers',
  },
};

function withOverrides(name: string, overrides: MsMlpConfig): MsMlp {
  return new MsMlp({ ...MS_MLP_PRESETS[name]!.config, ...overrides });
}

export const msmlpTiny = (overrides: MsMlpConfig = {}) => withOverrides('msmlp_tiny', overrides);
export const msmlpFashionMnist = (overrides: MsMlpConfig = {}) =>
  withOverrides('msmlp_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createMsMlp(config: MsMlpConfig): MsMlp {
  return new MsMlp(config);
}

/** Registers every `MS_MLP_PRESETS` entry with core's `createModel`. Nothing registers on import. */
export function registerMsMlpModels(): void {
  for (const [name, preset] of Object.entries(MS_MLP_PRESETS)) registerModel(name, createMsMlp, preset);
}
