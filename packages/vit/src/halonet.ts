// HaloNet-style blocked local self-attention: Vaswani, Ramachandran, Srinivas, Parmar, Hechtman, Shlens,
// "Scaling Local Self-Attention for Parameter Efficient Visual Backbones", CVPR 2021, arXiv:2103.12731
// (https://arxiv.org/abs/2103.12731). There is no official code: the attention follows timm's
// `timm/layers/halo_attn.py` (`HaloAttn`, `PosEmbedRel`) and the blocks timm's `SelfAttnBlock` and
// `BottleneckBlock` (`timm/models/byobnet.py`), with their parameter names. `HaloNet` builds two layouts:
// timm's ByobNet one (`stemType: 'tiered'`, stages mixing 'bottle' and 'self_attn' blocks), in which the
// `halonet26t` preset reproduces timm's `halonet26t` (`timm/models/byoanet.py`) key for key, and the mlzoo
// one (3x3 stem, halo blocks only) of `halonet_mlzoo_256` and `halonet_fashion_mnist`.
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
import {
  BatchNorm,
  Conv2d,
  dropout,
  Identity,
  Linear,
  normalizeScores,
  SCORE_NORMS,
  type ScoreNorm,
} from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

/** timm's `make_divisible`: round to a multiple of `divisor`, never more than 10% below `value`. */
export function makeDivisible(value: number, divisor = 8, roundLimit = 0.9): number {
  let result = Math.max(divisor, Math.floor((value + divisor / 2) / divisor) * divisor);
  if (result < roundLimit * value) result += divisor;
  return result;
}

/** Score normalisation of the halo attention (see `normalizeScores` in @mlzoo/layers). */
export interface HaloAttentionScoreConfig {
  /** Default 'softmax' (timm's). */
  scoreNorm?: ScoreNorm;
  sigmoidBias?: number;
  clipGamma?: number;
  clipZeta?: number;
}

/**
 * Selector [queries * window, 2 window - 1] with a one at column (k - q + window - 1) for query position
 * q and key position k: the relative-to-absolute shift of timm's `rel_logits_1d`, as a matMul.
 */
function relativeSelector(queries: number, window: number): tf.Tensor2D {
  return tf.tidy(() => {
    const index = new Int32Array(queries * window);
    for (let q = 0; q < queries; q++)
      for (let k = 0; k < window; k++) index[q * window + k] = k - q + window - 1;
    return tf.oneHot(tf.tensor1d(index, 'int32'), 2 * window - 1) as tf.Tensor2D;
  });
}

/**
 * Relative position logits factorised into height and width (timm's `PosEmbedRel`): for a query at
 * (qy, qx) of a block and a key at (ky, kx) of its window, q . height_rel[ky - qy + win - 1] +
 * q . width_rel[kx - qx + win - 1]. State dict: `height_rel`, `width_rel` [2 win - 1, dimHead].
 */
export class PosEmbedRel extends Module {
  readonly blockSize: number;
  readonly winSize: number;
  readonly dimHead: number;
  readonly heightRel: tf.Variable;
  readonly widthRel: tf.Variable;
  readonly #selector: tf.Tensor2D;

  constructor(options: {
    blockSize: number;
    winSize: number;
    dimHead: number;
    scale: number;
    random?: Random;
  }) {
    super();
    this.blockSize = options.blockSize;
    this.winSize = options.winSize;
    this.dimHead = options.dimHead;
    const shape = [2 * options.winSize - 1, options.dimHead];
    this.heightRel = this.addParameter(
      'height_rel',
      init.truncNormal(shape, { std: options.scale, random: options.random }),
    );
    this.widthRel = this.addParameter(
      'width_rel',
      init.truncNormal(shape, { std: options.scale, random: options.random }),
    );
    this.#selector = relativeSelector(this.blockSize, this.winSize);
  }

