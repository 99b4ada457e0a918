// VOLO: Yuan, Hou, Jiang, Feng & Yan, "VOLO: Vision Outlooker for Visual Recognition", TPAMI 2022,
// arXiv:2106.13112.
// Follows timm's `timm/models/volo.py` (from sail-sg/volo): parameter names, forward and presets are
// timm's, so timm's `volo_*` checkpoints load by key.
//
// A conv stem (7x7 s2 + two 3x3, each with BatchNorm and ReLU) and a k = s patch projection give an
// NHWC token map; stage 1 runs Outlookers, whose outlook attention predicts, from each (average-pooled)
// location, a K^2 x K^2 attention over its K x K neighbourhood of values (unfold), then sums the
// overlapping windows back (fold). After a 2x downsample and an absolute position embedding come
// standard transformer blocks, then class-attention blocks on a class token. Inference output is
// head(cls) + 0.5 * max over tokens of aux_head(patch tokens) (token labelling's auxiliary head).
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  init,
  type ModelPreset,
  Module,
  ModuleList,
  type Random,
  registerModel,
  resolveIntermediateIndices,
  type TensorModule,
} from '@mlzoo/core';
import {
  type AttentionConfig,
  type AttentionModule,
  BatchNorm,
  type BatchNormForwardOptions,
  Conv2d,
  createAttention,
  DropPath,
  dropout,
  Identity,
  LayerNorm,
  Linear,
  Mlp,
  normalizeScores,
  SCORE_NORMS,
  type ScoreNormOptions,
} from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface VoloConfig {
  /** Blocks per stage (default [4, 4, 8, 2], VOLO-D1). */
  layers?: readonly number[];
  /** Square image size (default 224). */
  imgSize?: number;
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0: `forward` returns the pooled class token). */
  numClasses?: number;
  /** Overall patch size of the stem + projection (4, 8 or 16; default 8). */
  patchSize?: number;
  /** Width of the conv stem (default 64). */
  stemHiddenDim?: number;
  /** Width per stage (default [192, 384, 384, 384]). */
  embedDims?: readonly number[];
  /** Heads per stage (default [6, 12, 12, 12]). */
  numHeads?: readonly number[];
  /** A 2x2 stride-2 downsample after the stage (default [true, false, false, false]). */
  downsamples?: readonly boolean[];
  /** Outlook attention (Outlooker blocks) in the stage, else standard attention (default [true, false, false, false]). */
  outlookAttention?: readonly boolean[];
  /** MLP hidden width / width, one value or one per stage (default 3). */
  mlpRatio?: number | readonly number[];
  /** Bias on v (outlook), qkv (attention), q and kv (class attention) (default false). */
  qkvBias?: boolean;
  /** Class-attention blocks after the stages (timm's post_layers ('ca', 'ca'): default 2; at least 1). */
  postLayers?: number;
  /** Token-labelling auxiliary head added to the output (default true). */
  useAuxHead?: boolean;
  /** Image size / (patchSize * poolingScale) is the position-embedding grid (default 2). */
  poolingScale?: number;
  /** Outlook attention kernel, padding and stride (default 3, 1, 2). */
  outlookKernelSize?: number;
  outlookPadding?: number;
  outlookStride?: number;
  /** LayerNorm eps (default 1e-5: timm's VOLO uses nn.LayerNorm). */
  normEps?: number;
  /** Dropout after the position embedding (default 0). */
  posDropRate?: number;
  /** Dropout before the heads (default 0). */
  dropRate?: number;
  /** Stochastic depth over the transformer blocks (timm applies none in the outlookers; default 0). */
  dropPathRate?: number;
  /**
   * Attention of the standard transformer blocks, built by `createAttention` (type and score
   * normalisation). Outlook attention and class attention take the multi-head type's score
   * normalisation from it (softmax for other types). Default: softmax multi-head attention.
   */
  attention?: AttentionConfig;
  random?: Random;
}

interface ResolvedVoloConfig {
  layers: number[];
  imgSize: number;
  inChans: number;
  numClasses: number;
  patchSize: number;
  stemHiddenDim: number;
  embedDims: number[];
  numHeads: number[];
  downsamples: boolean[];
  outlookAttention: boolean[];
  mlpRatio: number[];
  qkvBias: boolean;
  postLayers: number;
  useAuxHead: boolean;
  poolingScale: number;
  outlookKernelSize: number;
  outlookPadding: number;
  outlookStride: number;
  normEps: number;
  posDropRate: number;
  dropRate: number;
  dropPathRate: number;
  attention: AttentionConfig;
}

function resolveConfig(config: VoloConfig): ResolvedVoloConfig {
  const layers = [...(config.layers ?? [4, 4, 8, 2])];
  const firstOnly = layers.map((_, index) => index === 0);
  const ratio = config.mlpRatio ?? 3;
  return {
    layers,
    imgSize: config.imgSize ?? 224,
    inChans: config.inChans ?? 3,
    numClasses: config.numClasses ?? 1000,
    patchSize: config.patchSize ?? 8,
    stemHiddenDim: config.stemHiddenDim ?? 64,
    embedDims: [...(config.embedDims ?? [192, 384, 384, 384])],
    numHeads: [...(config.numHeads ?? [6, 12, 12, 12])],
    downsamples: [...(config.downsamples ?? firstOnly)],
    outlookAttention: [...(config.outlookAttention ?? firstOnly)],
    mlpRatio: typeof ratio === 'number' ? layers.map(() => ratio) : [...ratio],
    qkvBias: config.qkvBias ?? false,
    postLayers: config.postLayers ?? 2,
    useAuxHead: config.useAuxHead ?? true,
    poolingScale: config.poolingScale ?? 2,
    outlookKernelSize: config.outlookKernelSize ?? 3,
    outlookPadding: config.outlookPadding ?? 1,
    outlookStride: config.outlookStride ?? 2,
    normEps: config.normEps ?? 1e-5,
    posDropRate: config.posDropRate ?? 0,
    dropRate: config.dropRate ?? 0,
    dropPathRate: config.dropPathRate ?? 0,
    attention: config.attention ?? {},
  };
}

