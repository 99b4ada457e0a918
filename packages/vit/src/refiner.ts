// Refiner-ViT: Zhou, Shi, Kang, Yu, Jiang, Li, Jin & Feng, "Refiner: Refining Self-attention for
// Vision Transformers", arXiv:2106.03714 (2021).
// Follows the official zhoudaquan/Refiner_ViT at b11ebb8 (`models/refined_transformer.py`,
// `models/refiner_utils.py`): parameter names, forward and the S/M/L presets are the official ones,
// so its checkpoints load by key.
//
// The refiner treats the heads' attention maps [B, H, N, N] as an H-channel image and refines them with
// "distributed local attention" (DLA): attention expansion (1x1 conv H -> e H, BN, ReLU6), a depthwise
// 3x3 conv (TF-'same' padding; BN, ReLU6), a 1x1 conv back to H heads (BN), plus the input, followed
// by `adapt_bn`. In the official models every second block ("shared") computes no q, k: it refines the
// previous block's map and applies it to its own values; the next fresh block adds that map (times
// the scale) to its own softmax. Every block scales its input by 0.5 before each norm and divides
// both residual branches by 0.5 (`adjust_ratio`); the MLP output is multiplied by a learned per-channel
// `scale_channel` (initialised to 1e-5). A conv stem (7x7 s2, two 3x3, BN + ReLU; widths 32/64/128)
// and a k = s = patch / 2 projection make the tokens.
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
} from '@mlzoo/core';
import {
  BatchNorm,
  type BatchNormForwardOptions,
  Conv2d,
  DropPath,
  dropout,
  GELU,
  Identity,
  LayerNorm,
  Linear,
  normalizeScores,
  SCORE_NORMS,
  type ScoreNormOptions,
} from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

/** Score normalisation and attention dropout of the fresh attention maps (default softmax, no dropout). */
export type RefinerAttentionConfig = ScoreNormOptions & { attnDrop?: number };

export interface RefinerConfig {
  /** Square image size (default 224). */
  imgSize?: number;
  /** Patch size (default 16; even with the conv stem, which halves the image first). */
  patchSize?: number;
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0: `forward` returns the class token). */
  numClasses?: number;
  /** Width (default 384). */
  embedDim?: number;
  /** Heads (default 12). */
  numHeads?: number;
  /** MLP hidden width / width (default 3). */
  mlpRatio?: number;
  /** Bias on qkv (default true, as the official presets). */
  qkvBias?: boolean;
  /**
   * Per block: true refines and reuses the previous block's attention map instead of computing one
   * (the official `depth` list); its length is the depth. Default [false, true] x 8 (Refiner-ViT-S).
   * Block 0 cannot share.
   */
  shareAttention?: readonly boolean[];
  /** Per block: refine a fresh block's own map with DLA + adapt_bn (default all false, as the presets). */
  applyTransform?: readonly boolean[];
  /** Expansion of the DLA in `applyTransform` blocks (official `head_expand`; default 3; S passes 6). */
  headExpand?: number;
  /** Expansion of the DLA in shared blocks (fixed at 3 in the official code). */
  sharedExpand?: number;
  /** Conv stem (`PatchEmbed_cnn`, default true) or a plain k = s = patch conv (`PatchEmbed`). */
  useCnnEmbed?: boolean;
  /** Widths of the three stem convs (default [32, 64, 128], fixed in the official code). */
  stemWidths?: readonly [number, number, number];
  /** Token-labelling auxiliary head: output head(cls) + 0.5 max aux_head(tokens) (official `return_dense`; default false). */
  returnDense?: boolean;
  /** The residual scaling (official `adjust_ratio`, default 0.5). */
  adjustRatio?: number;
  /** Initial value of the MLPs' `scale_channel` (default 1e-5). */
  mlpScaleInit?: number;
  /** LayerNorm eps (default 1e-6, as the presets). */
  normEps?: number;
  /** Dropout after the position embedding, in MLPs and after attention (default 0). */
  dropRate?: number;
  /** Stochastic depth, linear over the blocks up to this rate (default 0). */
  dropPathRate?: number;
  /** Score normalisation of the fresh attention maps (default softmax). */
  attention?: RefinerAttentionConfig;
  random?: Random;
}