  /** Queries [N, blocks, bs * bs, dimHead] -> logits [N, blocks, bs * bs, win * win]. */
  forward(q: tf.Tensor): tf.Tensor {
    const [batch, blocks] = q.shape as [number, number, number, number];
    const size = this.blockSize;
    const win = this.winSize;
    const dim = this.dimHead;
    return tf.tidy(() => {
      const count = batch * blocks;
      const grid = tf.reshape(q, [count, size, size, dim]); // [N, qy, qx, d]
      // e[q, k, d] = rel[k - q + win - 1, d], as [q, d, k] for a matMul batched over q
      const embed = (table: tf.Tensor) =>
        tf.transpose(tf.reshape(tf.matMul(this.#selector, table), [size, win, dim]), [0, 2, 1]);
      // width: batched over qx
      const byColumn = tf.reshape(tf.transpose(grid, [2, 0, 1, 3]), [size, count * size, dim]);
      const widthLogits = tf.transpose(
        tf.reshape(tf.matMul(byColumn, embed(this.widthRel)), [size, count, size, win]),
        [1, 2, 0, 3],
      ); // [N, qy, qx, kx]
      // height: batched over qy
      const byRow = tf.reshape(tf.transpose(grid, [1, 0, 2, 3]), [size, count * size, dim]);
      const heightLogits = tf.transpose(
        tf.reshape(tf.matMul(byRow, embed(this.heightRel)), [size, count, size, win]),
        [1, 0, 2, 3],
      ); // [N, qy, qx, ky]
      const logits = tf.add(tf.expandDims(heightLogits, 4), tf.expandDims(widthLogits, 3));
      return tf.reshape(logits, [batch, blocks, size * size, win * win]);
    });
  }

  override dispose(): void {
    this.#selector.dispose();
    super.dispose();
  }
}

export interface HaloAttnOptions {
  dim: number;
  /** Output channels (default dim); divisible by numHeads. */
  dimOut?: number;
  /** 1 or 2: queries are taken with this stride (or the output average-pooled, see avgDown). */
  stride?: number;
  /** Default 8. */
  numHeads?: number;
  /** q/k channels per head (default make_divisible(dimOut * qkRatio, 8) / numHeads). */
  dimHead?: number | null;
  /** Query block size b (default 8); H and W must be multiples of it. */
  blockSize?: number;
  /** Halo h (default 3): keys and values come from the (b + 2h)^2 window around each block. */
  haloSize?: number;
  /** Default 1. */
  qkRatio?: number;
  /** Bias on q and kv (default false). */
  qkvBias?: boolean;
  /** With stride 2, average-pool the output instead of striding the queries (default false). */
  avgDown?: boolean;
  /** Scale the position logits with q k (default false). */
  scalePosEmbed?: boolean;
  attention?: HaloAttentionScoreConfig;
  random?: Random;
}

/**
 * timm's `HaloAttn` on NHWC maps: q = 1x1 conv (stride = block stride), kv = 1x1 conv; every b x b query
 * block attends to the (b + 2h) x (b + 2h) zero-padded window around it with logits
 * q k^T / sqrt(dimHead) + relative position logits, normalised by `normalizeScores` (softmax default).
 * State dict: `q.weight` [heads dqk, dim, 1, 1], `kv.weight` [heads (dqk + dv), dim, 1, 1] (per head:
 * k then v channels, as timm's reshape), `pos_embed.height_rel`, `pos_embed.width_rel`.
 */
export class HaloAttn extends Module {
  readonly numHeads: number;
  readonly dimHeadQk: number;
  readonly dimHeadV: number;
  readonly dimOutQk: number;
  readonly dimOutV: number;
  readonly scale: number;
  readonly scalePosEmbed: boolean;
  readonly blockSize: number;
  readonly blockSizeDs: number;
  readonly haloSize: number;
  readonly winSize: number;
  readonly blockStride: number;
  readonly useAvgPool: boolean;
  readonly attention: HaloAttentionScoreConfig;
  readonly q: Conv2d;
  readonly kv: Conv2d;
  readonly posEmbed: PosEmbedRel;

  constructor(options: HaloAttnOptions) {
    super();
    const dimOut = options.dimOut ?? options.dim;
    const numHeads = options.numHeads ?? 8;
    const stride = options.stride ?? 1;
    if (dimOut % numHeads !== 0 || (stride !== 1 && stride !== 2)) {
      throw new Error(
        `HaloAttn: dimOut (${dimOut}) must be divisible by numHeads (${numHeads}) and stride 1 or 2, got ${stride}`,
      );
    }
    this.numHeads = numHeads;
    this.dimHeadQk =
      options.dimHead ?? Math.floor(makeDivisible(dimOut * (options.qkRatio ?? 1), 8) / numHeads);
    this.dimHeadV = dimOut / numHeads;
    this.dimOutQk = numHeads * this.dimHeadQk;
    this.dimOutV = numHeads * this.dimHeadV;
    this.scale = this.dimHeadQk ** -0.5;
    this.scalePosEmbed = options.scalePosEmbed ?? false;
    this.blockSize = options.blockSize ?? 8;
    this.haloSize = options.haloSize ?? 3;
    this.winSize = this.blockSize + 2 * this.haloSize;
    this.useAvgPool = stride > 1 && ((options.avgDown ?? false) || this.blockSize % stride !== 0);
    this.blockStride = stride > 1 && !this.useAvgPool ? stride : 1;
    this.blockSizeDs = this.blockSize / this.blockStride;
    this.attention = { ...options.attention };
    const random = options.random;
    const bias = options.qkvBias ?? false;
    this.q = this.addModule(
      'q',
      new Conv2d({
        inChannels: options.dim,
        outChannels: this.dimOutQk,
        kernelSize: 1,
        stride: this.blockStride,
        bias,
        random,
      }),
    );
    this.kv = this.addModule(
      'kv',
      new Conv2d({
        inChannels: options.dim,
        outChannels: this.dimOutQk + this.dimOutV,
        kernelSize: 1,
        bias,
        random,
      }),
    );
    this.posEmbed = this.addModule(
      'pos_embed',
      new PosEmbedRel({
        blockSize: this.blockSizeDs,
        winSize: this.winSize,
        dimHead: this.dimHeadQk,
        scale: this.scale,
        random,
      }),
    );
    // timm's reset_parameters: trunc_normal(std = fan_in^-0.5) for q and kv
    const std = options.dim ** -0.5;
    tf.tidy(() => {
      this.q.weight.assign(init.truncNormal(this.q.weight.shape, { std, random }));
      this.kv.weight.assign(init.truncNormal(this.kv.weight.shape, { std, random }));
    });
  }

  /** [B, H, W, dim] -> [B, H / stride, W / stride, dimOut]. */
  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    void options;
    this.checkShape(input, ['B', 'H', 'W', this.kv.inChannels]);
    const [batch, height, width] = input.shape as [number, number, number, number];
    if (height % this.blockSize !== 0 || width % this.blockSize !== 0) {
      throw new Error(
        `${this.location}: input ${height}x${width} is not a multiple of the block size ${this.blockSize}`,
      );
    }
    const size = this.blockSize;
    const small = this.blockSizeDs;
    const win = this.winSize;
    const heads = this.numHeads;
    const { dimHeadQk, dimHeadV } = this;
    const rows = height / size;
    const columns = width / size;
    const blocks = rows * columns;
    return tf.tidy(() => {
      // queries [B heads, blocks, small^2, dqk]
      const queryMap = tf.reshape(this.q.forward(input), [batch, rows, small, columns, small, this.dimOutQk]);
      const queryBlocks = tf.reshape(tf.transpose(queryMap, [0, 1, 3, 2, 4, 5]), [
        batch,
        blocks,
        small * small,
        heads,
        dimHeadQk,
      ]);
      const q = tf.reshape(tf.transpose(queryBlocks, [0, 3, 1, 2, 4]), [
        batch * heads,
        blocks,
        small * small,
        dimHeadQk,
      ]);
      // overlapping (b + 2h)^2 windows of the zero-padded kv map: [B heads, blocks, win^2, dqk + dv]
      const halo = this.haloSize;
      const kvMap = tf.pad(this.kv.forward(input), [
        [0, 0],
        [halo, halo],
        [halo, halo],
        [0, 0],
      ]);
      const channels = this.dimOutQk + this.dimOutV;
      const paddedWidth = width + 2 * halo;
      // 4-D slices and concats only: wasm slices (and unstacks, in the gradient of a stack) 5-D tensors
      // element by element, ~100x slower (measured)
      const rowWindows = tf.concat(
        Array.from({ length: rows }, (_, row) =>
          tf.slice(kvMap, [0, row * size, 0, 0], [batch, win, paddedWidth, channels]),
        ),
        0,
      ); // [rows B, win, Wp, C]
      const columnWindows = tf.concat(
        Array.from({ length: columns }, (_, column) =>
          tf.slice(rowWindows, [0, 0, column * size, 0], [rows * batch, win, win, channels]),
        ),
        0,
      ); // [columns rows B, win, win, C]
      const windows = tf.transpose(
        tf.reshape(columnWindows, [columns, rows, batch, win, win, channels]),
        [2, 1, 0, 3, 4, 5],
      ); // [B, rows, columns, win, win, C]
      // split k and v on a 2-D view (per head: dqk key channels, then dv value channels)
      const [keyFlat, valueFlat] = tf.split(
        tf.reshape(windows, [-1, dimHeadQk + dimHeadV]),
        [dimHeadQk, dimHeadV],
        1,
      ) as [tf.Tensor, tf.Tensor];
      const toHeads = (flat: tf.Tensor, channels: number) =>
        tf.reshape(
          tf.transpose(tf.reshape(flat, [batch, blocks, win * win, heads, channels]), [0, 3, 1, 2, 4]),
          [batch * heads, blocks, win * win, channels],
        );
      const k = toHeads(keyFlat, dimHeadQk);
      const v = toHeads(valueFlat, dimHeadV);
      const qk = tf.matMul(q, k, false, true);
      const positional = this.posEmbed.forward(q);
      const scores = this.scalePosEmbed
        ? tf.mul(tf.add(qk, positional), this.scale)
        : tf.add(tf.mul(qk, this.scale), positional);
      const weights = normalizeScores(scores, this.attention);
      const heads4 = tf.reshape(tf.matMul(weights, v), [batch, heads, blocks, small * small, dimHeadV]);
      // fold back: channel = head * dv + c
      const perBlock = tf.reshape(tf.transpose(heads4, [0, 2, 3, 1, 4]), [
        batch,
        rows,
        columns,
        small,
        small,
        this.dimOutV,
      ]);
      let output = tf.reshape(tf.transpose(perBlock, [0, 1, 3, 2, 4, 5]), [
        batch,
        rows * small,
        columns * small,
        this.dimOutV,
      ]);
      if (this.useAvgPool) output = tf.avgPool(output as tf.Tensor4D, 2, 2, 'valid');
      return output;
    });
  }
}

/** timm's `ConvNormAct`: `conv` (bias-free) -> `bn` -> ReLU (unless `act` is false). */
export class ConvNormAct extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm;
  readonly act: boolean;

  constructor(options: {
    inChannels: number;
    outChannels: number;
    kernelSize: number;
    stride?: number;
    act?: boolean;
    random?: Random;
  }) {
    super();
    this.act = options.act ?? true;
    this.conv = this.addModule(
      'conv',
      new Conv2d({
        inChannels: options.inChannels,
        outChannels: options.outChannels,
        kernelSize: options.kernelSize,
        stride: options.stride ?? 1,
        padding: Math.floor((options.kernelSize - 1) / 2),
        bias: false,
        random: options.random,
      }),
    );
    this.bn = this.addModule('bn', new BatchNorm({ numFeatures: options.outChannels }));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const x = this.bn.forward(this.conv.forward(input), options);
      return this.act ? tf.relu(x) : x;
    });
  }
}