type ScoreNormFields = ScoreNormOptions & { attnDrop?: number };

/** The score normalisation (and attention dropout) of the multi-head type of an attention config; none otherwise. */
function scoreNormFields(attention: AttentionConfig): ScoreNormFields {
  const fields = attention as { type?: string } & ScoreNormFields;
  if ((fields.type ?? 'multi-head') !== 'multi-head') return {};
  return {
    scoreNorm: fields.scoreNorm,
    sigmoidBias: fields.sigmoidBias,
    clipGamma: fields.clipGamma,
    clipZeta: fields.clipZeta,
    lengthScaleBase: fields.lengthScaleBase,
    attnDrop: fields.attnDrop,
  };
}

/** Stage grid sizes: [outlooker grid, ..., last grid] from the stem through the downsamples. */
function stageGrids(config: ResolvedVoloConfig): number[] {
  // stem: 7x7 stride 2 padding 3, then 3x3 stride 1 padding 1 twice; proj k = s = patchSize / 2
  let size = Math.floor((config.imgSize + 6 - 7) / 2) + 1;
  size = Math.floor(size / (config.patchSize / 2));
  return config.layers.map((_, index) => {
    const current = size;
    if (config.downsamples[index]) size = Math.floor(size / 2);
    return current;
  });
}

function validateConfig(config: ResolvedVoloConfig): void {
  const positive = (value: number) => Number.isInteger(value) && value > 0;
  const count = config.layers.length;
  const problems: (string | false)[] = [
    count === 0 && 'layers must list at least one stage',
    !config.layers.every(positive) && `layers must be positive integers, got [${config.layers.join(', ')}]`,
    !positive(config.imgSize) && `imgSize must be a positive integer, got ${config.imgSize}`,
    !positive(config.inChans) && `inChans must be a positive integer, got ${config.inChans}`,
    !(Number.isInteger(config.numClasses) && config.numClasses >= 0) &&
      `numClasses must be a non-negative integer, got ${config.numClasses}`,
    ![4, 8, 16].includes(config.patchSize) &&
      `patchSize must be 4, 8 or 16 (as timm), got ${config.patchSize}`,
    !positive(config.stemHiddenDim) &&
      `stemHiddenDim must be a positive integer, got ${config.stemHiddenDim}`,
    ...(
      [
        ['embedDims', config.embedDims],
        ['numHeads', config.numHeads],
        ['downsamples', config.downsamples],
        ['outlookAttention', config.outlookAttention],
        ['mlpRatio', config.mlpRatio],
      ] as const
    ).map(
      ([name, values]) =>
        values.length !== count && `${name} must have one value per stage (${count}), got ${values.length}`,
    ),
    !(positive(config.postLayers) && config.postLayers >= 1) &&
      `postLayers (class-attention blocks) must be a positive integer, got ${config.postLayers}`,
    !positive(config.poolingScale) && `poolingScale must be a positive integer, got ${config.poolingScale}`,
    !(positive(config.outlookKernelSize) && positive(config.outlookStride)) &&
      'outlookKernelSize and outlookStride must be positive integers',
    !(Number.isInteger(config.outlookPadding) && config.outlookPadding >= 0) &&
      `outlookPadding must be a non-negative integer, got ${config.outlookPadding}`,
    ...(['posDropRate', 'dropRate', 'dropPathRate'] as const).map(
      (name) => !(config[name] >= 0 && config[name] < 1) && `${name} must be in [0, 1), got ${config[name]}`,
    ),
  ];
  const scoreNorm = scoreNormFields(config.attention).scoreNorm;
  if (scoreNorm != null && !SCORE_NORMS.includes(scoreNorm)) {
    problems.push(`attention.scoreNorm must be one of ${SCORE_NORMS.join(', ')}, got '${scoreNorm}'`);
  }
  if (problems.some(Boolean)) throw new Error(`VOLO: ${problems.filter(Boolean).join('; ')}`);
  config.embedDims.forEach((dim, index) => {
    const heads = config.numHeads[index]!;
    if (!(positive(dim) && positive(heads) && dim % heads === 0)) {
      problems.push(`stage ${index}: numHeads (${heads}) must divide embedDims (${dim})`);
    }
    if (config.downsamples[index] && index === count - 1) {
      problems.push(`stage ${index}: the last stage cannot downsample (no next stage)`);
    }
    if (!config.downsamples[index] && index < count - 1 && config.embedDims[index + 1] !== dim) {
      problems.push(
        `stage ${index + 1}: embedDims changes (${dim} -> ${config.embedDims[index + 1]}) without a downsample`,
      );
    }
  });
  // timm adds the position embedding (last stage's width) before network entry 2
  const grids = stageGrids(config);
  // each network entry's input grid and width (a stage keeps both; a downsample changes them for the next)
  const entries: Array<{ size: number; dim: number }> = [];
  config.layers.forEach((_, index) => {
    entries.push({ size: grids[index]!, dim: config.embedDims[index]! });
    if (config.downsamples[index]) entries.push({ size: grids[index]!, dim: config.embedDims[index]! });
  });
  const positionGrid = Math.floor(Math.floor(config.imgSize / config.patchSize) / config.poolingScale);
  const lastDim = config.embedDims[count - 1]!;
  const atPosition = entries[2];
  if (!atPosition) {
    problems.push(
      `needs at least 3 network entries (stages + downsamples) for the position embedding, got ${entries.length}`,
    );
  } else if (atPosition.size !== positionGrid || atPosition.dim !== lastDim) {
    problems.push(
      `the position embedding [${positionGrid}, ${positionGrid}, ${lastDim}] does not fit network entry 2's input [${atPosition.size}, ${atPosition.size}, ${atPosition.dim}]`,
    );
  }
  const { outlookKernelSize: kernel, outlookPadding: padding, outlookStride: stride } = config;
  grids.forEach((size, index) => {
    if (!(size > 0)) problems.push(`stage ${index}: a ${config.imgSize}px image leaves no tokens`);
    else if (
      config.outlookAttention[index] &&
      Math.floor((size + 2 * padding - kernel) / stride) + 1 !== Math.ceil(size / stride)
    ) {
      problems.push(
        `stage ${index}: outlook kernel ${kernel}, padding ${padding}, stride ${stride} do not tile a ${size}x${size} grid`,
      );
    }
  });
  if (problems.some(Boolean)) throw new Error(`VOLO: ${problems.filter(Boolean).join('; ')}`);
}

