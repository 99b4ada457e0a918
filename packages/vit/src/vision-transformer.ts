// Vision Transformer (ViT) and DeiT, with timm's module structure and state-dict keys, so a timm
// checkpoint (safetensors from the `timm/` hub repos, or a converted DeiT .pth) loads by key.
//
// - Dosovitskiy, Beyer, Kolesnikov, Weissenborn, Zhai, Unterthiner, Dehghani, Minderer, Heigold,
//   Gelly, Uszkoreit, Houlsby, "An Image is Worth 16x16 Words: Transformers for Image Recognition at
//   Scale", ICLR 2021, arXiv:2010.11929.
// - Touvron, Cord, Douze, Massa, Sablayrolles, Jégou, "Training data-efficient image transformers &
//   distillation through attention" (DeiT), ICML 2021, arXiv:2012.12877.
// - LayerScale: Touvron et al., "Going deeper with Image Transformers" (CaiT), arXiv:2103.17239.
// Reference implementation: timm `timm/models/vision_transformer.py` (`VisionTransformer`, `Block`,
// `LayerScale`) and `timm/models/deit.py` (`VisionTransformerDistilled`).
//
// Input is NHWC [B, H, W, C]; tokens are in row-major (h, w) order as timm's `flatten(2).transpose(1, 2)`.
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
  type TensorModule,
} from '@mlzoo/core';
import {
  type ActivationName,
  type AttentionConfig,
  type AttentionModule,
  createAttention,
  DropPath,
  dropout,
  Identity,
  LayerNorm,
  Linear,
  Mlp,
  PatchEmbed,
} from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

/** How `forwardHead` pools the tokens: the class token, or the mean / max / their average over patch tokens. */
export type GlobalPool = 'token' | 'avg' | 'max' | 'avgmax';

const GLOBAL_POOLS: readonly GlobalPool[] = ['token', 'avg', 'max', 'avgmax'];

export interface VisionTransformerConfig {
  /** Image size, square or [height, width] (default 224). */
  imgSize?: number | readonly [number, number];
  /** Patch size, square or [height, width] (default 16). */
  patchSize?: number | readonly [number, number];
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0 makes `forward` return the pooled features). */
  numClasses?: number;
  /** Pooling before the head (default 'token'; 'avg', 'max' and 'avgmax' pool the patch tokens). */
  globalPool?: GlobalPool;
  /** Token width D (default 768). */
  embedDim?: number;
  /** Number of blocks (default 12). */
  depth?: number;
  /** Attention heads (default 12; must divide embedDim). */
  numHeads?: number;
  /** MLP hidden width = floor(embedDim * mlpRatio) (default 4). */
  mlpRatio?: number;
  /** Bias on the fused qkv projection (default true, as timm's ViTs). */
  qkvBias?: boolean;
  /** LayerNorm on q and k per head (`attn.q_norm`, `attn.k_norm`, eps = normEps). Default false. */
  qkNorm?: boolean;
  /** Bias on `attn.proj`, `mlp.fc1` and `mlp.fc2` (default true). */
  projBias?: boolean;
  /** LayerScale init value: adds `ls1.gamma` and `ls2.gamma` to every block (default: none). */
  initValues?: number | null;
  /** Prepend a class token `cls_token` (default true). */
  classToken?: boolean;
  /** Register tokens `reg_token` [1, regTokens, D] after the class token (default 0). */
  regTokens?: number;
  /**
   * DeiT distillation token (`dist_token`, at index 1) and head (`head_dist`). The output is
   * (head(x0) + head_dist(x1)) / 2 in inference and training; `forwardDistillation` returns both
   * logits for a distillation loss. Needs the class token and 'token' pooling. Default false.
   */
  distilled?: boolean;
  /** Position embedding covers only the patches: add it, then concatenate the prefix tokens (DeiT-3). Default false. */
  noEmbedClass?: boolean;
  /** LayerNorm `norm_pre` before the blocks (CLIP); the patch projection then has no bias. Default false. */
  preNorm?: boolean;
  /** Final LayerNorm (`norm`, or `fc_norm` after pooling) (default true). */
  finalNorm?: boolean;
  /** Normalise after pooling (`fc_norm`) instead of before (`norm`); default: true for avg/max pools. */
  fcNorm?: boolean | null;
  /** LayerNorm eps (default 1e-6, timm's). */
  normEps?: number;
  /** MLP activation (default 'gelu', exact erf as PyTorch's nn.GELU). */
  activation?: ActivationName;
  /**
   * Attention of every block (type and score normalisation: softmax, sigmoid, softplus, clipped
   * softmax, gating; see @mlzoo/layers `createAttention`). The default is timm's `Attention`.
   */
  attention?: AttentionConfig;
  /** Dropout before the head, in training (default 0; DeiT's distilled heads have none, as timm's). */
  dropRate?: number;
  /** Dropout after adding the position embedding, in training (default 0). */
  posDropRate?: number;
  /** Dropout after `attn.proj` and in the MLP, in training (default 0). */
  projDropRate?: number;
  /** Dropout on the attention weights, in training (default 0). */
  attnDropRate?: number;
  /** Stochastic depth, rising linearly from 0 at the first block to this at the last (default 0). */
  dropPathRate?: number;
  /**
   * How the patches are projected: 'linear' (default: reshape and one matrix product) or 'conv'
   * (strided convolution). Same parameters, keys and results.
   */
  patchEmbedMode?: 'linear' | 'conv';
  random?: Random;
}