/**
 * The last 1x1 ConvNormAct (no act) of a residual block; with `zeroInitLast` its BN weight starts at zero
 * (timm's `zero_init_last`), so the block starts as its shortcut.
 */
function residualOutputConv(
  inChs: number,
  outChs: number,
  zeroInitLast: boolean,
  random?: Random,
): ConvNormAct {
  const conv = new ConvNormAct({ inChannels: inChs, outChannels: outChs, kernelSize: 1, act: false, random });
  if (zeroInitLast) tf.tidy(() => conv.bn.weight?.assign(tf.zerosLike(conv.bn.weight)));
  return conv;
}

/** timm's `create_shortcut` ('conv1x1' downsample): a 1x1 ConvNormAct without act when shapes change. */
function createShortcut(inChs: number, outChs: number, stride: number, random?: Random): ConvNormAct | null {
  if (inChs === outChs && stride === 1) return null;
  return new ConvNormAct({
    inChannels: inChs,
    outChannels: outChs,
    kernelSize: 1,
    stride,
    act: false,
    random,
  });
}

export interface HaloBlockOptions {
  inChs: number;
  outChs: number;
  stride?: number;
  /** Bottleneck width = make_divisible(outChs * bottleRatio) (default 0.25). */
  bottleRatio?: number;
  numHeads?: number;
  blockSize?: number;
  haloSize?: number;
  attention?: HaloAttentionScoreConfig;
  /** Zero-init the BN weight of conv3_1x1 (timm's `zero_init_last`; default false). */
  zeroInitLast?: boolean;
  random?: Random;
}