/** timm's `_init_weights` for a Linear: trunc_normal(std 0.02) weight, zero bias. */
function initLinear(linear: Linear, random: Random | undefined): void {
  tf.tidy(() => {
    linear.weight.assign(init.truncNormal(linear.weight.shape, { std: 0.02, random }) as tf.Tensor2D);
    linear.bias?.assign(tf.zerosLike(linear.bias));
  });
}

function initLinears(module: Module, random: Random | undefined): void {
  for (const child of module.namedModules().values()) if (child instanceof Linear) initLinear(child, random);
}

/** Keeps every stride-th row and column (from 0) of [B, H, W, C], with ops that all have gradients. */
function subsample(input: tf.Tensor, stride: number): tf.Tensor {
  if (stride === 1) return input;
  const [batch, height, width, channels] = input.shape as [number, number, number, number];
  const outHeight = Math.ceil(height / stride);
  const outWidth = Math.ceil(width / stride);
  const padded = tf.pad(input, [
    [0, 0],
    [0, outHeight * stride - height],
    [0, outWidth * stride - width],
    [0, 0],
  ]);
  // rank-3 views only: wasm slices tensors of rank 5 and more element by element
  const rows = tf.slice(
    tf.reshape(padded, [batch * outHeight, stride, outWidth * stride * channels]),
    [0, 0, 0],
    [-1, 1, -1],
  );
  const picked = tf.slice(
    tf.reshape(rows, [batch * outHeight * outWidth, stride, channels]),
    [0, 0, 0],
    [-1, 1, -1],
  );
  return tf.reshape(picked, [batch, outHeight, outWidth, channels]);
}

/** Inverse of `subsample`: spreads [B, h, w, C] to [B, (h-1) s + 1, (w-1) s + 1, C] with zeros between. */
function spread(input: tf.Tensor, stride: number): tf.Tensor {
  if (stride === 1) return input;
  const [batch, height, width, channels] = input.shape as [number, number, number, number];
  // rank-3 pads only (see subsample)
  const columns = tf.pad(tf.reshape(input, [batch * height * width, 1, channels]), [
    [0, 0],
    [0, stride - 1],
    [0, 0],
  ]);
  const rows = tf.pad(tf.reshape(columns, [batch * height, 1, width * stride * channels]), [
    [0, 0],
    [0, stride - 1],
    [0, 0],
  ]);
  const flat = tf.reshape(rows, [batch, height * stride, width * stride, channels]);
  return tf.slice(flat, [0, 0, 0, 0], [batch, (height - 1) * stride + 1, (width - 1) * stride + 1, channels]);
}

/**
 * `nn.AvgPool2d(stride, stride, ceil_mode=True)` on NHWC: windows past the border average only the
 * elements inside it (PyTorch's divisor with ceil_mode and no padding).
 */
function averagePoolCeil(input: tf.Tensor, stride: number): tf.Tensor {
  if (stride === 1) return input;
  const [batch, height, width, channels] = input.shape as [number, number, number, number];
  const outHeight = Math.ceil(height / stride);
  const outWidth = Math.ceil(width / stride);
  const padded = tf.pad(input, [
    [0, 0],
    [0, outHeight * stride - height],
    [0, outWidth * stride - width],
    [0, 0],
  ]);
  const rowSums = tf.sum(tf.reshape(padded, [batch * outHeight, stride, outWidth * stride * channels]), 1);
  const sums = tf.reshape(tf.sum(tf.reshape(rowSums, [batch * outHeight * outWidth, stride, channels]), 1), [
    batch,
    outHeight,
    outWidth,
    channels,
  ]);
  const counts = new Float32Array(outHeight * outWidth);
  for (let row = 0; row < outHeight; row++) {
    for (let column = 0; column < outWidth; column++) {
      const rows = Math.min(stride, height - row * stride);
      const columns = Math.min(stride, width - column * stride);
      counts[row * outWidth + column] = rows * columns;
    }
  }
  return tf.div(sums, tf.tensor4d(counts, [1, outHeight, outWidth, 1]));
}

