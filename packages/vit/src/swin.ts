// Swin Transformer: Liu, Lin, Cao, Hu, Wei, Zhang, Lin, Guo, "Swin Transformer: Hierarchical Vision
// Transformer using Shifted Windows", ICCV 2021, arXiv:2103.14030 (https://arxiv.org/abs/2103.14030).
// Follows timm's `timm/models/swin_transformer.py` (current layout: NHWC stages, `layers.{i}.downsample`
// at the start of stage i > 0, `head.fc`), so timm checkpoints load by key.
//
// Multi-label option after SwinCheX: Taslimi, Taslimi, Fathi, Salehi, Rohban, "SwinCheX: Multi-label
// classification on chest X-ray images with transformers", arXiv:2206.04246 (rohban-lab/SwinCheX,
// `models/swin_transformer.py`): one MLP head per label (`heads.{i}`, `heads2.{i}`, ... with ReLU
// between), each ending in 2 logits trained with a 2-class cross-entropy per label. A 2-class softmax
// over (a, b) is sigmoid(b - a), so this model returns the per-label log-odds b - a: `predictProbabilities`
// applies a sigmoid and `computeLoss` is binary cross-entropy on logits (the SwinCheX loss divided by
// the number of labels).
import {
  binaryCrossEntropyWithLogits,
  type Classifier,
  crossEntropy,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  type ForwardOptions,
  init,
  type LossName,
  type ModelPreset,
  Module,
  ModuleList,
  type Random,
  registerModel,
  resolveIntermediateIndices,
} from '@mlzoo/core';
import {
  dropout,
  dropPath,
  Identity,
  LayerNorm,
  Linear,
  Mlp,
  normalizeScores,
  PatchEmbed,
  SCORE_NORMS,
  type ScoreNorm,
} from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

/** Score normalisation of the window attention (see `normalizeScores` in @mlzoo/layers). */
export interface SwinAttentionConfig {
  /** Default 'softmax' (the paper's). */
  scoreNorm?: ScoreNorm;
  /** 'sigmoid': fixed bias b in sigmoid(S + b) (default -log(window area)). */
  sigmoidBias?: number;
  /** 'clipped-softmax': gamma <= 0 (default -0.025). */
  clipGamma?: number;
  /** 'clipped-softmax': zeta >= 1 (default 1). */
  clipZeta?: number;
}

export interface SwinTransformerConfig {
  /** Image size, square or [height, width] (default 224). */
  imgSize?: number | readonly [number, number];
  /** Patch size (default 4). */
  patchSize?: number;
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes, or labels with `multiLabel` (default 1000; 0: `forward` returns pooled features). */
  numClasses?: number;
  /** Width of the first stage (doubling per stage), or one width per stage (default 96). */
  embedDim?: number | readonly number[];
  /** Blocks per stage (default [2, 2, 6, 2]). */
  depths?: readonly number[];
  /** Heads per stage (default [3, 6, 12, 24]). */
  numHeads?: readonly number[];
  /** Channels per head, one for all stages or per stage (default embedDim / numHeads). */
  headDim?: number | readonly number[] | null;
  /** Attention window (square), one for all stages or per stage (default 7). */
  windowSize?: number | readonly number[];
  /** MLP hidden width / dim (default 4). */
  mlpRatio?: number;
  /** Bias on qkv (default true). */
  qkvBias?: boolean;
  /** Dropout before the classifier (default 0). */
  dropRate?: number;
  /** Dropout after attention proj and in the MLPs (default 0). */
  projDropRate?: number;
  /** Dropout on attention weights (default 0). */
  attnDropRate?: number;
  /** Stochastic depth, linearly increasing over blocks up to this rate (default 0.1, timm's). */
  dropPathRate?: number;
  /** LayerNorm eps everywhere (default 1e-5: torch's nn.LayerNorm, which timm's Swin uses). */
  normEps?: number;
  /** Score normalisation of the window attention (default softmax). */
  attention?: SwinAttentionConfig;
  /**
   * Independent labels instead of exclusive classes: `predictProbabilities` applies a sigmoid and
   * `computeLoss` / `lossName` are binary cross-entropy on logits (default false).
   */
  multiLabel?: boolean;
  /**
   * SwinCheX per-label heads (needs `multiLabel`): hidden widths of the MLP each label gets, e.g.
   * [384, 48, 48] (SwinCheX's default `num_mlp_heads = 3`), [] for one Linear(numFeatures, 2) per label.
   * Keys `heads.{label}`, `heads2.{label}`, ... as SwinCheX. Default null: one shared `head.fc`.
   */
  labelHeadHiddenDims?: readonly number[] | null;
  random?: Random;
}

function toPair(value: number | readonly [number, number]): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

function perStage<T>(value: T | readonly T[], stages: number): T[] {
  return Array.isArray(value)
    ? [...(value as readonly T[])]
    : Array.from({ length: stages }, () => value as T);
}

/** timm's Swin init: Linear weights trunc_normal(std 0.02), biases zero. */
function initLinear(linear: Linear, random: Random | undefined): void {
  tf.tidy(() => {
    linear.weight.assign(init.truncNormal(linear.weight.shape, { std: 0.02, random }));
    linear.bias?.assign(tf.zerosLike(linear.bias));
  });
}

/**
 * Pair-wise relative position index inside a window (timm's `get_relative_position_index`):
 * index[i, j] = (h_i - h_j + wh - 1) * (2 ww - 1) + (w_i - w_j + ww - 1), tokens in row-major order.
 */