/**
 * timm's `SelfAttnBlock` with `HaloAttn`: shortcut (1x1 conv + BN when shapes change) + conv1_1x1
 * (ConvNormAct) -> self_attn -> post_attn (BN + ReLU) -> conv3_1x1 (conv + BN), then ReLU.
 */
export class HaloBlock extends Module {
  readonly shortcut: ConvNormAct | null;
  readonly conv1_1x1: ConvNormAct;
  readonly selfAttn: HaloAttn;
  readonly postAttn: BatchNorm;
  readonly conv3_1x1: ConvNormAct;

  constructor(options: HaloBlockOptions) {
    super();
    const { inChs, outChs, random } = options;
    const stride = options.stride ?? 1;
    const mid = makeDivisible(outChs * (options.bottleRatio ?? 0.25));
    const shortcut = createShortcut(inChs, outChs, stride, random);
    this.shortcut = shortcut ? this.addModule('shortcut', shortcut) : null;
    this.conv1_1x1 = this.addModule(
      'conv1_1x1',
      new ConvNormAct({ inChannels: inChs, outChannels: mid, kernelSize: 1, random }),
    );
    this.selfAttn = this.addModule(
      'self_attn',
      new HaloAttn({
        dim: mid,
        stride,
        numHeads: options.numHeads,
        blockSize: options.blockSize,
        haloSize: options.haloSize,
        attention: options.attention,
        random,
      }),
    );
    this.postAttn = this.addModule('post_attn', new BatchNorm({ numFeatures: mid }));
    this.conv3_1x1 = this.addModule(
      'conv3_1x1',
      residualOutputConv(mid, outChs, options.zeroInitLast ?? false, random),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = this.conv1_1x1.forward(input, options);
      x = tf.relu(this.postAttn.forward(this.selfAttn.forward(x, options), options));
      x = this.conv3_1x1.forward(x, options);
      const shortcut = this.shortcut ? this.shortcut.forward(input, options) : input;
      return tf.relu(tf.add(x, shortcut));
    });
  }
}

/**
 * timm's `BottleneckBlock` (byobnet 'bottle', group size 0): shortcut (1x1 conv + BN when shapes change) +
 * conv1_1x1 (ConvNormAct) -> conv2_kxk (3x3 ConvNormAct, carries the stride) -> conv3_1x1 (conv + BN), then
 * ReLU. State dict as timm's: `shortcut.{conv,bn}`, `conv1_1x1.{conv,bn}`, `conv2_kxk.{conv,bn}`,
 * `conv3_1x1.{conv,bn}`.
 */
export class BottleneckBlock extends Module {
  readonly shortcut: ConvNormAct | null;
  readonly conv1_1x1: ConvNormAct;
  readonly conv2_kxk: ConvNormAct;
  readonly conv3_1x1: ConvNormAct;