export interface OutlookAttentionOptions {
  dim: number;
  numHeads: number;
  /** Window size K (default 3). */
  kernelSize?: number;
  /** Zero padding of the windows (default 1). */
  padding?: number;
  /** Window stride; also the average-pool size that predicts the weights (default 1). */
  stride?: number;
  qkvBias?: boolean;
  scoreNorm?: ScoreNormOptions;
  attnDrop?: number;
  projDrop?: number;
  random?: Random;
}

/**
 * timm's `OutlookAttention` on NHWC maps [B, H, W, dim]. State dict: `v.weight` (+ `v.bias` with
 * qkvBias), `attn.{weight [K^4 heads, dim], bias}`, `proj.{weight, bias}`. Unfold and fold are built
 * from pad, slice and reshape (tfjs has neither), so they train on every backend.
 */
export class OutlookAttention extends Module implements TensorModule {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly kernelSize: number;
  readonly padding: number;
  readonly stride: number;
  readonly scale: number;
  readonly scoreNorm: ScoreNormOptions;
  readonly attnDrop: number;
  readonly projDrop: number;
  readonly v: Linear;
  readonly attn: Linear;
  readonly proj: Linear;
  readonly #random: Random | undefined;

  constructor(options: OutlookAttentionOptions) {
    super();
    const { dim, numHeads, random } = options;
    if (!(Number.isInteger(dim) && Number.isInteger(numHeads) && numHeads > 0 && dim % numHeads === 0)) {
      throw new Error(`OutlookAttention: dim (${dim}) must be divisible by numHeads (${numHeads})`);
    }
    this.dim = dim;
    this.numHeads = numHeads;
    this.headDim = dim / numHeads;
    this.kernelSize = options.kernelSize ?? 3;
    this.padding = options.padding ?? 1;
    this.stride = options.stride ?? 1;
    this.scale = this.headDim ** -0.5;
    this.scoreNorm = options.scoreNorm ?? {};
    this.attnDrop = options.attnDrop ?? 0;
    this.projDrop = options.projDrop ?? 0;
    this.#random = random;
    const taps = this.kernelSize * this.kernelSize;
    this.v = this.addModule(
      'v',
      new Linear({ inFeatures: dim, outFeatures: dim, bias: options.qkvBias ?? false, random }),
    );
    this.attn = this.addModule(
      'attn',
      new Linear({ inFeatures: dim, outFeatures: taps * taps * numHeads, random }),
    );
    this.proj = this.addModule('proj', new Linear({ inFeatures: dim, outFeatures: dim, random }));
  }