export function relativePositionIndex(windowHeight: number, windowWidth: number): Int32Array {
  const area = windowHeight * windowWidth;
  const index = new Int32Array(area * area);
  for (let i = 0; i < area; i++) {
    const hi = Math.floor(i / windowWidth);
    const wi = i % windowWidth;
    for (let j = 0; j < area; j++) {
      const hj = Math.floor(j / windowWidth);
      const wj = j % windowWidth;
      index[i * area + j] =
        (hi - hj + windowHeight - 1) * (2 * windowWidth - 1) + (wi - wj + windowWidth - 1);
    }
  }
  return index;
}

/** [B, H, W, C] -> [B * windows, wh * ww, C] (timm's window_partition, flattened). */
function windowPartition(x: tf.Tensor, windowHeight: number, windowWidth: number): tf.Tensor {
  const [batch, height, width, channels] = x.shape as [number, number, number, number];
  const grid = tf.reshape(x, [
    batch,
    height / windowHeight,
    windowHeight,
    width / windowWidth,
    windowWidth,
    channels,
  ]);
  return tf.reshape(tf.transpose(grid, [0, 1, 3, 2, 4, 5]), [-1, windowHeight * windowWidth, channels]);
}

/** Inverse of windowPartition: [B * windows, wh * ww, C] -> [B, H, W, C]. */
function windowReverse(
  windows: tf.Tensor,
  windowHeight: number,
  windowWidth: number,
  height: number,
  width: number,
): tf.Tensor {
  const channels = windows.shape[2]!;
  const grid = tf.reshape(windows, [
    -1,
    height / windowHeight,
    width / windowWidth,
    windowHeight,
    windowWidth,
    channels,
  ]);
  return tf.reshape(tf.transpose(grid, [0, 1, 3, 2, 4, 5]), [-1, height, width, channels]);
}

/** torch.roll along one axis (slices and a concat, which have gradients on every backend). */
function roll(x: tf.Tensor, shift: number, axis: number): tf.Tensor {
  const size = x.shape[axis]!;
  const amount = ((shift % size) + size) % size;
  if (amount === 0) return x;
  const begin = x.shape.map(() => 0);
  const head = x.shape.slice();
  head[axis] = amount;
  const tailBegin = begin.slice();
  tailBegin[axis] = size - amount;
  const rest = x.shape.slice();
  rest[axis] = size - amount;
  return tf.concat([tf.slice(x, tailBegin, head), tf.slice(x, begin, rest)], axis);
}

export interface WindowAttentionOptions {
  dim: number;
  numHeads: number;
  headDim?: number | null;
  windowSize: readonly [number, number];
  qkvBias?: boolean;
  attnDrop?: number;
  projDrop?: number;
  attention?: SwinAttentionConfig;
  random?: Random;
}

/**
 * Window multi-head self-attention with a learned relative position bias (timm's `WindowAttention`),
 * on windows [B * windows, wh * ww, dim]. State dict: `relative_position_bias_table`
 * [(2 wh - 1)(2 ww - 1), heads], `qkv.weight` [3 heads headDim, dim], `qkv.bias`, `proj.weight`,
 * `proj.bias`. `relative_position_index` is a non-persistent buffer (as in timm, which drops it from
 * old checkpoints). The bias is read from the table with a one-hot product, so its gradient needs no
 * scatter kernel (wasm has none).
 */