interface ResolvedRefinerConfig {
  imgSize: number;
  patchSize: number;
  inChans: number;
  numClasses: number;
  embedDim: number;
  numHeads: number;
  mlpRatio: number;
  qkvBias: boolean;
  shareAttention: boolean[];
  applyTransform: boolean[];
  headExpand: number;
  sharedExpand: number;
  useCnnEmbed: boolean;
  stemWidths: [number, number, number];
  returnDense: boolean;
  adjustRatio: number;
  mlpScaleInit: number;
  normEps: number;
  dropRate: number;
  dropPathRate: number;
  attention: RefinerAttentionConfig;
}

function resolveConfig(config: RefinerConfig): ResolvedRefinerConfig {
  const share = [...(config.shareAttention ?? Array.from({ length: 16 }, (_, index) => index % 2 === 1))];
  const widths = config.stemWidths ?? [32, 64, 128];
  return {
    imgSize: config.imgSize ?? 224,
    patchSize: config.patchSize ?? 16,
    inChans: config.inChans ?? 3,
    numClasses: config.numClasses ?? 1000,
    embedDim: config.embedDim ?? 384,
    numHeads: config.numHeads ?? 12,
    mlpRatio: config.mlpRatio ?? 3,
    qkvBias: config.qkvBias ?? true,
    shareAttention: share,
    applyTransform: [...(config.applyTransform ?? share.map(() => false))],
    headExpand: config.headExpand ?? 3,
    sharedExpand: config.sharedExpand ?? 3,
    useCnnEmbed: config.useCnnEmbed ?? true,
    stemWidths: [widths[0], widths[1], widths[2]],
    returnDense: config.returnDense ?? false,
    adjustRatio: config.adjustRatio ?? 0.5,
    mlpScaleInit: config.mlpScaleInit ?? 1e-5,
    normEps: config.normEps ?? 1e-6,
    dropRate: config.dropRate ?? 0,
    dropPathRate: config.dropPathRate ?? 0,
    attention: config.attention ?? {},
  };
}

function validateConfig(config: ResolvedRefinerConfig): void {
  const positive = (value: number) => Number.isInteger(value) && value > 0;
  const depth = config.shareAttention.length;
  const problems = [
    !positive(config.imgSize) && `imgSize must be a positive integer, got ${config.imgSize}`,
    !positive(config.patchSize) && `patchSize must be a positive integer, got ${config.patchSize}`,
    config.useCnnEmbed &&
      config.patchSize % 2 !== 0 &&
      `patchSize must be even with the conv stem (it halves the image first), got ${config.patchSize}`,
    positive(config.imgSize) &&
      positive(config.patchSize) &&
      config.imgSize % config.patchSize !== 0 &&
      `imgSize (${config.imgSize}) must be a multiple of patchSize (${config.patchSize})`,
    !positive(config.inChans) && `inChans must be a positive integer, got ${config.inChans}`,
    !(Number.isInteger(config.numClasses) && config.numClasses >= 0) &&
      `numClasses must be a non-negative integer, got ${config.numClasses}`,
    !(positive(config.embedDim) && positive(config.numHeads) && config.embedDim % config.numHeads === 0) &&
      `numHeads (${config.numHeads}) must divide embedDim (${config.embedDim})`,
    !(config.mlpRatio > 0) && `mlpRatio must be positive, got ${config.mlpRatio}`,
    depth === 0 && 'shareAttention must list at least one block',
    config.shareAttention[0] === true && 'block 0 cannot share attention (there is no previous map)',
    config.applyTransform.length !== depth &&
      `applyTransform must have one value per block (${depth}), got ${config.applyTransform.length}`,
    !(config.headExpand > 0 && config.sharedExpand > 0) && 'headExpand and sharedExpand must be positive',
    !config.stemWidths.every(positive) &&
      `stemWidths must be positive integers, got [${config.stemWidths.join(', ')}]`,
    !(config.adjustRatio > 0) && `adjustRatio must be positive, got ${config.adjustRatio}`,
    !(config.dropRate >= 0 && config.dropRate < 1) && `dropRate must be in [0, 1), got ${config.dropRate}`,
    !(config.dropPathRate >= 0 && config.dropPathRate < 1) &&
      `dropPathRate must be in [0, 1), got ${config.dropPathRate}`,
    config.attention.scoreNorm != null &&
      !SCORE_NORMS.includes(config.attention.scoreNorm) &&
      `attention.scoreNorm must be one of ${SCORE_NORMS.join(', ')}, got '${config.attention.scoreNorm}'`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`RefinerViT: ${problems.join('; ')}`);
}