  forward(input: tf.Tensor, options: { training?: boolean } = {}): tf.Tensor {
    this.checkShape(input, ['B', 'H', 'W', this.dim]);
    const [batch, height, width] = input.shape as [number, number, number, number];
    const { kernelSize: kernel, padding, stride, numHeads, headDim, dim } = this;
    const taps = kernel * kernel;
    const outHeight = Math.ceil(height / stride);
    const outWidth = Math.ceil(width / stride);
    if (
      Math.floor((height + 2 * padding - kernel) / stride) + 1 !== outHeight ||
      Math.floor((width + 2 * padding - kernel) / stride) + 1 !== outWidth
    ) {
      throw new Error(
        `${this.location}: kernel ${kernel}, padding ${padding}, stride ${stride} do not tile a ${height}x${width} map`,
      );
    }
    const locations = outHeight * outWidth;
    const extentHeight = (outHeight - 1) * stride + 1;
    const extentWidth = (outWidth - 1) * stride + 1;
    return tf.tidy(() => {
      // unfold: [B, h, w, K^2, C], taps in (row, column) order as nn.Unfold
      const values = tf.pad(this.v.forward(input), [
        [0, 0],
        [padding, padding],
        [padding, padding],
        [0, 0],
      ]);
      const windows: tf.Tensor[] = [];
      for (let row = 0; row < kernel; row++) {
        for (let column = 0; column < kernel; column++) {
          const region = tf.slice(values, [0, row, column, 0], [batch, extentHeight, extentWidth, dim]);
          windows.push(subsample(region, stride));
        }
      }
      // [B, L, K^2, heads, hd] -> [B * heads * L, K^2, hd]
      const unfolded = tf.reshape(
        tf.transpose(
          tf.reshape(tf.concat(windows, 3), [batch, locations, taps, numHeads, headDim]),
          [0, 3, 1, 2, 4],
        ),
        [batch * numHeads * locations, taps, headDim],
      );
      // weights from the pooled map: [B, h, w, heads K^4] -> [B, heads, L, K^2, K^2]
      const logits = tf.transpose(
        tf.reshape(this.attn.forward(averagePoolCeil(input, stride)), [
          batch,
          locations,
          numHeads,
          taps,
          taps,
        ]),
        [0, 2, 1, 3, 4],
      );
      let weights = normalizeScores(tf.mul(logits, this.scale), this.scoreNorm);
      weights = dropout(weights, this.attnDrop, { training: options.training, random: this.#random });
      const mixed = tf.matMul(tf.reshape(weights, [batch * numHeads * locations, taps, taps]), unfolded);
      // [B, heads, L, K^2, hd] -> [B, h, w, K^2, C]
      const perTap = tf.reshape(
        tf.transpose(tf.reshape(mixed, [batch, numHeads, locations, taps, headDim]), [0, 2, 3, 1, 4]),
        [batch, outHeight, outWidth, taps * dim],
      );
      // fold: every tap's map goes back to its offset in the padded grid; overlaps add up
      const paddedHeight = height + 2 * padding;
      const paddedWidth = width + 2 * padding;
      let folded: tf.Tensor | null = null;
      for (let row = 0; row < kernel; row++) {
        for (let column = 0; column < kernel; column++) {
          const placed = tf.pad(
            spread(tf.slice(perTap, [0, 0, 0, (row * kernel + column) * dim], [-1, -1, -1, dim]), stride),
            [
              [0, 0],
              [row, paddedHeight - row - extentHeight],
              [column, paddedWidth - column - extentWidth],
              [0, 0],
            ],
          );
          folded = folded ? tf.add(folded, placed) : placed;
        }
      }
      const cropped = tf.slice(folded!, [0, padding, padding, 0], [batch, height, width, dim]);
      return dropout(this.proj.forward(cropped), this.projDrop, {
        training: options.training,
        random: this.#random,
      });
    });
  }
}

export interface VoloClassAttentionOptions {
  dim: number;
  numHeads: number;
  qkvBias?: boolean;
  scoreNorm?: ScoreNormOptions;
  attnDrop?: number;
  projDrop?: number;
  random?: Random;
}

/**
 * timm's VOLO `ClassAttention`: the class token (first) attends to every token. [B, N, dim] ->
 * [B, 1, dim]. State dict: `kv.weight` [2 dim, dim], `q.weight` [dim, dim] (+ biases with qkvBias),
 * `proj.*`.
 */
export class VoloClassAttention extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly scale: number;
  readonly scoreNorm: ScoreNormOptions;
  readonly attnDrop: number;
  readonly projDrop: number;
  readonly kv: Linear;
  readonly q: Linear;
  readonly proj: Linear;
  readonly #random: Random | undefined;

  constructor(options: VoloClassAttentionOptions) {
    super();
    const { dim, numHeads, random } = options;
    this.dim = dim;
    this.numHeads = numHeads;
    this.headDim = Math.floor(dim / numHeads);
    this.scale = this.headDim ** -0.5;
    this.scoreNorm = options.scoreNorm ?? {};
    this.attnDrop = options.attnDrop ?? 0;
    this.projDrop = options.projDrop ?? 0;
    this.#random = random;
    const inner = this.headDim * numHeads;
    const bias = options.qkvBias ?? false;
    this.kv = this.addModule('kv', new Linear({ inFeatures: dim, outFeatures: 2 * inner, bias, random }));
    this.q = this.addModule('q', new Linear({ inFeatures: dim, outFeatures: inner, bias, random }));
    this.proj = this.addModule('proj', new Linear({ inFeatures: inner, outFeatures: dim, random }));
  }

  forward(input: tf.Tensor, options: { training?: boolean } = {}): tf.Tensor {
    this.checkShape(input, ['B', 'N', this.dim]);
    const [batch, tokens] = input.shape as [number, number, number];
    const { numHeads, headDim } = this;
    return tf.tidy(() => {
      // k and v split on the rank-3 projection (wasm slices rank-5 tensors element by element)
      const kv = this.kv.forward(input);
      const inner = numHeads * headDim;
      const heads = (part: tf.Tensor) =>
        tf.transpose(tf.reshape(part, [batch, tokens, numHeads, headDim]), [0, 2, 1, 3]);
      const k = heads(tf.slice(kv, [0, 0, 0], [-1, -1, inner]));
      const v = heads(tf.slice(kv, [0, 0, inner], [-1, -1, inner]));
      const q = tf.reshape(this.q.forward(tf.slice(input, [0, 0, 0], [-1, 1, -1])), [
        batch,
        numHeads,
        1,
        headDim,
      ]);
      let weights = normalizeScores(tf.matMul(tf.mul(q, this.scale), k, false, true), this.scoreNorm);
      weights = dropout(weights, this.attnDrop, { training: options.training, random: this.#random });
      const merged = tf.reshape(tf.matMul(weights, v), [batch, 1, numHeads * headDim]);
      return dropout(this.proj.forward(merged), this.projDrop, {
        training: options.training,
        random: this.#random,
      });
    });
  }
}

interface BlockOptions {
  dim: number;
  numHeads: number;
  mlpRatio: number;
  normEps: number;
  dropPath: number;
  random?: Random;
}

/** timm's `Outlooker` block on NHWC maps: keys `norm1`, `attn` (OutlookAttention), `norm2`, `mlp`. */
export class Outlooker extends Module implements TensorModule {
  readonly norm1: LayerNorm;
  readonly attn: OutlookAttention;
  readonly dropPath: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(options: BlockOptions & Omit<OutlookAttentionOptions, 'dim' | 'numHeads' | 'random'>) {
    super();
    const { dim, random } = options;
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.attn = this.addModule('attn', new OutlookAttention(options));
    this.dropPath = this.addModule('drop_path', new DropPath({ probability: options.dropPath, random }));
    this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.mlp = this.addModule(
      'mlp',
      new Mlp({ inFeatures: dim, hiddenFeatures: Math.floor(dim * options.mlpRatio), random }),
    );
  }

  forward(input: tf.Tensor, options: { training?: boolean } = {}): tf.Tensor {
    return tf.tidy(() => {
      const x = tf.add(
        input,
        this.dropPath.forward(this.attn.forward(this.norm1.forward(input), options), options),
      );
      return tf.add(x, this.dropPath.forward(this.mlp.forward(this.norm2.forward(x), options), options));
    });
  }
}

/** timm's VOLO `Transformer` block on NHWC maps: keys `norm1`, `attn` (`qkv`, `proj`), `norm2`, `mlp`. */
export class VoloTransformer extends Module implements TensorModule {
  readonly norm1: LayerNorm;
  readonly attn: AttentionModule;
  readonly dropPath: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(options: BlockOptions & { qkvBias: boolean; attention: AttentionConfig }) {
    super();
    const { dim, numHeads, random } = options;
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.attn = this.addModule(
      'attn',
      createAttention(options.attention, { dim, numHeads, qkvBias: options.qkvBias, random }),
    );
    this.dropPath = this.addModule('drop_path', new DropPath({ probability: options.dropPath, random }));
    this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.mlp = this.addModule(
      'mlp',
      new Mlp({ inFeatures: dim, hiddenFeatures: Math.floor(dim * options.mlpRatio), random }),
    );
  }

  forward(input: tf.Tensor, options: { training?: boolean } = {}): tf.Tensor {
    const [batch, height, width, channels] = input.shape as [number, number, number, number];
    const attentionOptions = { ...options, gridSize: [height, width] as const, numPrefixTokens: 0 };
    return tf.tidy(() => {
      const tokens = tf.reshape(this.norm1.forward(input), [batch, height * width, channels]);
      const attended = tf.reshape(this.attn.forward(tokens, attentionOptions), [
        batch,
        height,
        width,
        channels,
      ]);
      const x = tf.add(input, this.dropPath.forward(attended, options));
      return tf.add(x, this.dropPath.forward(this.mlp.forward(this.norm2.forward(x), options), options));
    });
  }
}

/** timm's `ClassBlock`: updates only the class token. Keys `norm1`, `attn` (VoloClassAttention), `norm2`, `mlp`. */
export class VoloClassBlock extends Module implements TensorModule {
  readonly norm1: LayerNorm;
  readonly attn: VoloClassAttention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(options: BlockOptions & Omit<VoloClassAttentionOptions, 'dim' | 'numHeads' | 'random'>) {
    super();
    const { dim, random } = options;
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.attn = this.addModule('attn', new VoloClassAttention(options));
    this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.mlp = this.addModule(
      'mlp',
      new Mlp({ inFeatures: dim, hiddenFeatures: Math.floor(dim * options.mlpRatio), random }),
    );
  }

  forward(input: tf.Tensor, options: { training?: boolean } = {}): tf.Tensor {
    return tf.tidy(() => {
      let cls = tf.slice(input, [0, 0, 0], [-1, 1, -1]);
      cls = tf.add(cls, this.attn.forward(this.norm1.forward(input), options));
      cls = tf.add(cls, this.mlp.forward(this.norm2.forward(cls), options));
      return tf.concat([cls, tf.slice(input, [0, 1, 0], [-1, -1, -1])], 1);
    });
  }
}

/** Conv (no bias) + BatchNorm + ReLU, three times: keys `0`, `1`, `3`, `4`, `6`, `7` as timm's nn.Sequential. */
class VoloStem extends Module {
  readonly convs: Conv2d[] = [];
  readonly norms: BatchNorm[] = [];

  constructor(inChans: number, hidden: number, random: Random | undefined) {
    super();
    const specs = [
      { kernelSize: 7, stride: 2, padding: 3, inChannels: inChans },
      { kernelSize: 3, stride: 1, padding: 1, inChannels: hidden },
      { kernelSize: 3, stride: 1, padding: 1, inChannels: hidden },
    ];
    specs.forEach((spec, index) => {
      this.convs.push(
        this.addModule(String(3 * index), new Conv2d({ ...spec, outChannels: hidden, bias: false, random })),
      );
      this.norms.push(this.addModule(String(3 * index + 1), new BatchNorm({ numFeatures: hidden })));
    });
  }

  forward(input: tf.Tensor, options: BatchNormForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      let x = input;
      this.convs.forEach((conv, index) => {
        x = tf.relu(this.norms[index]!.forward(conv.forward(x), options));
      });
      return x;
    });
  }
}

/** timm's VOLO `PatchEmbed` with the conv stem: keys `conv.*` and `proj` (k = s = patchSize / 2). */
class VoloPatchEmbed extends Module {
  readonly conv: VoloStem;
  readonly proj: Conv2d;