/** Preprocessing of a preset's pretrained weights (timm's pretrained cfg). */
export interface PretrainedConfig {
  /** timm weights tag on the Hugging Face hub (`timm/<name>.<tag>`). */
  hubId: string;
  /** Per-channel mean and std applied to images scaled to [0, 1]. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  /** Center-crop fraction (resize to size / cropPct, then crop). */
  cropPct: number;
  interpolation: 'bicubic' | 'bilinear';
}

export const IMAGENET_DEFAULT_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_DEFAULT_STD = [0.229, 0.224, 0.225] as const;
export const IMAGENET_INCEPTION_MEAN = [0.5, 0.5, 0.5] as const;
export const IMAGENET_INCEPTION_STD = [0.5, 0.5, 0.5] as const;

function pair(value: number | readonly [number, number]): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

function positiveInteger(value: number): boolean {
  return Number.isInteger(value) && value > 0;
}

function isRate(value: number): boolean {
  return value >= 0 && value < 1;
}

/** timm's init of a Linear: weight trunc_normal(std 0.02) (bounds +-2, absolute), bias 0. */
function initLinearTimm(linear: Linear, random: Random | undefined): void {
  const weight = init.truncNormal(linear.weight.shape, { std: 0.02, random });
  linear.weight.assign(weight);
  weight.dispose();
  if (linear.bias) {
    const bias = init.zeros(linear.bias.shape);
    linear.bias.assign(bias);
    bias.dispose();
  }
}

/** timm's `LayerScale`: multiplies the last axis by a learned `gamma` [dim] initialised to `initValues`. */
export class LayerScale extends Module implements TensorModule {
  readonly dim: number;
  readonly gamma: tf.Variable;

  constructor(options: { dim: number; initValues: number }) {
    super();
    this.dim = options.dim;
    this.gamma = this.addParameter('gamma', init.constant([options.dim], options.initValues));
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.mul(input, this.gamma);
  }
}

export interface VisionTransformerBlockOptions {
  dim: number;
  numHeads: number;
  /** Default 4. */
  mlpRatio?: number;
  /** Default false (timm's Block; the ViT passes true). */
  qkvBias?: boolean;
  qkNorm?: boolean;
  projBias?: boolean;
  initValues?: number | null;
  projDrop?: number;
  attnDrop?: number;
  dropPath?: number;
  /** LayerNorm eps (default 1e-6). */
  normEps?: number;
  activation?: ActivationName;
  attention?: AttentionConfig;
  random?: Random;
}

/** The standard multi-head member of `AttentionConfig`. */
type MultiHeadConfig = Extract<AttentionConfig, { type?: 'multi-head' }>;

/** An attention module that can also return its weights (MultiHeadAttention). */
interface AttentionWithWeights extends AttentionModule {
  forwardWithWeights(input: tf.Tensor, options?: ForwardOptions): { output: tf.Tensor; weights: tf.Tensor };
}

function exposesWeights(attention: AttentionModule): attention is AttentionWithWeights {
  return typeof (attention as unknown as Partial<AttentionWithWeights>).forwardWithWeights === 'function';
}

/**
 * timm's pre-norm transformer `Block`:
 * `x = x + drop_path1(ls1(attn(norm1(x))))`, then `x = x + drop_path2(ls2(mlp(norm2(x))))`.
 * State dict: `norm1.*`, `attn.qkv.*`, `attn.proj.*` (plus `attn.q_norm.*`, `attn.k_norm.*` with
 * qkNorm), `ls1.gamma` (with initValues), `norm2.*`, `mlp.fc1.*`, `mlp.fc2.*`, `ls2.gamma`.
 */
export class VisionTransformerBlock extends Module implements TensorModule {
  readonly dim: number;
  readonly norm1: LayerNorm;
  readonly attn: AttentionModule;
  readonly ls1: LayerScale | Identity;
  readonly dropPath1: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;
  readonly ls2: LayerScale | Identity;
  readonly dropPath2: DropPath;