/** trunc_normal(std 0.02) weight, zero bias (the official `_init_weights`). */
function initLinear(linear: Linear, random: Random | undefined): void {
  tf.tidy(() => {
    linear.weight.assign(init.truncNormal(linear.weight.shape, { std: 0.02, random }) as tf.Tensor2D);
    linear.bias?.assign(tf.zerosLike(linear.bias));
  });
}

/**
 * Distributed local attention (the official `DLA`, refine_mode 'conv_exapnd') on NHWC maps
 * [B, N, N, heads]: `conv_exp` (1x1, heads -> round(heads * expand); omitted when expand is 1) + `bn1` +
 * ReLU6, `depth_sep_conv` (depthwise 3x3, TF-'same' padding) + `bn2` + ReLU6, `conv_pro` (1x1 back) +
 * `bn3`, plus the input. Convolutions have no bias.
 */
export class DistributedLocalAttention extends Module {
  readonly expandRatio: number;
  readonly convExp: Conv2d | null;
  readonly bn1: BatchNorm | null;
  readonly depthSepConv: Conv2d;
  readonly bn2: BatchNorm;
  readonly convPro: Conv2d;
  readonly bn3: BatchNorm;

  constructor(options: { channels: number; expandRatio: number; kernelSize?: number; random?: Random }) {
    super();
    const { channels, random } = options;
    const hidden = Math.round(channels * options.expandRatio);
    this.expandRatio = options.expandRatio;
    const expands = options.expandRatio !== 1;
    this.convExp = expands
      ? this.addModule(
          'conv_exp',
          new Conv2d({ inChannels: channels, outChannels: hidden, kernelSize: 1, bias: false, random }),
        )
      : null;
    this.bn1 = expands ? this.addModule('bn1', new BatchNorm({ numFeatures: hidden })) : null;
    this.depthSepConv = this.addModule(
      'depth_sep_conv',
      new Conv2d({
        inChannels: hidden,
        outChannels: hidden,
        kernelSize: options.kernelSize ?? 3,
        padding: 'same',
        groups: hidden,
        bias: false,
        random,
      }),
    );
    this.bn2 = this.addModule('bn2', new BatchNorm({ numFeatures: hidden }));
    this.convPro = this.addModule(
      'conv_pro',
      new Conv2d({ inChannels: hidden, outChannels: channels, kernelSize: 1, bias: false, random }),
    );
    this.bn3 = this.addModule('bn3', new BatchNorm({ numFeatures: channels }));
  }

  forward(input: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = input;
      if (this.convExp && this.bn1) x = tf.relu6(this.bn1.forward(pointwise(this.convExp, x), options));
      x = tf.relu6(this.bn2.forward(this.depthSepConv.forward(x), options));
      return tf.add(this.bn3.forward(pointwise(this.convPro, x), options), input);
    });
  }
}

// The DLA's 1x1 convolutions run on N x N attention maps (N = tokens): computed here as one matMul over
// the channel axis from the same `weight` variables (what a 1x1 convolution is); the depthwise one is the
// Conv2d itself.

/** 1x1 convolution without bias as one matMul over the channel axis (same `weight`, HWIO [1, 1, in, out]). */
function pointwise(conv: Conv2d, input: tf.Tensor): tf.Tensor {
  const [batch, height, width] = input.shape as [number, number, number, number];
  const kernel = tf.reshape(conv.weight, [conv.inChannels, conv.outChannels]) as tf.Tensor2D;
  const flat = tf.reshape(input, [batch * height * width, conv.inChannels]) as tf.Tensor2D;
  return tf.reshape(tf.matMul(flat, kernel), [batch, height, width, conv.outChannels]);
}