export class WindowAttention extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly scale: number;
  readonly windowSize: [number, number];
  readonly attention: Required<Pick<SwinAttentionConfig, 'scoreNorm'>> & SwinAttentionConfig;
  readonly attnDrop: number;
  readonly projDrop: number;
  readonly relativePositionBiasTable: tf.Variable;
  readonly relativePositionIndex: tf.Variable;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly #random: Random | undefined;

  constructor(options: WindowAttentionOptions) {
    super();
    this.dim = options.dim;
    this.numHeads = options.numHeads;
    this.headDim = options.headDim ?? options.dim / options.numHeads;
    if (!Number.isInteger(this.headDim) || this.headDim <= 0) {
      throw new Error(
        `WindowAttention: dim (${this.dim}) must be divisible by numHeads (${this.numHeads}) unless headDim is given`,
      );
    }
    this.scale = this.headDim ** -0.5;
    this.windowSize = [options.windowSize[0], options.windowSize[1]];
    this.attention = { ...options.attention, scoreNorm: options.attention?.scoreNorm ?? 'softmax' };
    this.attnDrop = options.attnDrop ?? 0;
    this.projDrop = options.projDrop ?? 0;
    this.#random = options.random;
    const [windowHeight, windowWidth] = this.windowSize;
    const attnDim = this.headDim * this.numHeads;
    this.relativePositionBiasTable = this.addParameter(
      'relative_position_bias_table',
      init.truncNormal([(2 * windowHeight - 1) * (2 * windowWidth - 1), this.numHeads], {
        std: 0.02,
        random: options.random,
      }),
    );
    const area = windowHeight * windowWidth;
    this.relativePositionIndex = this.addBuffer(
      'relative_position_index',
      tf.tensor2d(relativePositionIndex(windowHeight, windowWidth), [area, area], 'int32'),
      { persistent: false },
    );
    this.qkv = this.addModule(
      'qkv',
      new Linear({
        inFeatures: this.dim,
        outFeatures: 3 * attnDim,
        bias: options.qkvBias ?? true,
        random: options.random,
      }),
    );
    this.proj = this.addModule(
      'proj',
      new Linear({ inFeatures: attnDim, outFeatures: this.dim, random: options.random }),
    );
  }

  /** Relative position bias [heads, N, N] (N = wh * ww). */
  relativePositionBias(): tf.Tensor {
    return tf.tidy(() => {
      const area = this.windowSize[0] * this.windowSize[1];
      const rows = this.relativePositionBiasTable.shape[0]!;
      const selector = tf.oneHot(tf.reshape(this.relativePositionIndex, [-1]) as tf.Tensor1D, rows);
      const bias = tf.matMul(selector, this.relativePositionBiasTable); // [N * N, heads]
      return tf.transpose(tf.reshape(bias, [area, area, this.numHeads]), [2, 0, 1]);
    });
  }

  /** Windows [B_, N, dim] -> [B_, N, dim]; `mask` [windows, N, N] (0 / -100) for shifted windows. */
  forward(input: tf.Tensor, mask: tf.Tensor | null = null, options: ForwardOptions = {}): tf.Tensor {
    const area = this.windowSize[0] * this.windowSize[1];
    this.checkShape(input, ['B_', area, this.dim]);
    const batchWindows = input.shape[0]!;
    const { numHeads, headDim } = this;
    return tf.tidy(() => {
      // [3, B_ heads N hd] split on a 2-D view: wasm slices 5-D tensors element by element
      const qkv = tf.reshape(
        tf.transpose(
          tf.reshape(this.qkv.forward(input), [batchWindows, area, 3, numHeads, headDim]),
          [2, 0, 3, 1, 4],
        ),
        [3, -1],
      );
      const [q, k, v] = tf
        .split(qkv, 3, 0)
        .map((part) => tf.reshape(part, [batchWindows, numHeads, area, headDim])) as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
      ];
      let scores = tf.matMul(tf.mul(q, this.scale), k, false, true);
      scores = tf.add(scores, tf.expandDims(this.relativePositionBias(), 0));
      if (mask) {
        const windows = mask.shape[0]!;
        scores = tf.reshape(
          tf.add(
            tf.reshape(scores, [batchWindows / windows, windows, numHeads, area, area]),
            tf.expandDims(tf.expandDims(mask, 1), 0),
          ),
          [batchWindows, numHeads, area, area],
        );
      }
      let weights = normalizeScores(scores, this.attention);
      weights = dropout(weights, this.attnDrop, { training: options.training, random: this.#random });
      const heads = tf.matMul(weights, v); // [B_, heads, N, hd]
      const merged = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [batchWindows, area, numHeads * headDim]);
      return dropout(this.proj.forward(merged), this.projDrop, {
        training: options.training,
        random: this.#random,
      });
    });
  }
}

export interface SwinTransformerBlockOptions {
  dim: number;
  /** Feature map size this block sees, [H, W]. */
  inputResolution: readonly [number, number];
  numHeads: number;
  headDim?: number | null;
  windowSize: number;
  /** Shift of the shifted-window variant (0 for regular windows). */
  shiftSize: number;
  mlpRatio?: number;
  qkvBias?: boolean;
  projDrop?: number;
  attnDrop?: number;
  dropPath?: number;
  normEps?: number;
  attention?: SwinAttentionConfig;
  random?: Random;
}

/**
 * The attention mask of shifted windows (timm's `get_attn_mask`): 0 between tokens of the same region
 * of the rolled map, -100 across regions. [windows, N, N] for the map padded to whole windows.
 */
export function shiftedWindowMask(
  resolution: readonly [number, number],
  windowSize: readonly [number, number],
  shiftSize: readonly [number, number],
): tf.Tensor {
  const height = Math.ceil(resolution[0] / windowSize[0]) * windowSize[0];
  const width = Math.ceil(resolution[1] / windowSize[1]) * windowSize[1];
  // timm's slices (0, -window), (-window, -shift), (-shift, None); with shift 0 the last one covers all
  const region = (position: number, size: number, window: number, shift: number) =>
    shift === 0 ? 2 : position < size - window ? 0 : position < size - shift ? 1 : 2;
  const labels = new Float32Array(height * width);
  for (let h = 0; h < height; h++) {
    for (let w = 0; w < width; w++) {
      labels[h * width + w] =
        region(h, height, windowSize[0], shiftSize[0]) * 3 + region(w, width, windowSize[1], shiftSize[1]);
    }
  }
  return tf.tidy(() => {
    const windows = tf.reshape(
      windowPartition(tf.tensor4d(labels, [1, height, width, 1]), windowSize[0], windowSize[1]),
      [-1, windowSize[0] * windowSize[1]],
    );
    const difference = tf.sub(tf.expandDims(windows, 1), tf.expandDims(windows, 2));
    return tf.where(tf.notEqual(difference, 0), tf.fill(difference.shape, -100), tf.zerosLike(difference));
  });
}

/**
 * Swin block (timm's `SwinTransformerBlock`) on NHWC maps: x + attn(norm1(x)) over (shifted) windows,
 * then x + mlp(norm2(x)). When the map is no larger than the window, the window shrinks to the map
 * and the shift is dropped (per axis, as timm). Maps not divisible by the window are zero-padded.
 * Keys: `norm1`, `attn.*`, `norm2`, `mlp.fc1`, `mlp.fc2`; `attn_mask` is a non-persistent buffer.
 */