  constructor(options: {
    inChs: number;
    outChs: number;
    stride?: number;
    bottleRatio?: number;
    /** Zero-init the BN weight of conv3_1x1 (timm's `zero_init_last`; default false). */
    zeroInitLast?: boolean;
    random?: Random;
  }) {
    super();
    const { inChs, outChs, random } = options;
    const stride = options.stride ?? 1;
    const mid = makeDivisible(outChs * (options.bottleRatio ?? 0.25));
    const shortcut = createShortcut(inChs, outChs, stride, random);
    this.shortcut = shortcut ? this.addModule('shortcut', shortcut) : null;
    this.conv1_1x1 = this.addModule(
      'conv1_1x1',
      new ConvNormAct({ inChannels: inChs, outChannels: mid, kernelSize: 1, random }),
    );
    this.conv2_kxk = this.addModule(
      'conv2_kxk',
      new ConvNormAct({ inChannels: mid, outChannels: mid, kernelSize: 3, stride, random }),
    );
    this.conv3_1x1 = this.addModule(
      'conv3_1x1',
      residualOutputConv(mid, outChs, options.zeroInitLast ?? false, random),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = this.conv1_1x1.forward(input, options);
      x = this.conv2_kxk.forward(x, options);
      x = this.conv3_1x1.forward(x, options);
      const shortcut = this.shortcut ? this.shortcut.forward(input, options) : input;
      return tf.relu(tf.add(x, shortcut));
    });
  }
}

/** Channels of timm's tiered stem for `stemChs` c: [3c/8, c/2, c] (integer division, as timm). */
export function tieredStemChannels(stemChs: number): [number, number, number] {
  return [Math.floor((3 * stemChs) / 8), Math.floor(stemChs / 2), stemChs];
}

/**
 * timm's tiered stem (`create_byob_stem(stem_type='tiered')`): `conv1`, `conv2`, `conv3`, three 3x3
 * ConvNormAct with [3c/8, c/2, c] channels, the first with stride `firstStride` (2 in timm); when the model
 * has no max-pool after the stem, `conv3` is strided too (timm keeps the stem at stride 4). The max-pool has
 * no parameters and is applied by `HaloNet`.
 */
export class TieredStem extends Module {
  readonly conv1: ConvNormAct;
  readonly conv2: ConvNormAct;
  readonly conv3: ConvNormAct;

  constructor(options: {
    inChannels: number;
    stemChs: number;
    firstStride?: number;
    pool?: boolean;
    random?: Random;
  }) {
    super();
    const { inChannels, random } = options;
    const [first, second, third] = tieredStemChannels(options.stemChs);
    this.conv1 = this.addModule(
      'conv1',
      new ConvNormAct({
        inChannels,
        outChannels: first,
        kernelSize: 3,
        stride: options.firstStride ?? 2,
        random,
      }),
    );
    this.conv2 = this.addModule(
      'conv2',
      new ConvNormAct({ inChannels: first, outChannels: second, kernelSize: 3, random }),
    );
    this.conv3 = this.addModule(
      'conv3',
      new ConvNormAct({
        inChannels: second,
        outChannels: third,
        kernelSize: 3,
        stride: (options.pool ?? true) ? 1 : 2,
        random,
      }),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() =>
      this.conv3.forward(this.conv2.forward(this.conv1.forward(input, options), options), options),
    );
  }
}

/** Block types of timm's ByobNet used by the HaloNets: 'bottle' (BottleneckBlock), 'self_attn' (HaloBlock). */
export type HaloNetBlockType = 'bottle' | 'self_attn';

/** One stage of halo blocks: output channels, number of blocks, stride of the first block. */
export interface HaloStageConfig {
  outChs: number;
  depth: number;
  stride: number;
  /** Type of each block (length depth; default all 'self_attn'), as timm's `interleave_blocks`. */
  blockTypes?: readonly HaloNetBlockType[];
}

export interface HaloNetConfig {
  /** Image size, square or [height, width] (default 256). */
  imgSize?: number | readonly [number, number];
  /** Default 3. */
  inChans?: number;
  /** Default 1000 (0: `forward` returns pooled features). */
  numClasses?: number;
  /**
   * '3x3' (default): one 3x3 ConvNormAct named `stem` (mlzoo). 'tiered': timm's tiered stem
   * (`stem.conv1`, `stem.conv2`, `stem.conv3`, see `TieredStem`).
   */
  stemType?: '3x3' | 'tiered';
  /** Stem width (default 64): the 3x3 conv's, or the last conv's of the tiered stem. */
  stemChs?: number;
  /** Stride of the (first) stem conv (default 2). */
  stemStride?: number;
  /** 3x3 stride-2 max-pool after the stem (default true); without it the tiered stem strides conv3. */
  stemPool?: boolean;
  /**
   * Stages (default 256/512/1024/2048 channels, 2 halo blocks each, strides 1, 2, 2, 2); `blockTypes` mixes
   * bottleneck conv blocks in.
   */
  stages?: readonly HaloStageConfig[];
  /** Bottleneck ratio of the blocks (default 0.25). */
  bottleRatio?: number;
  /** Attention heads (default 8). */
  numHeads?: number;
  /** Query block size (default 8). */
  blockSize?: number;
  /** Halo (default 3, the paper's). */
  haloSize?: number;
  /** Dropout before the classifier (default 0). */
  dropRate?: number;
  attention?: HaloAttentionScoreConfig;
  /**
   * Start every block's last BN weight at zero (timm ByobNet's `zero_init_last`, true in timm; default false
   * here, true in the `halonet26t` preset). Changes the initial values only, never the state-dict keys.
   */
  zeroInitLast?: boolean;
  random?: Random;
}

const DEFAULT_STAGES: HaloStageConfig[] = [
  { outChs: 256, depth: 2, stride: 1 },
  { outChs: 512, depth: 2, stride: 2 },
  { outChs: 1024, depth: 2, stride: 2 },
  { outChs: 2048, depth: 2, stride: 2 },
];