  constructor(options: VisionTransformerBlockOptions) {
    super();
    const { dim, numHeads, random } = options;
    const eps = options.normEps ?? 1e-6;
    const projBias = options.projBias ?? true;
    const projDrop = options.projDrop ?? 0;
    this.dim = dim;
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: dim, eps }));
    // the block's own settings apply to the standard attention; other types take their config as is
    const attention = options.attention;
    const standard = attention?.type == null || attention.type === 'multi-head';
    const attentionConfig: AttentionConfig | undefined = standard
      ? ({
          qkNorm: options.qkNorm ?? false,
          qkNormEps: eps,
          projBias,
          attnDrop: options.attnDrop ?? 0,
          projDrop,
          ...(attention as MultiHeadConfig | undefined),
        } satisfies MultiHeadConfig)
      : attention;
    let attn: AttentionModule;
    try {
      attn = createAttention(attentionConfig, { dim, numHeads, qkvBias: options.qkvBias ?? false, random });
    } catch (error) {
      this.dispose();
      throw error;
    }
    this.attn = this.addModule('attn', attn);
    const initValues = options.initValues;
    this.ls1 = this.addModule('ls1', initValues ? new LayerScale({ dim, initValues }) : new Identity());
    this.dropPath1 = this.addModule(
      'drop_path1',
      new DropPath({ probability: options.dropPath ?? 0, random }),
    );
    this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: dim, eps }));
    this.mlp = this.addModule(
      'mlp',
      new Mlp({
        inFeatures: dim,
        hiddenFeatures: Math.floor(dim * (options.mlpRatio ?? 4)),
        activation: options.activation ?? 'gelu',
        bias: projBias,
        dropRate: projDrop,
        random,
      }),
    );
    this.ls2 = this.addModule('ls2', initValues ? new LayerScale({ dim, initValues }) : new Identity());
    this.dropPath2 = this.addModule(
      'drop_path2',
      new DropPath({ probability: options.dropPath ?? 0, random }),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardMlp(this.forwardAttention(input, options), options));
  }

  /** The attention residual: `x + drop_path1(ls1(attn(norm1(x))))`. */
  forwardAttention(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', 'N', this.dim]);
    return tf.tidy(() =>
      tf.add(
        input,
        this.dropPath1.forward(
          this.ls1.forward(this.attn.forward(this.norm1.forward(input), options)),
          options,
        ),
      ),
    );
  }

  /**
   * The attention residual, also returning the attention weights [B, heads, N, N] (for token pruning
   * such as EViT). Needs an attention that exposes them (the default multi-head attention does).
   */
  forwardAttentionWithWeights(
    input: tf.Tensor,
    options: ForwardOptions = {},
  ): { output: tf.Tensor; weights: tf.Tensor } {
    this.checkShape(input, ['B', 'N', this.dim]);
    const attention = this.attn;
    if (!exposesWeights(attention)) {
      throw new Error(
        `${this.location}: attention ${attention.constructor.name} does not return its weights`,
      );
    }
    return tf.tidy(() => {
      const { output, weights } = attention.forwardWithWeights(this.norm1.forward(input), options);
      return {
        output: tf.add(input, this.dropPath1.forward(this.ls1.forward(output), options)),
        weights,
      };
    });
  }

  /** The MLP residual: `x + drop_path2(ls2(mlp(norm2(x))))`. */
  forwardMlp(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', 'N', this.dim]);
    return tf.tidy(() =>
      tf.add(
        input,
        this.dropPath2.forward(
          this.ls2.forward(this.mlp.forward(this.norm2.forward(input), options)),
          options,
        ),
      ),
    );
  }
}

export interface VisionTransformerIntermediatesOptions extends ForwardIntermediatesOptions {
  /** Apply the final `norm` to each intermediate (default false, as timm). */
  norm?: boolean;
  /**
   * 'NHWC' (default): patch tokens as a grid [B, H / p, W / p, D]; 'NLC': patch tokens [B, N, D].
   * Prefix tokens (class, distillation, register) are left out in both.
   */
  outputFormat?: 'NHWC' | 'NLC';
}