export class SwinTransformerBlock extends Module {
  readonly dim: number;
  readonly inputResolution: [number, number];
  readonly windowSize: [number, number];
  readonly shiftSize: [number, number];
  readonly dropPathRate: number;
  readonly norm1: LayerNorm;
  readonly attn: WindowAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly attnMask: tf.Variable | null;
  readonly #random: Random | undefined;

  constructor(options: SwinTransformerBlockOptions) {
    super();
    this.dim = options.dim;
    this.inputResolution = [options.inputResolution[0], options.inputResolution[1]];
    const target = options.windowSize;
    this.windowSize = [Math.min(this.inputResolution[0], target), Math.min(this.inputResolution[1], target)];
    this.shiftSize = [
      this.inputResolution[0] <= this.windowSize[0] ? 0 : options.shiftSize,
      this.inputResolution[1] <= this.windowSize[1] ? 0 : options.shiftSize,
    ];
    this.dropPathRate = options.dropPath ?? 0;
    this.#random = options.random;
    const eps = options.normEps ?? 1e-5;
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: this.dim, eps }));
    this.attn = this.addModule(
      'attn',
      new WindowAttention({
        dim: this.dim,
        numHeads: options.numHeads,
        headDim: options.headDim,
        windowSize: this.windowSize,
        qkvBias: options.qkvBias,
        attnDrop: options.attnDrop,
        projDrop: options.projDrop,
        attention: options.attention,
        random: options.random,
      }),
    );
    this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: this.dim, eps }));
    this.mlp = this.addModule(
      'mlp',
      new Mlp({
        inFeatures: this.dim,
        hiddenFeatures: Math.floor(this.dim * (options.mlpRatio ?? 4)),
        activation: 'gelu',
        dropRate: options.projDrop ?? 0,
        random: options.random,
      }),
    );
    this.attnMask = this.shiftSize.some((shift) => shift > 0)
      ? this.addBuffer(
          'attn_mask',
          shiftedWindowMask(this.inputResolution, this.windowSize, this.shiftSize),
          {
            persistent: false,
          },
        )
      : null;
  }

  #attention(x: tf.Tensor, options: ForwardOptions): tf.Tensor {
    const [, height, width, channels] = x.shape as [number, number, number, number];
    const [windowHeight, windowWidth] = this.windowSize;
    const [shiftHeight, shiftWidth] = this.shiftSize;
    let shifted = roll(roll(x, -shiftHeight, 1), -shiftWidth, 2);
    const padHeight = (windowHeight - (height % windowHeight)) % windowHeight;
    const padWidth = (windowWidth - (width % windowWidth)) % windowWidth;
    if (padHeight + padWidth > 0) {
      shifted = tf.pad(shifted, [
        [0, 0],
        [0, padHeight],
        [0, padWidth],
        [0, 0],
      ]);
    }
    const windows = windowPartition(shifted, windowHeight, windowWidth);
    const attended = this.attn.forward(windows, this.attnMask, options);
    let merged = windowReverse(attended, windowHeight, windowWidth, height + padHeight, width + padWidth);
    if (padHeight + padWidth > 0) merged = tf.slice(merged, [0, 0, 0, 0], [-1, height, width, channels]);
    return roll(roll(merged, shiftHeight, 1), shiftWidth, 2);
  }

  /** [B, H, W, dim] -> [B, H, W, dim]. */
  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.inputResolution[0], this.inputResolution[1], this.dim]);
    const drop = { training: options.training, random: this.#random };
    return tf.tidy(() => {
      const x = tf.add(
        input,
        dropPath(this.#attention(this.norm1.forward(input), options), this.dropPathRate, drop),
      );
      return tf.add(x, dropPath(this.mlp.forward(this.norm2.forward(x), options), this.dropPathRate, drop));
    });
  }
}

/**
 * Patch merging (timm's `PatchMerging`): concatenates each 2x2 neighbourhood (odd maps are zero-padded
 * at the bottom/right) in the order x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2], then
 * `norm` (LayerNorm(4 dim)) and `reduction` (Linear(4 dim, outDim), no bias). [B, H, W, dim] ->
 * [B, ceil(H / 2), ceil(W / 2), outDim].
 */
export class PatchMerging extends Module {
  readonly dim: number;
  readonly outDim: number;
  readonly norm: LayerNorm;
  readonly reduction: Linear;

  constructor(options: { dim: number; outDim?: number; normEps?: number; random?: Random }) {
    super();
    this.dim = options.dim;
    this.outDim = options.outDim ?? 2 * options.dim;
    this.norm = this.addModule(
      'norm',
      new LayerNorm({ normalizedShape: 4 * this.dim, eps: options.normEps ?? 1e-5 }),
    );
    this.reduction = this.addModule(
      'reduction',
      new Linear({ inFeatures: 4 * this.dim, outFeatures: this.outDim, bias: false, random: options.random }),
    );
  }

  forward(input: tf.Tensor): tf.Tensor {
    this.checkShape(input, ['B', 'H', 'W', this.dim]);
    const [batch, height, width, channels] = input.shape as [number, number, number, number];
    return tf.tidy(() => {
      const padded =
        height % 2 || width % 2
          ? tf.pad(input, [
              [0, 0],
              [0, height % 2],
              [0, width % 2],
              [0, 0],
            ])
          : input;
      const outHeight = Math.ceil(height / 2);
      const outWidth = Math.ceil(width / 2);
      // [B, H/2, 2 (row), W/2, 2 (column), C] -> [B, H/2, W/2, column, row, C]: channel block
      // index = row + 2 column, the order x0, x1, x2, x3 of the paper's code.
      const grouped = tf.transpose(
        tf.reshape(padded, [batch, outHeight, 2, outWidth, 2, channels]),
        [0, 1, 3, 4, 2, 5],
      );
      const merged = tf.reshape(grouped, [batch, outHeight, outWidth, 4 * channels]);
      return this.reduction.forward(this.norm.forward(merged));
    });
  }
}