export interface RefinedAttentionOptions {
  dim: number;
  numHeads: number;
  qkvBias: boolean;
  /** Refine and use the previous block's map (no q, k: `qkv` projects only v). */
  share: boolean;
  /** Refine this block's own map with DLA + adapt_bn. */
  applyTransform: boolean;
  /** DLA expansion (shared blocks: `sharedExpand`; transform blocks: `headExpand`). */
  expandRatio: number;
  attention: RefinerAttentionConfig;
  projDrop: number;
  random?: Random;
}

/** Forward options of the refiner blocks: the previous block's attention map, when there is one. */
export interface RefinerForwardOptions extends BatchNormForwardOptions {
  previousAttention?: tf.Tensor | null;
}

/**
 * The official `Refined_Attention` on tokens [B, N, dim]; returns the output and the map passed to the
 * next block ([B, heads, N, N]). State dict: `qkv` ([3 dim, dim], or [dim, dim] when shared), `DLA.*`
 * and `adapt_bn.*` (shared or transform blocks), `proj`.
 */
export class RefinedAttention extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly scale: number;
  readonly share: boolean;
  readonly applyTransform: boolean;
  readonly attentionConfig: RefinerAttentionConfig;
  readonly projDrop: number;
  readonly dla: DistributedLocalAttention | null;
  readonly adaptBn: BatchNorm | null;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly #random: Random | undefined;

  constructor(options: RefinedAttentionOptions) {
    super();
    const { dim, numHeads, random } = options;
    this.dim = dim;
    this.numHeads = numHeads;
    this.headDim = dim / numHeads;
    this.scale = this.headDim ** -0.5;
    this.share = options.share;
    this.applyTransform = options.applyTransform && !options.share;
    this.attentionConfig = options.attention;
    this.projDrop = options.projDrop;
    this.#random = random;
    const refines = this.share || this.applyTransform;
    this.dla = refines
      ? this.addModule(
          'DLA',
          new DistributedLocalAttention({ channels: numHeads, expandRatio: options.expandRatio, random }),
        )
      : null;
    this.adaptBn = refines ? this.addModule('adapt_bn', new BatchNorm({ numFeatures: numHeads })) : null;
    this.qkv = this.addModule(
      'qkv',
      new Linear({ inFeatures: dim, outFeatures: this.share ? dim : 3 * dim, bias: options.qkvBias, random }),
    );
    this.proj = this.addModule('proj', new Linear({ inFeatures: dim, outFeatures: dim, random }));
  }

  /** DLA + adapt_bn on maps [B, heads, N, N] (run as NHWC images [B, N, N, heads]). */
  #refine(maps: tf.Tensor, options: BatchNormForwardOptions): tf.Tensor {
    const image = tf.transpose(maps, [0, 2, 3, 1]);
    const refined = this.adaptBn!.forward(this.dla!.forward(image, options), options);
    return tf.transpose(refined, [0, 3, 1, 2]);
  }

  forward(
    input: tf.Tensor,
    options: RefinerForwardOptions = {},
  ): { output: tf.Tensor; attention: tf.Tensor } {
    this.checkShape(input, ['B', 'N', this.dim]);
    const [batch, tokens] = input.shape as [number, number, number];
    const { numHeads, headDim, dim } = this;
    const previous = options.previousAttention ?? null;
    if (this.share && !previous) {
      throw new Error(`${this.location}: a shared-attention block needs the previous block's attention map`);
    }
    return tf.tidy(() => {
      let weights: tf.Tensor;
      let values: tf.Tensor;
      let next: tf.Tensor;
      if (this.share) {
        weights = tf.mul(this.#refine(previous!, options), this.scale);
        values = tf.transpose(
          tf.reshape(this.qkv.forward(input), [batch, tokens, numHeads, headDim]),
          [0, 2, 1, 3],
        );
        next = previous!;
      } else {
        // q, k and v split on the rank-3 projection (wasm slices rank-5 tensors element by element)
        const qkv = this.qkv.forward(input);
        const heads = (offset: number) =>
          tf.transpose(
            tf.reshape(tf.slice(qkv, [0, 0, offset], [-1, -1, dim]), [batch, tokens, numHeads, headDim]),
            [0, 2, 1, 3],
          );
        const q = heads(0);
        const k = heads(dim);
        values = heads(2 * dim);
        const root = Math.sqrt(this.scale);
        const scores = tf.matMul(tf.mul(q, root), tf.mul(k, root), false, true);
        weights = normalizeScores(scores, this.attentionConfig);
        if (previous) weights = tf.add(weights, tf.mul(previous, this.scale));
        weights = dropout(weights, this.attentionConfig.attnDrop ?? 0, {
          training: options.training,
          random: this.#random,
        });
        if (this.applyTransform) weights = this.#refine(weights, options);
        next = weights;
      }
      const merged = tf.reshape(tf.transpose(tf.matMul(weights, values), [0, 2, 1, 3]), [batch, tokens, dim]);
      const output = dropout(this.proj.forward(merged), this.projDrop, {
        training: options.training,
        random: this.#random,
      });
      return { output, attention: tf.clone(next) };
    });
  }
}