/**
 * A HaloNet classifier on NHWC images: `stem` (ConvNormAct 3x3, or timm's tiered `stem.conv1..3`), optional
 * max-pool, `stages.{i}.{j}` blocks (timm's SelfAttnBlock names for halo blocks, BottleneckBlock names for
 * 'bottle' blocks), global average pool, `head.fc`. With the `halonet26t` preset the state dict is timm's.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { HaloNet } from '@mlzoo/vit';
 *
 * const model = new HaloNet({ imgSize: 16, inChans: 1, numClasses: 10, stemChs: 8, stemStride: 1,
 *   stemPool: false, stages: [{ outChs: 32, depth: 1, stride: 1 }], numHeads: 2, blockSize: 4, haloSize: 1 });
 * model.forward(tf.zeros([2, 16, 16, 1])).shape; // [2, 10]
 * ```
 */
export class HaloNet extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly stemPool: boolean;
  readonly dropRate: number;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head.fc';
  readonly firstLayerName: string;
  readonly stemType: '3x3' | 'tiered';
  readonly stem: ConvNormAct | TieredStem;
  readonly stages: ModuleList<ModuleList<HaloBlock | BottleneckBlock>>;
  readonly head: HaloHead;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: HaloNetConfig = {}) {
    super();
    const size = config.imgSize ?? 256;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.inChans = config.inChans ?? 3;
    this.#numClasses = config.numClasses ?? 1000;
    this.stemType = config.stemType ?? '3x3';
    const stemChs = config.stemChs ?? 64;
    const stemStride = config.stemStride ?? 2;
    this.stemPool = config.stemPool ?? true;
    const stages = (config.stages ?? DEFAULT_STAGES).map((stage) => ({
      ...stage,
      blockTypes: [
        ...(stage.blockTypes ??
          Array<HaloNetBlockType>(Number.isInteger(stage.depth) && stage.depth > 0 ? stage.depth : 0).fill(
            'self_attn',
          )),
      ],
    }));
    const blockSize = config.blockSize ?? 8;
    const haloSize = config.haloSize ?? 3;
    const numHeads = config.numHeads ?? 8;
    const bottleRatio = config.bottleRatio ?? 0.25;
    this.dropRate = config.dropRate ?? 0;
    this.#random = config.random;
    const scoreNorm = config.attention?.scoreNorm ?? 'softmax';

    // resolutions each block's attention sees, checked against the block size before any variable exists
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems: string[] = [];
    if (!this.imgSize.every(positive))
      problems.push(`imgSize must be positive integers, got ${JSON.stringify(size)}`);
    if (!positive(this.inChans)) problems.push(`inChans must be a positive integer, got ${this.inChans}`);
    if (!(Number.isInteger(this.#numClasses) && this.#numClasses >= 0))
      problems.push(`numClasses must be a non-negative integer, got ${this.#numClasses}`);
    if (!(positive(stemChs) && (stemStride === 1 || stemStride === 2)))
      problems.push(`stemChs must be positive and stemStride 1 or 2, got ${stemChs}, ${stemStride}`);
    if (this.stemType !== '3x3' && this.stemType !== 'tiered')
      problems.push(`stemType must be '3x3' or 'tiered', got ${JSON.stringify(this.stemType)}`);
    else if (this.stemType === 'tiered' && stemChs < 8)
      problems.push(
        `the tiered stem needs stemChs >= 8 (its first conv has 3 stemChs / 8 channels), got ${stemChs}`,
      );
    if (!(positive(blockSize) && Number.isInteger(haloSize) && haloSize >= 0 && positive(numHeads)))
      problems.push(`blockSize and numHeads must be positive and haloSize non-negative`);
    if (!SCORE_NORMS.includes(scoreNorm))
      problems.push(`attention.scoreNorm must be one of ${SCORE_NORMS.join(', ')}`);
    if (stages.length === 0) problems.push('stages must not be empty');
    // stride-s conv (3x3 pad 1 or 1x1 pad 0) and max-pool (3, stride 2, pad 1) output: ceil(size / stride)
    const strided = (value: number, stride: number) => Math.floor((value - 1) / stride) + 1;
    let resolution = this.imgSize.map((value) => {
      let size = strided(value, stemStride);
      if (this.stemType === 'tiered' && !this.stemPool) size = strided(size, 2);
      return this.stemPool ? strided(size, 2) : size;
    });
    stages.forEach((stage, index) => {
      if (!(positive(stage.outChs) && positive(stage.depth) && (stage.stride === 1 || stage.stride === 2))) {
        problems.push(`stage ${index}: outChs and depth must be positive, stride 1 or 2`);
        return;
      }
      const types = stage.blockTypes;
      if (types.length !== stage.depth || !types.every((type) => type === 'bottle' || type === 'self_attn')) {
        problems.push(
          `stage ${index}: blockTypes must list depth (${stage.depth}) entries of 'bottle' or 'self_attn', got ${JSON.stringify(types)}`,
        );
        return;
      }
      const mid = makeDivisible(stage.outChs * bottleRatio);
      if (types.includes('self_attn') && mid % numHeads !== 0)
        problems.push(`stage ${index}: bottleneck width ${mid} is not divisible by numHeads ${numHeads}`);
      types.forEach((type, block) => {
        const stride = block === 0 ? stage.stride : 1;
        if (type === 'bottle') {
          resolution = resolution.map((value) => strided(value, stride));
          return;
        }
        if (!resolution.every((value) => value % blockSize === 0)) {
          problems.push(
            `stage ${index}, block ${block}: feature map ${resolution.join('x')} is not a multiple of blockSize ${blockSize}`,
          );
        }
        // the attention halves the map (strided queries or 2x2 average pool), the shortcut conv takes ceil
        if (stride === 2 && !resolution.every((value) => value % 2 === 0)) {
          problems.push(
            `stage ${index}, block ${block}: feature map ${resolution.join('x')} must be even for a stride-2 halo block`,
          );
        }
        resolution = resolution.map((value) => strided(value, stride));
      });
    });
    if (problems.length > 0) throw new Error(`HaloNet: ${problems.join('; ')}`);

    const random = this.#random;
    this.firstLayerName = this.stemType === 'tiered' ? 'stem.conv1.conv' : 'stem.conv';
    this.stem = this.addModule(
      'stem',
      this.stemType === 'tiered'
        ? new TieredStem({
            inChannels: this.inChans,
            stemChs,
            firstStride: stemStride,
            pool: this.stemPool,
            random,
          })
        : new ConvNormAct({
            inChannels: this.inChans,
            outChannels: stemChs,
            kernelSize: 3,
            stride: stemStride,
            random,
          }),
    );
    this.stages = this.addModule('stages', new ModuleList<ModuleList<HaloBlock | BottleneckBlock>>());
    let inChs = stemChs;
    for (const stage of stages) {
      const blocks = new ModuleList<HaloBlock | BottleneckBlock>();
      stage.blockTypes.forEach((type, index) => {
        const common = {
          inChs,
          outChs: stage.outChs,
          stride: index === 0 ? stage.stride : 1,
          bottleRatio,
          zeroInitLast: config.zeroInitLast ?? false,
          random,
        };
        blocks.append(
          type === 'bottle'
            ? new BottleneckBlock(common)
            : new HaloBlock({ ...common, numHeads, blockSize, haloSize, attention: config.attention }),
        );
        inChs = stage.outChs;
      });
      this.stages.append(blocks);
    }
    this.numFeatures = inChs;
    this.headHiddenSize = inChs;
    this.head = this.addModule('head', new HaloHead(inChs, this.#numClasses, this.dropRate, random));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #stem(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    const x = this.stem.forward(input, options);
    return this.stemPool ? tf.maxPool(x as tf.Tensor4D, 3, 2, 1) : x;
  }

  /** Image [B, H, W, C] -> last stage map [B, h, w, numFeatures]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    return tf.tidy(() => {
      let x = this.#stem(input, options);
      for (const blocks of this.stages) for (const block of blocks) x = block.forward(x, options);
      return x;
    });
  }

  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'h', 'w', this.numFeatures], 'features');
    return this.head.forward(features, options);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** Stage outputs (NHWC), selected by `indices`. */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.stages.length));
    const last = Math.max(...chosen);
    return tf.tidy(() => {
      const outputs: tf.Tensor[] = [];
      let x = this.#stem(input, options);
      for (let stage = 0; stage <= last; stage++) {
        for (const block of this.stages.at(stage)) x = block.forward(x, options);
        if (chosen.has(stage)) outputs.push(x);
      }
      return outputs;
    });
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    this.head.reset(numClasses);
    this.#numClasses = numClasses;
  }
}

/** timm's `ClassifierHead` (average pool, dropout, `fc`). */
export class HaloHead extends Module {
  fc: Linear | Identity;
  readonly #inFeatures: number;
  readonly #dropRate: number;
  readonly #random: Random | undefined;

  constructor(inFeatures: number, numClasses: number, dropRate: number, random?: Random) {
    super();
    this.#inFeatures = inFeatures;
    this.#dropRate = dropRate;
    this.#random = random;
    this.fc = this.addModule('fc', this.#make(numClasses));
  }

  #make(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.#inFeatures, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  reset(numClasses: number): void {
    this.setSubmodule('fc', this.#make(numClasses)).dispose();
  }

  forward(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const pooled = dropout(tf.mean(features, [1, 2]), this.#dropRate, {
        training: options.training,
        random: this.#random,
      });
      return options.preLogits ? pooled : this.fc.forward(pooled);
    });
  }
}