/** One stage (timm's `SwinTransformerStage`): `downsample` (PatchMerging or Identity), then `blocks`. */
export class SwinTransformerStage extends Module {
  readonly downsample: PatchMerging | Identity;
  readonly blocks: ModuleList<SwinTransformerBlock>;

  constructor(downsample: PatchMerging | Identity, blocks: SwinTransformerBlock[]) {
    super();
    this.downsample = this.addModule('downsample', downsample);
    this.blocks = this.addModule('blocks', new ModuleList(blocks));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = this.downsample.forward(input);
      for (const block of this.blocks) x = block.forward(x, options);
      return x;
    });
  }
}

/** timm's `ClassifierHead` with average pooling over NHWC maps: `fc` (Linear or Identity) after dropout. */
export class SwinClassifierHead extends Module {
  readonly dropRate: number;
  readonly fc: Linear | Identity;
  readonly #random: Random | undefined;

  constructor(options: { inFeatures: number; numClasses: number; dropRate?: number; random?: Random }) {
    super();
    this.dropRate = options.dropRate ?? 0;
    this.#random = options.random;
    this.fc = this.addModule(
      'fc',
      options.numClasses > 0
        ? new Linear({
            inFeatures: options.inFeatures,
            outFeatures: options.numClasses,
            random: options.random,
          })
        : new Identity(),
    );
    if (this.fc instanceof Linear) initLinear(this.fc, options.random);
  }

  /** Pooled features [B, C] -> logits [B, numClasses] (or the features with preLogits). */
  forward(pooled: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const x = dropout(pooled, this.dropRate, { training: options.training, random: this.#random });
      return options.preLogits ? x : this.fc.forward(x);
    });
  }
}