  constructor(config: ResolvedVoloConfig, random: Random | undefined) {
    super();
    this.conv = this.addModule('conv', new VoloStem(config.inChans, config.stemHiddenDim, random));
    const step = config.patchSize / 2;
    this.proj = this.addModule(
      'proj',
      new Conv2d({
        inChannels: config.stemHiddenDim,
        outChannels: config.embedDims[0]!,
        kernelSize: step,
        stride: step,
        random,
      }),
    );
  }

  forward(input: tf.Tensor, options: BatchNormForwardOptions): tf.Tensor {
    return tf.tidy(() => this.proj.forward(this.conv.forward(input, options)));
  }
}

/** timm's `Downsample`: a 2x2 stride-2 convolution on NHWC maps (key `proj`). */
class Downsample extends Module implements TensorModule {
  readonly proj: Conv2d;

  constructor(inDim: number, outDim: number, random: Random | undefined) {
    super();
    this.proj = this.addModule(
      'proj',
      new Conv2d({ inChannels: inDim, outChannels: outDim, kernelSize: 2, stride: 2, random }),
    );
  }

  forward(input: tf.Tensor): tf.Tensor {
    return this.proj.forward(input);
  }
}

/**
 * VOLO classifier on NHWC images [B, H, W, C] (timm's `VOLO`, simplified forward without mix-token).
 *
 * State dict (timm's keys): `patch_embed.conv.{0,1,3,4,6,7}.*`, `patch_embed.proj.*`, `pos_embed`
 * [1, h, w, D], `network.{i}.{j}.*` (stage blocks; downsamples are `network.{i}.proj`),
 * `post_network.{i}.*`, `cls_token`, `aux_head`, `norm`, `head`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { VOLO, VOLO_PRESETS } from '@mlzoo/vit';
 *
 * const model = new VOLO(VOLO_PRESETS.volo_fashion_mnist.config);
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class VOLO extends Module implements Classifier {
  readonly config: Readonly<ResolvedVoloConfig>;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'patch_embed.conv.0';
  readonly patchEmbed: VoloPatchEmbed;
  readonly posEmbed: tf.Variable;
  readonly network: ModuleList<Module>;
  /** Network entries that are stages (not downsamples), in order. */
  readonly stages: ModuleList<Module & TensorModule>[] = [];
  readonly postNetwork: ModuleList<VoloClassBlock>;
  readonly clsToken: tf.Variable;
  auxHead: Linear | null;
  readonly norm: LayerNorm;
  head: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: VoloConfig = {}) {
    super();
    const resolved = resolveConfig(config);
    validateConfig(resolved);
    this.config = resolved;
    const random = config.random;
    this.#random = random;
    const dims = resolved.embedDims;
    const last = dims[dims.length - 1]!;
    this.numFeatures = last;
    this.headHiddenSize = last;
    this.#numClasses = resolved.numClasses;
    this.patchEmbed = this.addModule('patch_embed', new VoloPatchEmbed(resolved, random));
    const grid = Math.floor(Math.floor(resolved.imgSize / resolved.patchSize) / resolved.poolingScale);
    this.posEmbed = this.addParameter(
      'pos_embed',
      init.truncNormal([1, grid, grid, last], { std: 0.02, random }),
    );
    this.network = this.addModule('network', new ModuleList<Module>());
    const totalLayers = resolved.layers.reduce((sum, value) => sum + value, 0);
    let before = 0;
    resolved.layers.forEach((count, index) => {
      const dim = dims[index]!;
      const numHeads = resolved.numHeads[index]!;
      const mlpRatio = resolved.mlpRatio[index]!;
      const stage = new ModuleList<Module & TensorModule>();
      const fields = scoreNormFields(resolved.attention);
      const { attnDrop, ...scoreNorm } = fields;
      for (let block = 0; block < count; block++) {
        const common = { dim, numHeads, mlpRatio, normEps: resolved.normEps, random };
        if (resolved.outlookAttention[index]) {
          stage.append(
            new Outlooker({
              ...common,
              dropPath: 0,
              kernelSize: resolved.outlookKernelSize,
              padding: resolved.outlookPadding,
              stride: resolved.outlookStride,
              qkvBias: resolved.qkvBias,
              scoreNorm,
              attnDrop,
            }),
          );
        } else {
          const rate = totalLayers > 1 ? (resolved.dropPathRate * (block + before)) / (totalLayers - 1) : 0;
          stage.append(
            new VoloTransformer({
              ...common,
              dropPath: rate,
              qkvBias: resolved.qkvBias,
              attention: resolved.attention,
            }),
          );
        }
      }
      before += count;
      this.network.append(stage);
      this.stages.push(stage);
      if (resolved.downsamples[index]) this.network.append(new Downsample(dim, dims[index + 1]!, random));
    });
    this.postNetwork = this.addModule('post_network', new ModuleList<VoloClassBlock>());
    const { attnDrop, ...scoreNorm } = scoreNormFields(resolved.attention);
    for (let index = 0; index < resolved.postLayers; index++) {
      this.postNetwork.append(
        new VoloClassBlock({
          dim: last,
          numHeads: resolved.numHeads[resolved.numHeads.length - 1]!,
          mlpRatio: resolved.mlpRatio[resolved.mlpRatio.length - 1]!,
          normEps: resolved.normEps,
          dropPath: 0,
          qkvBias: resolved.qkvBias,
          scoreNorm,
          attnDrop,
          random,
        }),
      );
    }
    this.clsToken = this.addParameter('cls_token', init.truncNormal([1, 1, last], { std: 0.02, random }));
    this.auxHead = null;
    if (resolved.useAuxHead) {
      const aux = this.addModule(
        'aux_head',
        resolved.numClasses > 0 ? this.#linearHead(resolved.numClasses) : new Identity(),
      );
      this.auxHead = aux instanceof Linear ? aux : null;
    }
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: last, eps: resolved.normEps }));
    this.head = this.addModule(
      'head',
      resolved.numClasses > 0 ? this.#linearHead(resolved.numClasses) : new Identity(),
    );
    initLinears(this.network, random);
    initLinears(this.postNetwork, random);
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #linearHead(numClasses: number): Linear {
    const head = new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random });
    initLinear(head, this.#random);
    return head;
  }

  /** Stem, stages (position embedding before network entry 2, as timm), class token and class blocks. */
  #tokens(
    input: tf.Tensor,
    options: BatchNormForwardOptions,
    visit?: (stage: number, map: tf.Tensor) => void,
  ): tf.Tensor {
    const { imgSize, inChans } = this.config;
    this.checkShape(input, ['B', imgSize, imgSize, inChans]);
    let x = this.patchEmbed.forward(input, options);
    this.network.items.forEach((entry, index) => {
      if (index === 2) {
        x = dropout(tf.add(x, this.posEmbed), this.config.posDropRate, {
          training: options.training,
          random: this.#random,
        });
      }
      if (entry instanceof ModuleList) {
        for (const block of entry.items) x = block.forward(x, options);
        visit?.(this.stages.indexOf(entry), x);
      } else if (entry instanceof Downsample) {
        x = entry.forward(x);
      }
    });
    const [batch, height, width, channels] = x.shape as [number, number, number, number];
    let tokens = tf.concat(
      [tf.tile(this.clsToken, [batch, 1, 1]), tf.reshape(x, [batch, height * width, channels])],
      1,
    );
    for (const block of this.postNetwork) tokens = block.forward(tokens, options);
    return tokens;
  }

  /** Tokens after the final norm: [B, 1 + N, D], class token first. */
  forwardFeatures(input: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.norm.forward(this.#tokens(input, options)));
  }

  /**
   * head(class token) + 0.5 * max over patch tokens of aux_head(tokens) (timm's forward_head with
   * global_pool 'token'); preLogits returns the class token. Without classes (numClasses 0) the class
   * token is returned as is (timm would add 0.5 * max of the raw features).
   */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'N', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = tf.squeeze(tf.slice(features, [0, 0, 0], [-1, 1, -1]), [1]);
      if (options.preLogits) return pooled;
      const logits = this.head.forward(pooled);
      if (!this.auxHead) return logits;
      // timm's head_drop reaches only the auxiliary path
      const dropped = dropout(features, this.config.dropRate, {
        training: options.training,
        random: this.#random,
      });
      const auxiliary = this.auxHead.forward(tf.slice(dropped, [0, 1, 0], [-1, -1, -1]));
      return tf.add(logits, tf.mul(tf.max(auxiliary, 1), 0.5));
    });
  }

  forward(input: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** Each selected stage's output map [B, H_i, W_i, D_i] (NHWC, before its downsample). */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.stages.length));
    const outputs: tf.Tensor[] = [];
    tf.tidy(() => {
      this.#tokens(input, options, (stage, map) => {
        if (chosen.has(stage)) outputs.push(tf.keep(tf.clone(map)));
      });
    });
    return outputs;
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    const old = this.setSubmodule('head', numClasses > 0 ? this.#linearHead(numClasses) : new Identity());
    old.dispose();
    if (this.config.useAuxHead) {
      const aux = numClasses > 0 ? this.#linearHead(numClasses) : new Identity();
      this.setSubmodule('aux_head', aux).dispose();
      this.auxHead = aux instanceof Linear ? aux : null;
    }
    this.#numClasses = numClasses;
  }
}