/**
 * timm's `VisionTransformer` (and DeiT's `VisionTransformerDistilled` with `distilled: true`) on NHWC
 * images [B, H, W, C]. Implements core's `Classifier`: `forwardFeatures` returns the normalised
 * tokens [B, prefix + N, D], `forwardHead` pools them and applies `head`.
 *
 * State dict (timm's keys): `cls_token` [1, 1, D], `reg_token` [1, R, D], `dist_token` [1, 1, D],
 * `pos_embed` [1, prefix + N, D], `patch_embed.proj.weight` [D, C, p, p], `patch_embed.proj.bias`,
 * `norm_pre.*`, `blocks.{i}.*` (see {@link VisionTransformerBlock}), `norm.*` or `fc_norm.*`,
 * `head.weight` [K, D], `head.bias`, `head_dist.*`.
 *
 * Init as timm's default (`weight_init=''`): every Linear trunc_normal(std .02) with zero bias,
 * `pos_embed` trunc_normal(.02), `cls_token` and `reg_token` normal(1e-6), `dist_token`
 * trunc_normal(.02), the patch projection and LayerNorms at PyTorch's defaults.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { VisionTransformer } from '@mlzoo/vit';
 *
 * const model = new VisionTransformer({ imgSize: 28, inChans: 1, patchSize: 4, numClasses: 10,
 *   embedDim: 128, depth: 6, numHeads: 4, mlpRatio: 2 });
 * model.numParameters(); // 805130
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class VisionTransformer extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly patchSize: [number, number];
  readonly inChans: number;
  readonly embedDim: number;
  readonly depth: number;
  readonly numHeads: number;
  readonly globalPool: GlobalPool;
  readonly distilled: boolean;
  readonly noEmbedClass: boolean;
  /** Class, distillation and register tokens in front of the patch tokens. */
  readonly numPrefixTokens: number;
  readonly numRegTokens: number;
  readonly hasClassToken: boolean;
  readonly dropRate: number;
  readonly posDropRate: number;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'patch_embed.proj';
  readonly patchEmbed: PatchEmbed;
  readonly clsToken: tf.Variable | null;
  readonly regToken: tf.Variable | null;
  readonly posEmbed: tf.Variable;
  readonly distToken: tf.Variable | null;
  readonly normPre: LayerNorm | Identity;
  readonly blocks: ModuleList<VisionTransformerBlock>;
  readonly norm: LayerNorm | Identity;
  readonly fcNorm: LayerNorm | Identity;
  head: Linear | Identity;
  headDist: Linear | Identity | null;
  /** Layout `forwardIntermediates` returns when the options do not say. */
  protected intermediatesFormat: 'NHWC' | 'NLC' = 'NHWC';
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: VisionTransformerConfig = {}) {
    super();
    this.imgSize = pair(config.imgSize ?? 224);
    this.patchSize = pair(config.patchSize ?? 16);
    this.inChans = config.inChans ?? 3;
    this.#numClasses = config.numClasses ?? 1000;
    this.globalPool = config.globalPool ?? 'token';
    this.embedDim = config.embedDim ?? 768;
    this.depth = config.depth ?? 12;
    this.numHeads = config.numHeads ?? 12;
    const mlpRatio = config.mlpRatio ?? 4;
    this.hasClassToken = config.classToken ?? true;
    this.numRegTokens = config.regTokens ?? 0;
    this.distilled = config.distilled ?? false;
    this.noEmbedClass = config.noEmbedClass ?? false;
    const preNorm = config.preNorm ?? false;
    const finalNorm = config.finalNorm ?? true;
    const useFcNorm = config.fcNorm ?? this.globalPool !== 'token';
    const eps = config.normEps ?? 1e-6;
    this.dropRate = config.dropRate ?? 0;
    this.posDropRate = config.posDropRate ?? 0;
    const projDropRate = config.projDropRate ?? 0;
    const attnDropRate = config.attnDropRate ?? 0;
    const dropPathRate = config.dropPathRate ?? 0;
    const patchEmbedMode = config.patchEmbedMode ?? 'linear';
    this.#random = config.random;
    const random = config.random;

    // everything is checked before the first variable exists, so a bad config leaks nothing
    const problems = [
      !this.imgSize.every(positiveInteger) &&
        `imgSize must be positive integers, got ${JSON.stringify(config.imgSize)}`,
      !this.patchSize.every(positiveInteger) &&
        `patchSize must be positive integers, got ${JSON.stringify(config.patchSize)}`,
      this.imgSize.some((size, axis) => size % this.patchSize[axis]! !== 0) &&
        `imgSize [${this.imgSize.join(', ')}] is not divisible by patchSize [${this.patchSize.join(', ')}]`,
      !positiveInteger(this.inChans) && `inChans must be a positive integer, got ${this.inChans}`,
      !(Number.isInteger(this.#numClasses) && this.#numClasses >= 0) &&
        `numClasses must be a non-negative integer, got ${this.#numClasses}`,
      !GLOBAL_POOLS.includes(this.globalPool) &&
        `globalPool must be one of ${GLOBAL_POOLS.join(', ')}, got '${String(this.globalPool)}'`,
      !positiveInteger(this.embedDim) && `embedDim must be a positive integer, got ${this.embedDim}`,
      !(Number.isInteger(this.depth) && this.depth >= 0) &&
        `depth must be a non-negative integer, got ${this.depth}`,
      !(positiveInteger(this.numHeads) && this.embedDim % this.numHeads === 0) &&
        `numHeads (${this.numHeads}) must be a positive integer dividing embedDim (${this.embedDim})`,
      !(mlpRatio > 0 && Math.floor(this.embedDim * mlpRatio) > 0) &&
        `mlpRatio must be positive, got ${mlpRatio}`,
      !(Number.isInteger(this.numRegTokens) && this.numRegTokens >= 0) &&
        `regTokens must be a non-negative integer, got ${this.numRegTokens}`,
      config.initValues != null &&
        !(config.initValues > 0) &&
        `initValues must be positive when set, got ${config.initValues}`,
      !this.hasClassToken && this.globalPool === 'token' && `globalPool 'token' needs the class token`,
      this.distilled && !this.hasClassToken && 'distilled needs the class token',
      this.distilled &&
        this.globalPool !== 'token' &&
        `distilled needs globalPool 'token', got '${this.globalPool}'`,
      this.distilled && this.numRegTokens > 0 && 'distilled does not support register tokens',
      this.distilled &&
        config.fcNorm === true &&
        'distilled heads read the normalised tokens: fcNorm must be off',
      !(eps > 0) && `normEps must be positive, got ${eps}`,
      ...(
        [
          ['dropRate', this.dropRate],
          ['posDropRate', this.posDropRate],
          ['projDropRate', projDropRate],
          ['attnDropRate', attnDropRate],
          ['dropPathRate', dropPathRate],
        ] as const
      ).map(([name, value]) => !isRate(value) && `${name} must be in [0, 1), got ${value}`),
      patchEmbedMode !== 'linear' &&
        patchEmbedMode !== 'conv' &&
        `patchEmbedMode must be 'linear' or 'conv', got '${String(patchEmbedMode)}'`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`VisionTransformer: ${problems.join('; ')}`);

    this.numPrefixTokens = (this.hasClassToken ? 1 : 0) + (this.distilled ? 1 : 0) + this.numRegTokens;
    this.numFeatures = this.embedDim;
    this.headHiddenSize = this.embedDim;
    const dim = this.embedDim;

    this.patchEmbed = this.addModule(
      'patch_embed',
      new PatchEmbed({
        imgSize: this.imgSize,
        patchSize: this.patchSize,
        inChans: this.inChans,
        embedDim: dim,
        bias: !preNorm,
        mode: patchEmbedMode,
        random,
      }),
    );
    const numPatches = this.patchEmbed.numPatches!;
    this.clsToken = this.hasClassToken
      ? this.addParameter('cls_token', init.normal([1, 1, dim], { std: 1e-6, random }))
      : null;
    this.regToken =
      this.numRegTokens > 0
        ? this.addParameter('reg_token', init.normal([1, this.numRegTokens, dim], { std: 1e-6, random }))
        : null;
    const embedLength = this.noEmbedClass ? numPatches : numPatches + this.numPrefixTokens;
    this.posEmbed = this.addParameter(
      'pos_embed',
      init.truncNormal([1, embedLength, dim], { std: 0.02, random }),
    );
    this.distToken = this.distilled
      ? this.addParameter('dist_token', init.truncNormal([1, 1, dim], { std: 0.02, random }))
      : null;
    this.normPre = this.addModule(
      'norm_pre',
      preNorm ? new LayerNorm({ normalizedShape: dim, eps }) : new Identity(),
    );
    this.blocks = this.addModule('blocks', new ModuleList<VisionTransformerBlock>());
    try {
      this.#addBlocks(config, mlpRatio, eps, projDropRate, attnDropRate, dropPathRate);
    } catch (error) {
      // an attention config the factory rejects: free what exists so far
      this.dispose();
      throw error;
    }
    this.norm = this.addModule(
      'norm',
      finalNorm && !useFcNorm ? new LayerNorm({ normalizedShape: dim, eps }) : new Identity(),
    );
    this.fcNorm = this.addModule(
      'fc_norm',
      finalNorm && useFcNorm ? new LayerNorm({ normalizedShape: dim, eps }) : new Identity(),
    );
    this.head = this.addModule('head', this.#makeHead(this.#numClasses));
    this.headDist = this.distilled ? this.addModule('head_dist', this.#makeHead(this.#numClasses)) : null;
    for (const module of this.namedModules().values()) {
      if (module instanceof Linear) initLinearTimm(module, random);
    }
  }

  #addBlocks(
    config: VisionTransformerConfig,
    mlpRatio: number,
    eps: number,
    projDropRate: number,
    attnDropRate: number,
    dropPathRate: number,
  ): void {
    const dim = this.embedDim;
    const random = config.random;
    for (let index = 0; index < this.depth; index++) {
      this.blocks.append(
        new VisionTransformerBlock({
          dim,
          numHeads: this.numHeads,
          mlpRatio,
          qkvBias: config.qkvBias ?? true,
          qkNorm: config.qkNorm ?? false,
          projBias: config.projBias ?? true,
          initValues: config.initValues ?? null,
          projDrop: projDropRate,
          attnDrop: attnDropRate,
          // timm's calculate_drop_path_rates: linspace(0, dropPathRate, depth)
          dropPath: this.depth > 1 ? (dropPathRate * index) / (this.depth - 1) : 0,
          normEps: eps,
          activation: config.activation,
          attention: config.attention,
          random,
        }),
      );
    }
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  /** Patch grid [H / p, W / p]. */
  get gridSize(): [number, number] {
    return [this.imgSize[0] / this.patchSize[0], this.imgSize[1] / this.patchSize[1]];
  }

  #makeHead(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.embedDim, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  /** Patch embedding, prefix tokens and position embedding: [B, H, W, C] -> [B, prefix + N, D]. */
  forwardEmbeddings(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    const batch = input.shape[0]!;
    return tf.tidy(() => {
      let x = this.patchEmbed.forward(input);
      const prefix = [this.clsToken, this.distToken, this.regToken]
        .filter((token): token is tf.Variable => token != null)
        .map((token) => tf.broadcastTo(token, [batch, token.shape[1]!, this.embedDim]));
      if (this.noEmbedClass) {
        x = tf.add(x, this.posEmbed);
        if (prefix.length > 0) x = tf.concat([...prefix, x], 1);
      } else {
        if (prefix.length > 0) x = tf.concat([...prefix, x], 1);
        x = tf.add(x, this.posEmbed);
      }
      x = dropout(x, this.posDropRate, { training: options.training, random: this.#random });
      return this.normPre.forward(x);
    });
  }

  /**
   * Block `index` on tokens [B, T, D]; subclasses that change the token set (EViT) override it.
   * `options` carry the token grid (`gridSize`, `numPrefixTokens`) for attentions that need it.
   */
  protected forwardBlock(index: number, tokens: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return this.blocks.at(index).forward(tokens, options);
  }

  /** Forward options for the blocks: the caller's, plus where the patch grid lies in the tokens. */
  #blockOptions(options: ForwardOptions): ForwardOptions {
    const grid: ForwardOptions & { gridSize: [number, number]; numPrefixTokens: number } = {
      ...options,
      gridSize: this.gridSize,
      numPrefixTokens: this.numPrefixTokens,
    };
    return grid;
  }

  /** Normalised tokens [B, prefix + N, D] (prefix = class, distillation and register tokens). */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = this.forwardEmbeddings(input, options);
      const blockOptions = this.#blockOptions(options);
      for (let index = 0; index < this.depth; index++) x = this.forwardBlock(index, x, blockOptions);
      return this.norm.forward(x);
    });
  }

  /** Pools tokens [B, T, D] to [B, D] as `globalPool` says (timm's `global_pool_nlc`). */
  pool(tokens: tf.Tensor): tf.Tensor {
    const [batch, count] = tokens.shape as [number, number, number];
    const dim = this.embedDim;
    return tf.tidy(() => {
      if (this.globalPool === 'token')
        return tf.reshape(tf.slice(tokens, [0, 0, 0], [batch, 1, dim]), [batch, dim]);
      const patches = tf.slice(
        tokens,
        [0, this.numPrefixTokens, 0],
        [batch, count - this.numPrefixTokens, dim],
      );
      if (this.globalPool === 'avg') return tf.mean(patches, 1);
      if (this.globalPool === 'max') return tf.max(patches, 1);
      return tf.mul(tf.add(tf.max(patches, 1), tf.mean(patches, 1)), 0.5);
    });
  }

  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'T', this.embedDim], 'features');
    if (features.shape[1]! <= this.numPrefixTokens && this.globalPool !== 'token') {
      throw new Error(
        `${this.location}: features hold no patch tokens to pool (shape [${features.shape.join(', ')}])`,
      );
    }
    return tf.tidy(() => {
      if (this.distilled) {
        const [token, distillation] = this.#distillationTokens(features);
        if (options.preLogits) return tf.div(tf.add(token, distillation), 2);
        return tf.div(tf.add(this.head.forward(token), this.headDist!.forward(distillation)), 2);
      }
      let x = this.fcNorm.forward(this.pool(features));
      x = dropout(x, this.dropRate, { training: options.training, random: this.#random });
      return options.preLogits ? x : this.head.forward(x);
    });
  }

  #distillationTokens(features: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const batch = features.shape[0]!;
    const dim = this.embedDim;
    return [0, 1].map((index) =>
      tf.reshape(tf.slice(features, [0, index, 0], [batch, 1, dim]), [batch, dim]),
    ) as [tf.Tensor, tf.Tensor];
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /**
   * DeiT distillation: the class-token logits `head(x0)` and the distillation-token logits
   * `head_dist(x1)` separately, for a loss that matches x0 to the labels and x1 to a teacher
   * (timm's `distilled_training` forward). `forward` returns their average.
   */
  forwardDistillation(input: tf.Tensor, options: ForwardOptions = {}): [tf.Tensor, tf.Tensor] {
    if (!this.distilled) throw new Error(`${this.location}: forwardDistillation needs a distilled model`);
    return tf.tidy(() => {
      const [token, distillation] = this.#distillationTokens(this.forwardFeatures(input, options));
      return [this.head.forward(token), this.headDist!.forward(distillation)];
    }) as [tf.Tensor, tf.Tensor];
  }

  /**
   * Outputs of the selected blocks (timm's `forward_intermediates`, intermediates only): patch tokens
   * as an NHWC grid [B, H / p, W / p, D] (or [B, N, D] with `outputFormat: 'NLC'`), prefix tokens
   * removed, optionally through the final `norm`. Blocks after the last selected one are not run.
   */
  forwardIntermediates(input: tf.Tensor, options: VisionTransformerIntermediatesOptions = {}): tf.Tensor[] {
    const chosen = resolveIntermediateIndices(options.indices, this.depth);
    const format = options.outputFormat ?? this.intermediatesFormat;
    if (format !== 'NHWC' && format !== 'NLC') {
      throw new Error(`${this.location}: outputFormat must be 'NHWC' or 'NLC', got '${String(format)}'`);
    }
    const last = Math.max(-1, ...chosen);
    return tf.tidy(() => {
      const taken = new Map<number, tf.Tensor>();
      let x = this.forwardEmbeddings(input, options);
      const blockOptions = this.#blockOptions(options);
      for (let index = 0; index <= last; index++) {
        x = this.forwardBlock(index, x, blockOptions);
        if (chosen.includes(index)) taken.set(index, options.norm ? this.norm.forward(x) : x);
      }
      return chosen.map((index) => {
        const tokens = taken.get(index)!;
        const [batch, count] = tokens.shape as [number, number, number];
        const patches = tf.slice(
          tokens,
          [0, this.numPrefixTokens, 0],
          [batch, count - this.numPrefixTokens, this.embedDim],
        );
        if (format === 'NLC') return patches;
        const [gridHeight, gridWidth] = this.gridSize;
        if (count - this.numPrefixTokens !== gridHeight * gridWidth) {
          throw new Error(
            `${this.location}: block ${index} holds ${count - this.numPrefixTokens} patch tokens, not a ${gridHeight}x${gridWidth} grid; use outputFormat 'NLC'`,
          );
        }
        return tf.reshape(patches, [batch, gridHeight, gridWidth, this.embedDim]);
      });
    });
  }

  /** Replaces `head` (and `head_dist`) by new Linear layers with PyTorch's default init (timm's reset_classifier). */
  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    this.setSubmodule('head', this.#makeHead(numClasses)).dispose();
    if (this.distilled) this.setSubmodule('head_dist', this.#makeHead(numClasses)).dispose();
    this.#numClasses = numClasses;
  }
}

// ---- presets -------------------------------------------------------------------------------------

const VIT_PAPER = 'An Image is Worth 16x16 Words (Dosovitskiy et al., 2020), arXiv:2010.11929';
const DEIT_PAPER = 'Training data-efficient image transformers (Touvron et al., 2020), arXiv:2012.12877';
const TIMM_SOURCE = 'timm/models/vision_transformer.py';
const DEIT_SOURCE = 'timm/models/deit.py';
const PACKAGE = '@mlzoo/vit';

function preset(
  config: VisionTransformerConfig,
  numParameters: number,
  description: string,
  paper: string,
  source: string,
): ModelPreset<VisionTransformerConfig> {
  return { config, numParameters, description, paper, source, packageName: PACKAGE };
}

const B16 = { imgSize: 224, patchSize: 16, inChans: 3, numClasses: 1000 } as const;
const TINY = { ...B16, embedDim: 192, depth: 12, numHeads: 3 } as const;
const SMALL = { ...B16, embedDim: 384, depth: 12, numHeads: 6 } as const;
const BASE = { ...B16, embedDim: 768, depth: 12, numHeads: 12 } as const;

/** The configuration of `vit_fashion_mnist`: 28x28x1, patch 4, dim 128, depth 6, 4 heads, MLP ratio 2. */
export const VIT_FASHION_MNIST_CONFIG: VisionTransformerConfig = {
  imgSize: 28,
  patchSize: 4,
  inChans: 1,
  numClasses: 10,
  embedDim: 128,
  depth: 6,
  numHeads: 4,
  mlpRatio: 2,
};

/** Presets of `VisionTransformer` (pure data; counts exact, with the 1000-class head). */
export const VISION_TRANSFORMER_PRESETS: Record<string, ModelPreset<VisionTransformerConfig>> = {
  vit_tiny_patch16_224: preset(TINY, 5_717_416, 'ViT-Ti/16, 224x224', VIT_PAPER, TIMM_SOURCE),
  vit_small_patch16_224: preset(SMALL, 22_050_664, 'ViT-S/16, 224x224', VIT_PAPER, TIMM_SOURCE),
  vit_base_patch16_224: preset(BASE, 86_567_656, 'ViT-B/16, 224x224', VIT_PAPER, TIMM_SOURCE),
  deit_tiny_patch16_224: preset(TINY, 5_717_416, 'DeiT-Ti, 224x224', DEIT_PAPER, DEIT_SOURCE),
  deit_small_patch16_224: preset(SMALL, 22_050_664, 'DeiT-S, 224x224', DEIT_PAPER, DEIT_SOURCE),
  deit_base_patch16_224: preset(BASE, 86_567_656, 'DeiT-B, 224x224', DEIT_PAPER, DEIT_SOURCE),
  deit_tiny_distilled_patch16_224: preset(
    { ...TINY, distilled: true },
    5_910_800,
    'DeiT-Ti with distillation token and head, 224x224',
    DEIT_PAPER,
    DEIT_SOURCE,
  ),
  deit_small_distilled_patch16_224: preset(
    { ...SMALL, distilled: true },
    22_436_432,
    'DeiT-S with distillation token and head, 224x224',
    DEIT_PAPER,
    DEIT_SOURCE,
  ),
  deit_base_distilled_patch16_224: preset(
    { ...BASE, distilled: true },
    87_338_192,
    'DeiT-B with distillation token and head, 224x224',
    DEIT_PAPER,
    DEIT_SOURCE,
  ),
  vit_fashion_mnist: {
    config: VIT_FASHION_MNIST_CONFIG,
    numParameters: 805_130,
    description:
      'ViT for 28x28 grayscale images (Fashion-MNIST): patch 4, dim 128, depth 6, 4 heads, MLP ratio 2.',
    paper: VIT_PAPER,
    source: 'mlzoo',
    packageName: PACKAGE,
  },
};

const VIT_PRETRAINED = {
  mean: IMAGENET_INCEPTION_MEAN,
  std: IMAGENET_INCEPTION_STD,
  cropPct: 0.9,
  interpolation: 'bicubic',
} as const;
const DEIT_PRETRAINED = {
  mean: IMAGENET_DEFAULT_MEAN,
  std: IMAGENET_DEFAULT_STD,
  cropPct: 0.9,
  interpolation: 'bicubic',
} as const;

/** timm's pretrained configs of the official presets: hub weights and input preprocessing. */
export const VISION_TRANSFORMER_PRETRAINED: Record<string, PretrainedConfig> = {
  vit_tiny_patch16_224: { hubId: 'timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k', ...VIT_PRETRAINED },
  vit_small_patch16_224: { hubId: 'timm/vit_small_patch16_224.augreg_in21k_ft_in1k', ...VIT_PRETRAINED },
  vit_base_patch16_224: { hubId: 'timm/vit_base_patch16_224.augreg2_in21k_ft_in1k', ...VIT_PRETRAINED },
  deit_tiny_patch16_224: { hubId: 'timm/deit_tiny_patch16_224.fb_in1k', ...DEIT_PRETRAINED },
  deit_small_patch16_224: { hubId: 'timm/deit_small_patch16_224.fb_in1k', ...DEIT_PRETRAINED },
  deit_base_patch16_224: { hubId: 'timm/deit_base_patch16_224.fb_in1k', ...DEIT_PRETRAINED },
  deit_tiny_distilled_patch16_224: {
    hubId: 'timm/deit_tiny_distilled_patch16_224.fb_in1k',
    ...DEIT_PRETRAINED,
  },
  deit_small_distilled_patch16_224: {
    hubId: 'timm/deit_small_distilled_patch16_224.fb_in1k',
    ...DEIT_PRETRAINED,
  },
  deit_base_distilled_patch16_224: {
    hubId: 'timm/deit_base_distilled_patch16_224.fb_in1k',
    ...DEIT_PRETRAINED,
  },
};

/** Preset config with `overrides` applied (undefined values ignored, as createModel does). */
export function presetConfig<Config extends object>(
  presets: Record<string, ModelPreset<Config>>,
  name: string,
  overrides: Partial<Config> = {},
): Config {
  const entry = presets[name];
  if (!entry) throw new Error(`unknown preset '${name}'`);
  const config = { ...entry.config } as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) config[key] = value;
  return config as Config;
}