/**
 * Swin Transformer classifier on NHWC images [B, H, W, C] (timm's `SwinTransformer`).
 *
 * State dict (timm's current layout): `patch_embed.proj.*`, `patch_embed.norm.*`,
 * `layers.{i}.downsample.{norm,reduction}` (i > 0), `layers.{i}.blocks.{j}.{norm1, attn.qkv,
 * attn.proj, attn.relative_position_bias_table, norm2, mlp.fc1, mlp.fc2}`, `norm`, `head.fc`
 * (or SwinCheX's `heads.{label}`, `heads2.{label}`, ... with `labelHeadHiddenDims`). Load original
 * Microsoft / SwinCheX checkpoints through {@link convertSwinStateDict}.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { SwinTransformer } from '@mlzoo/vit';
 *
 * const model = new SwinTransformer({ imgSize: 28, inChans: 1, numClasses: 10, patchSize: 2,
 *   embedDim: 32, depths: [2, 2], numHeads: [2, 4], windowSize: 7 });
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class SwinTransformer extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly embedDims: number[];
  readonly depths: number[];
  readonly numHeads: number[];
  readonly windowSizes: number[];
  readonly dropRate: number;
  readonly multiLabel: boolean;
  readonly labelHeadHiddenDims: number[] | null;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName: string;
  readonly firstLayerName = 'patch_embed.proj';
  readonly patchEmbed: PatchEmbed;
  readonly layers: ModuleList<SwinTransformerStage>;
  readonly norm: LayerNorm;
  head: SwinClassifierHead | null = null;
  /** SwinCheX per-label heads: labelHeads[k][label] is layer k of that label's MLP. */
  labelHeads: ModuleList<Linear>[] = [];
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: SwinTransformerConfig = {}) {
    super();
    this.imgSize = toPair(config.imgSize ?? 224);
    const patchSize = config.patchSize ?? 4;
    this.inChans = config.inChans ?? 3;
    this.#numClasses = config.numClasses ?? 1000;
    this.depths = [...(config.depths ?? [2, 2, 6, 2])];
    const stages = this.depths.length;
    this.numHeads = [...(config.numHeads ?? [3, 6, 12, 24])];
    const embedDim = config.embedDim ?? 96;
    this.embedDims =
      typeof embedDim === 'number' ? this.depths.map((_, index) => embedDim * 2 ** index) : [...embedDim];
    const headDims = perStage(config.headDim ?? null, stages);
    this.windowSizes = perStage(config.windowSize ?? 7, stages);
    const mlpRatio = config.mlpRatio ?? 4;
    this.dropRate = config.dropRate ?? 0;
    const projDrop = config.projDropRate ?? 0;
    const attnDrop = config.attnDropRate ?? 0;
    const dropPathRate = config.dropPathRate ?? 0.1;
    const normEps = config.normEps ?? 1e-5;
    this.multiLabel = config.multiLabel ?? false;
    this.labelHeadHiddenDims = config.labelHeadHiddenDims ? [...config.labelHeadHiddenDims] : null;
    this.#random = config.random;
    const scoreNorm = config.attention?.scoreNorm ?? 'softmax';

    // everything is checked before the first variable exists
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const probability = (value: number) => value >= 0 && value < 1;
    const grid = this.imgSize.map((size) => size / patchSize);
    const problems = [
      !this.imgSize.every(positive) &&
        `imgSize must be positive integers, got ${JSON.stringify(config.imgSize)}`,
      !positive(patchSize) && `patchSize must be a positive integer, got ${patchSize}`,
      !grid.every(Number.isInteger) &&
        `imgSize [${this.imgSize.join(', ')}] must be divisible by patchSize ${patchSize}`,
      !positive(this.inChans) && `inChans must be a positive integer, got ${this.inChans}`,
      !(Number.isInteger(this.#numClasses) && this.#numClasses >= 0) &&
        `numClasses must be a non-negative integer, got ${this.#numClasses}`,
      !(stages > 0 && this.depths.every(positive)) &&
        `depths must be positive integers, got [${this.depths.join(', ')}]`,
      this.numHeads.length !== stages &&
        `numHeads needs one entry per stage (${stages}), got [${this.numHeads.join(', ')}]`,
      this.embedDims.length !== stages &&
        `embedDim needs one entry per stage (${stages}), got [${this.embedDims.join(', ')}]`,
      headDims.length !== stages && `headDim needs one entry per stage (${stages})`,
      this.windowSizes.length !== stages && `windowSize needs one entry per stage (${stages})`,
      !this.windowSizes.every(positive) &&
        `windowSize must be positive integers, got [${this.windowSizes.join(', ')}]`,
      ...this.embedDims.map(
        (dim, index) =>
          !(
            positive(dim) &&
            positive(this.numHeads[index] ?? 0) &&
            (headDims[index] != null || dim % this.numHeads[index]! === 0)
          ) && `stage ${index}: embedDim ${dim} must be divisible by numHeads ${this.numHeads[index]}`,
      ),
      !(mlpRatio > 0) && `mlpRatio must be positive, got ${mlpRatio}`,
      ![this.dropRate, projDrop, attnDrop, dropPathRate].every(probability) &&
        `dropRate, projDropRate, attnDropRate and dropPathRate must be in [0, 1)`,
      !SCORE_NORMS.includes(scoreNorm) &&
        `attention.scoreNorm must be one of ${SCORE_NORMS.join(', ')}, got '${scoreNorm}'`,
      this.labelHeadHiddenDims != null && !this.multiLabel && 'labelHeadHiddenDims needs multiLabel: true',
      this.labelHeadHiddenDims != null &&
        !this.labelHeadHiddenDims.every(positive) &&
        `labelHeadHiddenDims must be positive integers, got [${this.labelHeadHiddenDims.join(', ')}]`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`SwinTransformer: ${problems.join('; ')}`);

    const random = this.#random;
    this.patchEmbed = this.addModule(
      'patch_embed',
      new PatchEmbed({
        imgSize: this.imgSize,
        patchSize,
        inChans: this.inChans,
        embedDim: this.embedDims[0]!,
        normEps,
        flatten: false,
        mode: 'linear',
        random,
      }),
    );
    const totalBlocks = this.depths.reduce((sum, depth) => sum + depth, 0);
    const dropPathRates = Array.from({ length: totalBlocks }, (_, index) =>
      totalBlocks > 1 ? (dropPathRate * index) / (totalBlocks - 1) : 0,
    );
    this.layers = this.addModule('layers', new ModuleList<SwinTransformerStage>());
    let resolution: [number, number] = [grid[0]!, grid[1]!];
    let inDim = this.embedDims[0]!;
    let blockIndex = 0;
    for (let stage = 0; stage < stages; stage++) {
      const outDim = this.embedDims[stage]!;
      const downsample =
        stage > 0 ? new PatchMerging({ dim: inDim, outDim, normEps, random }) : new Identity();
      if (stage > 0) resolution = [Math.ceil(resolution[0] / 2), Math.ceil(resolution[1] / 2)];
      const windowSize = this.windowSizes[stage]!;
      const blocks = Array.from(
        { length: this.depths[stage]! },
        (_, index) =>
          new SwinTransformerBlock({
            dim: outDim,
            inputResolution: resolution,
            numHeads: this.numHeads[stage]!,
            headDim: headDims[stage],
            windowSize,
            shiftSize: index % 2 === 0 ? 0 : Math.floor(windowSize / 2),
            mlpRatio,
            qkvBias: config.qkvBias ?? true,
            projDrop,
            attnDrop,
            dropPath: dropPathRates[blockIndex++],
            normEps,
            attention: config.attention,
            random,
          }),
      );
      this.layers.append(new SwinTransformerStage(downsample, blocks));
      inDim = outDim;
    }
    this.numFeatures = inDim;
    this.headHiddenSize = inDim;
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: this.numFeatures, eps: normEps }));
    this.classifierName = this.labelHeadHiddenDims ? 'heads' : 'head';
    for (const module of this.namedModules().values()) {
      if (module instanceof Linear) initLinear(module, random);
    }
    this.#buildHead(this.#numClasses);
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  /** Stage-output feature map size [H, W] of each stage. */
  get stageResolutions(): Array<[number, number]> {
    return this.layers.items.map((stage) => stage.blocks.at(0).inputResolution);
  }

  #buildHead(numClasses: number): void {
    const random = this.#random;
    if (!this.labelHeadHiddenDims) {
      this.head = this.addModule(
        'head',
        new SwinClassifierHead({ inFeatures: this.numFeatures, numClasses, dropRate: this.dropRate, random }),
      );
      return;
    }
    const widths = [this.numFeatures, ...this.labelHeadHiddenDims, 2];
    this.labelHeads = widths.slice(1).map((width, layer) => {
      const list = new ModuleList<Linear>();
      for (let label = 0; label < numClasses; label++) {
        const linear = new Linear({ inFeatures: widths[layer]!, outFeatures: width, random });
        initLinear(linear, random);
        list.append(linear);
      }
      return this.addModule(layer === 0 ? 'heads' : `heads${layer + 1}`, list);
    });
  }

  /** Image [B, H, W, C] -> normed final feature map [B, H / 32, W / 32, numFeatures] (NHWC). */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    return tf.tidy(() => {
      let x = this.patchEmbed.forward(input);
      for (const stage of this.layers) x = stage.forward(x, options);
      return this.norm.forward(x);
    });
  }

  /** Feature map [B, h, w, C] -> logits [B, numClasses] (per-label log-odds with `multiLabel`). */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'h', 'w', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = tf.mean(features, [1, 2]);
      if (this.head) return this.head.forward(pooled, options);
      if (options.preLogits || this.#numClasses === 0) return pooled;
      const logits: tf.Tensor[] = [];
      for (let label = 0; label < this.#numClasses; label++) {
        let x = pooled;
        this.labelHeads.forEach((list, layer) => {
          if (layer > 0) x = tf.relu(x);
          x = list.at(label).forward(x);
        });
        // 2-class softmax [a, b] -> probability sigmoid(b - a): return the log-odds b - a
        const [negative, positive] = tf.split(x, 2, 1) as [tf.Tensor, tf.Tensor];
        logits.push(tf.sub(positive, negative));
      }
      return tf.concat(logits, 1);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /**
   * Class probabilities: sigmoid of each logit with `multiLabel` (independent labels), softmax
   * otherwise. [B, H, W, C] -> [B, numClasses].
   */
  predictProbabilities(input: tf.Tensor): tf.Tensor {
    if (this.#numClasses === 0)
      throw new Error(`${this.location}: predictProbabilities needs numClasses > 0`);
    return tf.tidy(() => {
      const logits = this.forward(input);
      return this.multiLabel ? tf.sigmoid(logits) : tf.softmax(logits);
    });
  }

  /** The loss `fit` should use: 'bce-with-logits' with `multiLabel`, else 'cross-entropy'. */
  get lossName(): LossName {
    return this.multiLabel ? 'bce-with-logits' : 'cross-entropy';
  }

  /**
   * Training loss on logits: binary cross-entropy on logits against 0/1 targets [B, numClasses] with
   * `multiLabel`, cross-entropy against class indices (or probabilities) otherwise (core's losses).
   */
  computeLoss(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
    return this.multiLabel ? binaryCrossEntropyWithLogits(logits, targets) : crossEntropy(logits, targets);
  }

  /** Stage outputs [B, H_i, W_i, C_i] (NHWC, before the final norm), as timm's forward_intermediates. */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.layers.length));
    const last = Math.max(...chosen);
    const outputs: tf.Tensor[] = [];
    let x = this.patchEmbed.forward(input);
    for (let index = 0; index <= last; index++) {
      const next = this.layers.at(index).forward(x, options);
      if (!outputs.includes(x)) x.dispose();
      x = next;
      if (chosen.has(index)) outputs.push(x);
    }
    if (!outputs.includes(x)) x.dispose();
    return outputs;
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    if (this.head) {
      const old = this.setSubmodule(
        'head',
        new SwinClassifierHead({
          inFeatures: this.numFeatures,
          numClasses,
          dropRate: this.dropRate,
          random: this.#random,
        }),
      );
      old.dispose();
      this.head = this.getSubmodule('head') as SwinClassifierHead;
    } else {
      const widths = [this.numFeatures, ...this.labelHeadHiddenDims!, 2];
      this.labelHeads = this.labelHeads.map((_, layer) => {
        const list = new ModuleList<Linear>();
        for (let label = 0; label < numClasses; label++) {
          const linear = new Linear({
            inFeatures: widths[layer]!,
            outFeatures: widths[layer + 1]!,
            random: this.#random,
          });
          initLinear(linear, this.#random);
          list.append(linear);
        }
        this.setSubmodule(layer === 0 ? 'heads' : `heads${layer + 1}`, list).dispose();
        return list;
      });
    }
    this.#numClasses = numClasses;
  }
}