/** The official Refiner `Mlp`: fc1 -> GELU -> dropout -> fc2 -> times `scale_channel` -> dropout. */
export class RefinerMlp extends Module {
  readonly scaleChannel: tf.Variable;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly act: GELU;
  readonly dropRate: number;
  readonly #random: Random | undefined;

  constructor(options: {
    dim: number;
    hidden: number;
    scaleInit: number;
    dropRate: number;
    random?: Random;
  }) {
    super();
    const { dim, hidden, random } = options;
    this.dropRate = options.dropRate;
    this.#random = random;
    this.scaleChannel = this.addParameter('scale_channel', init.constant([dim], options.scaleInit));
    this.fc1 = this.addModule('fc1', new Linear({ inFeatures: dim, outFeatures: hidden, random }));
    this.fc2 = this.addModule('fc2', new Linear({ inFeatures: hidden, outFeatures: dim, random }));
    this.act = this.addModule('act', new GELU());
  }

  forward(input: tf.Tensor, options: { training?: boolean } = {}): tf.Tensor {
    const drop = (x: tf.Tensor) =>
      dropout(x, this.dropRate, { training: options.training, random: this.#random });
    return tf.tidy(() =>
      drop(tf.mul(this.fc2.forward(drop(this.act.forward(this.fc1.forward(input)))), this.scaleChannel)),
    );
  }
}

/** The official `Block`: keys `norm1`, `attn`, `norm2`, `mlp`, with the adjust-ratio residual scaling. */
export class RefinerBlock extends Module {
  readonly adjustRatio: number;
  readonly norm1: LayerNorm;
  readonly attn: RefinedAttention;
  readonly dropPath: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: RefinerMlp;

  constructor(
    options: RefinedAttentionOptions & {
      mlpRatio: number;
      mlpScaleInit: number;
      adjustRatio: number;
      normEps: number;
      dropRate: number;
      dropPath: number;
    },
  ) {
    super();
    const { dim, random } = options;
    this.adjustRatio = options.adjustRatio;
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.attn = this.addModule('attn', new RefinedAttention(options));
    this.dropPath = this.addModule('drop_path', new DropPath({ probability: options.dropPath, random }));
    this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.mlp = this.addModule(
      'mlp',
      new RefinerMlp({
        dim,
        hidden: Math.floor(dim * options.mlpRatio),
        scaleInit: options.mlpScaleInit,
        dropRate: options.dropRate,
        random,
      }),
    );
    for (const linear of [this.attn.qkv, this.attn.proj, this.mlp.fc1, this.mlp.fc2])
      initLinear(linear, random);
  }

  /** x -> x + attn(norm1(r x)) / r -> x + mlp(norm2(r x)) / r, r = adjustRatio; returns the next map too. */
  forward(
    input: tf.Tensor,
    options: RefinerForwardOptions = {},
  ): { output: tf.Tensor; attention: tf.Tensor } {
    const ratio = this.adjustRatio;
    return tf.tidy(() => {
      const { output: attended, attention } = this.attn.forward(
        this.norm1.forward(tf.mul(input, ratio)),
        options,
      );
      let x = tf.add(input, this.dropPath.forward(tf.div(attended, ratio), options));
      x = tf.add(
        x,
        tf.div(
          this.dropPath.forward(this.mlp.forward(this.norm2.forward(tf.mul(x, ratio)), options), options),
          ratio,
        ),
      );
      return { output: x, attention };
    });
  }
}

/** `PatchEmbed_cnn`: conv1 7x7 s2 + bn1, conv2 3x3 + bn2, conv3 3x3 + bn3 (ReLU each), then `proj` k = s = patch / 2. */
class CnnPatchEmbed extends Module {
  readonly convs: Conv2d[] = [];
  readonly norms: BatchNorm[] = [];
  readonly proj: Conv2d;

  constructor(config: ResolvedRefinerConfig, random: Random | undefined) {
    super();
    const [first, second, third] = config.stemWidths;
    const specs = [
      { inChannels: config.inChans, outChannels: first, kernelSize: 7, stride: 2, padding: 3 },
      { inChannels: first, outChannels: second, kernelSize: 3, stride: 1, padding: 1 },
      { inChannels: second, outChannels: third, kernelSize: 3, stride: 1, padding: 1 },
    ];
    specs.forEach((spec, index) => {
      this.convs.push(this.addModule(`conv${index + 1}`, new Conv2d({ ...spec, bias: false, random })));
      this.norms.push(this.addModule(`bn${index + 1}`, new BatchNorm({ numFeatures: spec.outChannels })));
    });
    const step = config.patchSize / 2;
    this.proj = this.addModule(
      'proj',
      new Conv2d({ inChannels: third, outChannels: config.embedDim, kernelSize: step, stride: step, random }),
    );
  }

  forward(input: tf.Tensor, options: BatchNormForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      let x = input;
      this.convs.forEach((conv, index) => {
        x = tf.relu(this.norms[index]!.forward(conv.forward(x), options));
      });
      return this.proj.forward(x);
    });
  }
}