function build(name: string, overrides?: Partial<VisionTransformerConfig>): VisionTransformer {
  return new VisionTransformer(presetConfig(VISION_TRANSFORMER_PRESETS, name, overrides));
}

/** ViT-Ti/16 (`vit_tiny_patch16_224`), 5,717,416 parameters. */
export const vitTinyPatch16_224 = (overrides?: Partial<VisionTransformerConfig>) =>
  build('vit_tiny_patch16_224', overrides);
/** ViT-S/16 (`vit_small_patch16_224`), 22,050,664 parameters. */
export const vitSmallPatch16_224 = (overrides?: Partial<VisionTransformerConfig>) =>
  build('vit_small_patch16_224', overrides);
/** ViT-B/16 (`vit_base_patch16_224`), 86,567,656 parameters. */
export const vitBasePatch16_224 = (overrides?: Partial<VisionTransformerConfig>) =>
  build('vit_base_patch16_224', overrides);
/** DeiT-Ti (`deit_tiny_patch16_224`), 5,717,416 parameters. */
export const deitTinyPatch16_224 = (overrides?: Partial<VisionTransformerConfig>) =>
  build('deit_tiny_patch16_224', overrides);
/** DeiT-S (`deit_small_patch16_224`), 22,050,664 parameters. */
export const deitSmallPatch16_224 = (overrides?: Partial<VisionTransformerConfig>) =>
  build('deit_small_patch16_224', overrides);