/**
 * Converts a Swin state dict to this model's (timm's current) layout, as timm's checkpoint_filter_fn:
 * drops the `relative_position_index` and `attn_mask` buffers old checkpoints carry, and for
 * checkpoints in the original Microsoft layout (a `layers.0.downsample`: the official release,
 * SwinCheX) moves `layers.{i}.downsample` to `layers.{i+1}.downsample` and renames `head.` to `head.fc.`.
 * Returns a new record holding the same tensors (nothing is copied or disposed).
 */
export function convertSwinStateDict(state: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  // stage 0 never downsamples in timm's layout; the original layout puts a downsample at its end
  const oldLayout = Object.keys(state).some((key) => key.startsWith('layers.0.downsample.'));
  const result: Record<string, tf.Tensor> = {};
  for (const [key, value] of Object.entries(state)) {
    if (key.includes('relative_position_index') || key.includes('attn_mask')) continue;
    let name = key;
    if (oldLayout) {
      name = name.replace(
        /^layers\.(\d+)\.downsample\./,
        (_, stage: string) => `layers.${Number(stage) + 1}.downsample.`,
      );
      if (name.startsWith('head.')) name = `head.fc.${name.slice('head.'.length)}`;
    }
    result[name] = value;
  }
  return result;
}

/**
 * Parameter count of a `SwinTransformer` config, computed from the module shapes without building the
 * model (the ImageNet presets take seconds to initialise in JavaScript). Equals `numParameters()` of
 * the built model.
 */