/** `PatchEmbed`: one k = s = patch conv (`proj`). */
class ConvPatchEmbed extends Module {
  readonly proj: Conv2d;

  constructor(config: ResolvedRefinerConfig, random: Random | undefined) {
    super();
    this.proj = this.addModule(
      'proj',
      new Conv2d({
        inChannels: config.inChans,
        outChannels: config.embedDim,
        kernelSize: config.patchSize,
        stride: config.patchSize,
        random,
      }),
    );
  }

  forward(input: tf.Tensor): tf.Tensor {
    return this.proj.forward(input);
  }
}

/**
 * Refiner-ViT classifier on NHWC images [B, H, W, C] (the official `Refiner_ViT`; inference path:
 * no mix-token, no cosine regulariser).
 *
 * State dict (official keys): `patch_embed.{conv1,bn1,conv2,bn2,conv3,bn3,proj}.*` (or
 * `patch_embed.proj.*`), `cls_token`, `pos_embed` [1, 1 + N, D], `blocks.{i}.{norm1,attn,norm2,mlp}.*`,
 * `norm`, `head`, and `aux_head` with returnDense.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { RefinerViT, REFINER_PRESETS } from '@mlzoo/vit';
 *
 * const model = new RefinerViT(REFINER_PRESETS.refiner_fashion_mnist.config);
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class RefinerViT extends Module implements Classifier {
  readonly config: Readonly<ResolvedRefinerConfig>;
  readonly gridSize: number;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName: string;
  readonly patchEmbed: CnnPatchEmbed | ConvPatchEmbed;
  readonly clsToken: tf.Variable;
  readonly posEmbed: tf.Variable;
  readonly blocks: ModuleList<RefinerBlock>;
  readonly norm: LayerNorm;
  head: Linear | Identity;
  auxHead: Linear | null;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: RefinerConfig = {}) {
    super();
    const resolved = resolveConfig(config);
    validateConfig(resolved);
    this.config = resolved;
    const random = config.random;
    this.#random = random;
    const dim = resolved.embedDim;
    this.numFeatures = dim;
    this.headHiddenSize = dim;
    this.#numClasses = resolved.numClasses;
    this.gridSize = resolved.imgSize / resolved.patchSize;
    this.firstLayerName = resolved.useCnnEmbed ? 'patch_embed.conv1' : 'patch_embed.proj';
    this.patchEmbed = this.addModule(
      'patch_embed',
      resolved.useCnnEmbed ? new CnnPatchEmbed(resolved, random) : new ConvPatchEmbed(resolved, random),
    );
    this.clsToken = this.addParameter('cls_token', init.truncNormal([1, 1, dim], { std: 0.02, random }));
    const tokens = this.gridSize * this.gridSize + 1;
    this.posEmbed = this.addParameter('pos_embed', init.truncNormal([1, tokens, dim], { std: 0.02, random }));
    this.blocks = this.addModule('blocks', new ModuleList<RefinerBlock>());
    const depth = resolved.shareAttention.length;
    resolved.shareAttention.forEach((share, index) => {
      this.blocks.append(
        new RefinerBlock({
          dim,
          numHeads: resolved.numHeads,
          qkvBias: resolved.qkvBias,
          share,
          applyTransform: resolved.applyTransform[index]!,
          expandRatio: share ? resolved.sharedExpand : resolved.headExpand,
          attention: resolved.attention,
          projDrop: resolved.dropRate,
          mlpRatio: resolved.mlpRatio,
          mlpScaleInit: resolved.mlpScaleInit,
          adjustRatio: resolved.adjustRatio,
          normEps: resolved.normEps,
          dropRate: resolved.dropRate,
          dropPath: depth > 1 ? (resolved.dropPathRate * index) / (depth - 1) : 0,
          random,
        }),
      );
    });
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: dim, eps: resolved.normEps }));
    this.head = this.addModule('head', this.#makeHead(resolved.numClasses));
    this.auxHead = null;
    if (resolved.returnDense) {
      const aux = this.addModule('aux_head', this.#makeHead(resolved.numClasses));
      this.auxHead = aux instanceof Linear ? aux : null;
    }
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    if (numClasses === 0) return new Identity();
    const head = new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random });
    initLinear(head, this.#random);
    return head;
  }

  #runBlocks(
    input: tf.Tensor,
    options: BatchNormForwardOptions,
    visit?: (index: number, tokens: tf.Tensor) => void,
  ): tf.Tensor {
    const { imgSize, inChans } = this.config;
    this.checkShape(input, ['B', imgSize, imgSize, inChans]);
    const batch = input.shape[0]!;
    const map = this.patchEmbed.forward(input, options);
    const patches = tf.reshape(map, [batch, this.gridSize * this.gridSize, this.numFeatures]);
    let x = tf.add(tf.concat([tf.tile(this.clsToken, [batch, 1, 1]), patches], 1), this.posEmbed);
    x = dropout(x, this.config.dropRate, { training: options.training, random: this.#random });
    let attention: tf.Tensor | null = null;
    this.blocks.items.forEach((block, index) => {
      const result = block.forward(x, { ...options, previousAttention: attention });
      x = result.output;
      attention = result.attention;
      visit?.(index, x);
    });
    return x;
  }

  /** Tokens after the final norm: [B, 1 + N, D], class token first. */
  forwardFeatures(input: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.norm.forward(this.#runBlocks(input, options)));
  }

  /** head(class token), plus 0.5 * max over tokens of aux_head with returnDense (the official inference output). */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'N', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = tf.squeeze(tf.slice(features, [0, 0, 0], [-1, 1, -1]), [1]);
      if (options.preLogits) return pooled;
      const logits = this.head.forward(pooled);
      if (!this.auxHead) return logits;
      const auxiliary = this.auxHead.forward(tf.slice(features, [0, 1, 0], [-1, -1, -1]));
      return tf.add(logits, tf.mul(tf.max(auxiliary, 1), 0.5));
    });
  }

  forward(input: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** Patch tokens after the selected blocks as NHWC maps [B, H / p, W / p, D] (class token dropped). */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.blocks.length));
    const grid = this.gridSize;
    const outputs: tf.Tensor[] = [];
    tf.tidy(() => {
      this.#runBlocks(input, options, (index, x) => {
        if (!chosen.has(index)) return;
        const patches = tf.slice(x, [0, 1, 0], [-1, -1, -1]);
        outputs.push(tf.keep(tf.reshape(patches, [x.shape[0]!, grid, grid, this.numFeatures])));
      });
    });
    return outputs;
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    this.setSubmodule('head', this.#makeHead(numClasses)).dispose();
    if (this.config.returnDense) {
      const aux = this.#makeHead(numClasses);
      this.setSubmodule('aux_head', aux).dispose();
      this.auxHead = aux instanceof Linear ? aux : null;
    }
    this.#numClasses = numClasses;
  }
}