/**
 * Parameter count of a `HaloNet` config from the module shapes, without building the model. Equals
 * `numParameters()` of the built model.
 */
export function halonetParameterCount(config: HaloNetConfig = {}): number {
  const inChans = config.inChans ?? 3;
  const numClasses = config.numClasses ?? 1000;
  const stemChs = config.stemChs ?? 64;
  const numHeads = config.numHeads ?? 8;
  const win = (config.blockSize ?? 8) + 2 * (config.haloSize ?? 3);
  const bottleRatio = config.bottleRatio ?? 0.25;
  // conv k x k (no bias) + BN weight and bias
  const convNorm = (inChs: number, outChs: number, kernel: number) =>
    inChs * outChs * kernel * kernel + 2 * outChs;
  let total = 0;
  if ((config.stemType ?? '3x3') === 'tiered') {
    let previous = inChans;
    for (const channels of tieredStemChannels(stemChs)) {
      total += convNorm(previous, channels, 3);
      previous = channels;
    }
  } else {
    total += convNorm(inChans, stemChs, 3);
  }
  let inChs = stemChs;
  for (const stage of config.stages ?? DEFAULT_STAGES) {
    for (let index = 0; index < stage.depth; index++) {
      const out = stage.outChs;
      const stride = index === 0 ? stage.stride : 1;
      const mid = makeDivisible(out * bottleRatio);
      if (inChs !== out || stride !== 1) total += convNorm(inChs, out, 1);
      total += convNorm(inChs, mid, 1) + convNorm(mid, out, 1);
      if ((stage.blockTypes?.[index] ?? 'self_attn') === 'bottle') {
        total += convNorm(mid, mid, 3);
      } else {
        const dimHeadQk = Math.floor(makeDivisible(mid, 8) / numHeads);
        // q, kv (k and v), height_rel and width_rel, post_attn BN
        total += mid * numHeads * dimHeadQk + mid * (numHeads * dimHeadQk + mid);
        total += 2 * (2 * win - 1) * dimHeadQk + 2 * mid;
      }
      inChs = out;
    }
  }
  return total + (numClasses > 0 ? inChs * numClasses + numClasses : 0);
}