/** DeiT-B (`deit_base_patch16_224`), 86,567,656 parameters. */
export const deitBasePatch16_224 = (overrides?: Partial<VisionTransformerConfig>) =>
  build('deit_base_patch16_224', overrides);
/** DeiT-Ti distilled (`deit_tiny_distilled_patch16_224`), 5,910,800 parameters. */
export const deitTinyDistilledPatch16_224 = (overrides?: Partial<VisionTransformerConfig>) =>
  build('deit_tiny_distilled_patch16_224', overrides);
/** DeiT-S distilled (`deit_small_distilled_patch16_224`), 22,436,432 parameters. */
export const deitSmallDistilledPatch16_224 = (overrides?: Partial<VisionTransformerConfig>) =>
  build('deit_small_distilled_patch16_224', overrides);
/** DeiT-B distilled (`deit_base_distilled_patch16_224`), 87,338,192 parameters. */
export const deitBaseDistilledPatch16_224 = (overrides?: Partial<VisionTransformerConfig>) =>
  build('deit_base_distilled_patch16_224', overrides);
/** `vit_fashion_mnist`: 805,130 parameters. */
export const vitFashionMnist = (overrides?: Partial<VisionTransformerConfig>) =>
  build('vit_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createVisionTransformer(config: VisionTransformerConfig): VisionTransformer {
  return new VisionTransformer(config);
}

/** Registers every ViT and DeiT preset with core's `createModel`. Nothing registers on import. */
export function registerVisionTransformerModels(): void {
  for (const [name, entry] of Object.entries(VISION_TRANSFORMER_PRESETS)) {
    registerModel(name, createVisionTransformer, entry);
  }
}