const PAPER = 'Refiner: Refining Self-attention for Vision Transformers (Zhou et al. 2021, arXiv:2106.03714)';
const SOURCE = 'zhoudaquan/Refiner_ViT models/refined_transformer.py (b11ebb8), scripts/refiner_{s,m,l}.yaml';
const alternating = (blocks: number): boolean[] =>
  Array.from({ length: blocks }, (_, index) => index % 2 === 1);

/**
 * Refiner-ViT presets (pure data): the official S, M and L (as `Refiner_ViT_{S,M,L}` with their
 * training yaml's `return_dense: false`), S with the token-labelling head, and a small one for 28x28
 * grayscale images.
 */
export const REFINER_PRESETS: Record<string, ModelPreset<RefinerConfig>> = {
  refiner_vit_s: {
    config: { embedDim: 384, numHeads: 12, mlpRatio: 3, shareAttention: alternating(16), headExpand: 6 },
    numParameters: 25_023_656,
    description:
      'Refiner-ViT-S: width 384, 16 blocks (8 refining shared maps), 12 heads; 83.6% ImageNet-1k (paper, with token labelling).',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  refiner_vit_s_relabel: {
    config: {
      embedDim: 384,
      numHeads: 12,
      mlpRatio: 3,
      shareAttention: alternating(16),
      headExpand: 6,
      returnDense: true,
    },
    numParameters: 25_408_656,
    description: 'Refiner-ViT-S with the token-labelling auxiliary head (refiner_s_relabel.yaml).',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  refiner_vit_m: {
    config: { embedDim: 420, numHeads: 12, mlpRatio: 3, shareAttention: alternating(32) },
    numParameters: 55_029_932,
    description: 'Refiner-ViT-M: width 420, 32 blocks, 12 heads; 84.6% ImageNet-1k (paper).',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  refiner_vit_l: {
    config: { embedDim: 512, numHeads: 16, mlpRatio: 3, shareAttention: alternating(32) },
    numParameters: 80_637_192,
    description: 'Refiner-ViT-L: width 512, 32 blocks, 16 heads; 84.9% ImageNet-1k at 224 (paper).',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  refiner_fashion_mnist: {
    config: {
      imgSize: 28,
      patchSize: 4,
      inChans: 1,
      numClasses: 10,
      embedDim: 96,
      numHeads: 4,
      mlpRatio: 3,
      shareAttention: alternating(6),
    },
    numParameters: 654_862,
    description:
      'Refiner-ViT for 28x28 grayscale images: conv stem to a 7x7 grid, width 96, 6 blocks (3 refining).',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/vit',
  },
};

function fromPreset(name: string, overrides: RefinerConfig): RefinerViT {
  return new RefinerViT({ ...REFINER_PRESETS[name]!.config, ...overrides });
}

export const refinerVitS = (overrides: RefinerConfig = {}): RefinerViT =>
  fromPreset('refiner_vit_s', overrides);
export const refinerVitM = (overrides: RefinerConfig = {}): RefinerViT =>
  fromPreset('refiner_vit_m', overrides);
export const refinerVitL = (overrides: RefinerConfig = {}): RefinerViT =>
  fromPreset('refiner_vit_l', overrides);
export const refinerFashionMnist = (overrides: RefinerConfig = {}): RefinerViT =>
  fromPreset('refiner_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createRefiner(config: RefinerConfig): RefinerViT {
  return new RefinerViT(config);
}

/** Registers the Refiner-ViT presets with core's `createModel`. Nothing registers on import. */
export function registerRefinerModels(): void {
  for (const [name, preset] of Object.entries(REFINER_PRESETS)) registerModel(name, createRefiner, preset);
}