const PAPER = 'VOLO: Vision Outlooker for Visual Recognition (Yuan et al. 2021, arXiv:2106.13112)';
const SOURCE = 'timm/models/volo.py (sail-sg/volo weights)';

/** VOLO presets (pure data): timm's D1 and D2 at 224, and a small one for 28x28 grayscale images. */
export const VOLO_PRESETS: Record<string, ModelPreset<VoloConfig>> = {
  volo_d1_224: {
    config: { layers: [4, 4, 8, 2], embedDims: [192, 384, 384, 384], numHeads: [6, 12, 12, 12] },
    numParameters: 26_632_040,
    description:
      'VOLO-D1 at 224: outlookers at 28x28 (dim 192), transformers at 14x14 (dim 384); ImageNet-1k 84.2%.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  volo_d2_224: {
    config: { layers: [6, 4, 10, 4], embedDims: [256, 512, 512, 512], numHeads: [8, 16, 16, 16] },
    numParameters: 58_678_336,
    description: 'VOLO-D2 at 224: outlookers dim 256, transformers dim 512; ImageNet-1k 85.2%.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  volo_fashion_mnist: {
    config: {
      layers: [2, 2],
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      patchSize: 4,
      stemHiddenDim: 32,
      embedDims: [64, 128],
      numHeads: [2, 4],
      downsamples: [true, false],
      outlookAttention: [true, false],
    },
    numParameters: 813_176,
    description:
      'VOLO for 28x28 grayscale images: outlookers on a 7x7 grid (dim 64), transformers on 3x3 (dim 128).',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/vit',
  },
};

function fromPreset(name: string, overrides: VoloConfig): VOLO {
  return new VOLO({ ...VOLO_PRESETS[name]!.config, ...overrides });
}

export const voloD1_224 = (overrides: VoloConfig = {}): VOLO => fromPreset('volo_d1_224', overrides);
export const voloD2_224 = (overrides: VoloConfig = {}): VOLO => fromPreset('volo_d2_224', overrides);
export const voloFashionMnist = (overrides: VoloConfig = {}): VOLO =>
  fromPreset('volo_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createVolo(config: VoloConfig): VOLO {
  return new VOLO(config);
}

/** Registers the VOLO presets with core's `createModel`. Nothing registers on import. */
export function registerVoloModels(): void {
  for (const [name, preset] of Object.entries(VOLO_PRESETS)) registerModel(name, createVolo, preset);
}