export function swinParameterCount(config: SwinTransformerConfig = {}): number {
  const [height, width] = toPair(config.imgSize ?? 224);
  const patchSize = config.patchSize ?? 4;
  const inChans = config.inChans ?? 3;
  const numClasses = config.numClasses ?? 1000;
  const depths = [...(config.depths ?? [2, 2, 6, 2])];
  const numHeads = [...(config.numHeads ?? [3, 6, 12, 24])];
  const embedDim = config.embedDim ?? 96;
  const dims = typeof embedDim === 'number' ? depths.map((_, index) => embedDim * 2 ** index) : [...embedDim];
  const headDims = perStage(config.headDim ?? null, depths.length);
  const windows = perStage(config.windowSize ?? 7, depths.length);
  const mlpRatio = config.mlpRatio ?? 4;
  const qkvBias = config.qkvBias ?? true;
  let total = patchSize * patchSize * inChans * dims[0]! + dims[0]! + 2 * dims[0]!;
  let resolution = [height / patchSize, width / patchSize];
  depths.forEach((depth, stage) => {
    const dim = dims[stage]!;
    if (stage > 0) {
      const inDim = dims[stage - 1]!;
      total += 2 * 4 * inDim + 4 * inDim * dim;
      resolution = resolution.map((size) => Math.ceil(size / 2));
    }
    const heads = numHeads[stage]!;
    const attnDim = (headDims[stage] ?? dim / heads) * heads;
    const [windowHeight, windowWidth] = resolution.map((size) => Math.min(size, windows[stage]!)) as [
      number,
      number,
    ];
    const hidden = Math.floor(dim * mlpRatio);
    const block =
      4 * dim +
      (2 * windowHeight - 1) * (2 * windowWidth - 1) * heads +
      dim * 3 * attnDim +
      (qkvBias ? 3 * attnDim : 0) +
      attnDim * dim +
      dim +
      dim * hidden +
      hidden +
      hidden * dim +
      dim;
    total += depth * block;
  });
  const features = dims[dims.length - 1]!;
  total += 2 * features;
  if (config.labelHeadHiddenDims) {
    const widths = [features, ...config.labelHeadHiddenDims, 2];
    for (let layer = 0; layer + 1 < widths.length; layer++)
      total += numClasses * (widths[layer]! * widths[layer + 1]! + widths[layer + 1]!);
  } else if (numClasses > 0) {
    total += features * numClasses + numClasses;
  }
  return total;
}

const SOURCE = 'timm/models/swin_transformer.py (huggingface/pytorch-image-models)';
const PAPER = 'Swin Transformer: Hierarchical Vision Transformer using Shifted Windows (arXiv:2103.14030)';

/** Presets of `SwinTransformer` (pure data). Counts are with the 1000-class head (10 for fashion-mnist). */
export const SWIN_PRESETS: Record<string, ModelPreset<SwinTransformerConfig>> = {
  swin_tiny_patch4_window7_224: {
    config: {
      imgSize: 224,
      patchSize: 4,
      windowSize: 7,
      embedDim: 96,
      depths: [2, 2, 6, 2],
      numHeads: [3, 6, 12, 24],
    },
    numParameters: 28_288_354,
    description: 'Swin-T, 224x224, window 7.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  swin_small_patch4_window7_224: {
    config: {
      imgSize: 224,
      patchSize: 4,
      windowSize: 7,
      embedDim: 96,
      depths: [2, 2, 18, 2],
      numHeads: [3, 6, 12, 24],
    },
    numParameters: 49_606_258,
    description: 'Swin-S, 224x224, window 7.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  swin_base_patch4_window7_224: {
    config: {
      imgSize: 224,
      patchSize: 4,
      windowSize: 7,
      embedDim: 128,
      depths: [2, 2, 18, 2],
      numHeads: [4, 8, 16, 32],
    },
    numParameters: 87_768_224,
    description: 'Swin-B, 224x224, window 7.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  swin_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      patchSize: 2,
      windowSize: 7,
      embedDim: 32,
      depths: [2, 2, 2],
      numHeads: [2, 4, 8],
      dropPathRate: 0.05,
    },
    numParameters: 568_230,
    description: 'Small Swin for 28x28 grayscale images: patch 2 (14x14 tokens), window 7, stages 32/64/128.',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/vit',
  },
};

function builder(name: string) {
  return (overrides: SwinTransformerConfig = {}) =>
    new SwinTransformer({ ...SWIN_PRESETS[name]!.config, ...overrides });
}

export const swinTinyPatch4Window7_224 = builder('swin_tiny_patch4_window7_224');
export const swinSmallPatch4Window7_224 = builder('swin_small_patch4_window7_224');
export const swinBasePatch4Window7_224 = builder('swin_base_patch4_window7_224');
export const swinFashionMnist = builder('swin_fashion_mnist');

/** Factory used by the registry. */
export function createSwinTransformer(config: SwinTransformerConfig): SwinTransformer {
  return new SwinTransformer(config);
}

/** Registers the Swin presets with core's `createModel`. Nothing registers on import. */
export function registerSwinModels(): void {
  for (const [name, preset] of Object.entries(SWIN_PRESETS))
    registerModel(name, createSwinTransformer, preset);
}