const PAPER = 'Scaling Local Self-Attention for Parameter Efficient Visual Backbones (arXiv:2103.12731)';
const SOURCE =
  'mlzoo configuration; attention and block from timm/layers/halo_attn.py and timm/models/byobnet.py';

/** Presets of `HaloNet` (pure data): timm's `halonet26t` and two mlzoo configurations. */
export const HALONET_PRESETS: Record<string, ModelPreset<HaloNetConfig>> = {
  halonet26t: {
    config: {
      imgSize: 256,
      stemType: 'tiered',
      stemChs: 64,
      stemStride: 2,
      stemPool: true,
      stages: [
        { outChs: 256, depth: 2, stride: 1, blockTypes: ['bottle', 'bottle'] },
        { outChs: 512, depth: 2, stride: 2, blockTypes: ['bottle', 'bottle'] },
        { outChs: 1024, depth: 2, stride: 2, blockTypes: ['bottle', 'self_attn'] },
        { outChs: 2048, depth: 2, stride: 2, blockTypes: ['self_attn', 'self_attn'] },
      ],
      bottleRatio: 0.25,
      numHeads: 8,
      blockSize: 8,
      haloSize: 2,
      zeroInitLast: true,
    },
    numParameters: 12_480_288,
    description:
      "timm's halonet26t at 256x256: tiered 3-conv stem (24, 32, 64) + max-pool, ResNet-26 bottleneck stages 256/512, stage 3 a bottleneck then a halo block, stage 4 two halo blocks (b = 8, h = 2, 8 heads), BatchNorm + ReLU. Same state-dict keys and shapes as timm (79.13% ImageNet top-1 with timm's weights).",
    paper: PAPER,
    source: 'timm/models/byoanet.py (halonet26t, ByobNet), timm/models/byobnet.py, timm/layers/halo_attn.py',
    packageName: '@mlzoo/vit',
  },
  halonet_mlzoo_256: {
    config: {
      imgSize: 256,
      stemChs: 64,
      stemStride: 2,
      stemPool: true,
      stages: DEFAULT_STAGES,
      numHeads: 8,
      blockSize: 8,
      haloSize: 3,
    },
    numParameters: 11_822_536,
    description:
      'mlzoo HaloNet configuration at 256x256: 3x3 stem + max-pool, four stages of halo bottleneck blocks (256-2048 channels, 2 blocks each), b = 8, h = 3, 8 heads. Not timm halonet26t.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  halonet_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      stemChs: 32,
      stemStride: 2,
      stemPool: false,
      stages: [
        { outChs: 128, depth: 2, stride: 1 },
        { outChs: 256, depth: 2, stride: 2 },
      ],
      numHeads: 4,
      blockSize: 7,
      haloSize: 2,
    },
    numParameters: 146_250,
    description:
      'Small HaloNet for 28x28 grayscale images: 3x3 stride-2 stem (14x14), stages 128 and 256 channels (2 blocks each), b = 7, h = 2, 4 heads (stride via average pooling, as timm does for odd blocks).',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/vit',
  },
};

function builder(name: string) {
  return (overrides: HaloNetConfig = {}) => new HaloNet({ ...HALONET_PRESETS[name]!.config, ...overrides });
}

export const halonet26t = builder('halonet26t');
export const halonetMlzoo256 = builder('halonet_mlzoo_256');
export const halonetFashionMnist = builder('halonet_fashion_mnist');

/** Factory used by the registry. */
export function createHaloNet(config: HaloNetConfig): HaloNet {
  return new HaloNet(config);
}

/** Registers the HaloNet presets with core's `createModel`. Nothing registers on import. */
export function registerHaloNetModels(): void {
  for (const [name, preset] of Object.entries(HALONET_PRESETS)) registerModel(name, createHaloNet, preset);
}
