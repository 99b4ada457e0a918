// CvT: Wu, Xiao, Codella, Liu, Dai, Yuan & Zhang, "CvT: Introducing Convolutions to Vision
// Transformers", ICCV 2021, arXiv:2103.15808.
// Follows the official microsoft/CvT `lib/models/cls_cvt.py` (parameter names, forward, the CvT-13/21
// specs of its yaml configs), so its checkpoints load by key.
//
// Three stages, each a convolutional token embedding (Conv k/s/p + LayerNorm) followed by transformer
// blocks whose attention projects q, k and v with a depthwise 3x3 convolution + BatchNorm on the token
// map ('dw_bn'; k and v with stride 2) before the usual linear projections. There is no position
// embedding; a class token exists only in the last stage and is never convolved. The official
// attention scales scores by dim^-0.5 (the full width, not the head width) and the MLPs use QuickGELU
// (x * sigmoid(1.702 x)); both are kept so official weights give official outputs.
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
  activationFunction,
  BatchNorm,
  type BatchNormForwardOptions,
  Conv2d,
  DropPath,
  dropout,
  Identity,
  LayerNorm,
  Linear,
  normalizeScores,
  SCORE_NORMS,
  type ScoreNormOptions,
} from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

/** MLP activation: the official QuickGELU, or the exact (erf) GELU. */
export type CvtActivation = 'quick_gelu' | 'gelu';

/** How q, k and v are projected from the token map before the linear projections. */
export type CvtProjection = 'dw_bn' | 'linear';

/** Score normalisation and attention dropout of CvT's attention (default softmax, no dropout). */
export type CvtAttentionConfig = ScoreNormOptions & { attnDrop?: number };

/** Per-stage values: one per stage, or a single value for every stage. */
type PerStage<T> = T | readonly T[];

export interface CvtConfig {
  /** Nominal square input size (default 224); the model accepts any size its convolutions can take. */
  imgSize?: number;
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0: `forward` returns the pooled features). */
  numClasses?: number;
  /** Width of each stage (default [64, 192, 384]); its length is the number of stages. */
  embedDim?: readonly number[];
  /** Blocks per stage (default [1, 2, 10], CvT-13). */
  depth?: readonly number[];
  /** Heads per stage (default [1, 3, 6]). */
  numHeads?: readonly number[];
  /** Token-embedding kernel per stage (default [7, 3, 3]). */
  patchSize?: PerStage<number>;
  /** Token-embedding stride per stage (default [4, 2, 2]). */
  patchStride?: PerStage<number>;
  /** Token-embedding zero padding (both sides, PyTorch's) per stage (default [2, 1, 1]). */
  patchPadding?: PerStage<number>;
  /** MLP hidden width / width (default 4). */
  mlpRatio?: PerStage<number>;
  /** Bias on proj_q, proj_k, proj_v (default true). */
  qkvBias?: PerStage<boolean>;
  /** Class token per stage (default: only in the last stage). */
  clsToken?: readonly boolean[];
  /** q/k/v projection (default 'dw_bn'). */
  qkvProjMethod?: PerStage<CvtProjection>;
  /** Depthwise kernel of the q/k/v projections (default 3). */
  kernelQkv?: PerStage<number>;
  /** Stride of the q projection (default 1). */
  strideQ?: PerStage<number>;
  /** Stride of the k and v projections (default 2). */
  strideKv?: PerStage<number>;
  /** Padding of the q projection (default 1). */
  paddingQ?: PerStage<number>;
  /** Padding of the k and v projections (default 1). */
  paddingKv?: PerStage<number>;
  /** MLP activation (default 'quick_gelu', as the official models). */
  activation?: CvtActivation;
  /** LayerNorm eps (default 1e-5, the official code's). */
  normEps?: number;
  /** BatchNorm eps (default 1e-5). */
  batchNormEps?: number;
  /** Dropout after the embedding, in the MLPs and after attention (default 0). */
  dropRate?: number;
  /** Stochastic depth per stage, linear over that stage's blocks up to this rate (default [0, 0, 0.1]). */
  dropPathRate?: PerStage<number>;
  /** Score normalisation of the attention (default softmax). */
  attention?: CvtAttentionConfig;
  random?: Random;
}

interface StageConfig {
  embedDim: number;
  depth: number;
  numHeads: number;
  patchSize: number;
  patchStride: number;
  patchPadding: number;
  mlpRatio: number;
  qkvBias: boolean;
  clsToken: boolean;
  qkvProjMethod: CvtProjection;
  kernelQkv: number;
  strideQ: number;
  strideKv: number;
  paddingQ: number;
  paddingKv: number;
  dropPathRate: number;
}

interface ResolvedCvtConfig {
  imgSize: number;
  inChans: number;
  numClasses: number;
  stages: StageConfig[];
  activation: CvtActivation;
  normEps: number;
  batchNormEps: number;
  dropRate: number;
  attention: CvtAttentionConfig;
}

function perStage<T>(
  value: PerStage<T> | undefined,
  fallback: readonly T[],
  count: number,
  name: string,
): T[] {
  if (value === undefined) {
    if (fallback.length === count) return [...fallback];
    if (fallback.length > 0) return Array.from({ length: count }, () => fallback[fallback.length - 1]!);
  }
  if (Array.isArray(value)) {
    if (value.length !== count) {
      throw new Error(`CvT: ${name} must have one value per stage (${count}), got ${value.length}`);
    }
    return [...value] as T[];
  }
  return Array.from({ length: count }, () => value as T);
}

function resolveConfig(config: CvtConfig): ResolvedCvtConfig {
  const embedDim = [...(config.embedDim ?? [64, 192, 384])];
  const count = embedDim.length;
  const defaults = <T>(threeStage: readonly T[]): readonly T[] =>
    count === 3 ? threeStage : [threeStage[threeStage.length - 1]!];
  const depth = perStage(config.depth, defaults([1, 2, 10]), count, 'depth');
  const numHeads = perStage(config.numHeads, defaults([1, 3, 6]), count, 'numHeads');
  const patchSize = perStage(config.patchSize, defaults([7, 3, 3]), count, 'patchSize');
  const patchStride = perStage(config.patchStride, defaults([4, 2, 2]), count, 'patchStride');
  const patchPadding = perStage(config.patchPadding, defaults([2, 1, 1]), count, 'patchPadding');
  const mlpRatio = perStage(config.mlpRatio, [4], count, 'mlpRatio');
  const qkvBias = perStage(config.qkvBias, [true], count, 'qkvBias');
  const clsToken = perStage(
    config.clsToken,
    embedDim.map((_, index) => index === count - 1),
    count,
    'clsToken',
  );
  const qkvProjMethod = perStage<CvtProjection>(config.qkvProjMethod, ['dw_bn'], count, 'qkvProjMethod');
  const kernelQkv = perStage(config.kernelQkv, [3], count, 'kernelQkv');
  const strideQ = perStage(config.strideQ, [1], count, 'strideQ');
  const strideKv = perStage(config.strideKv, [2], count, 'strideKv');
  const paddingQ = perStage(config.paddingQ, [1], count, 'paddingQ');
  const paddingKv = perStage(config.paddingKv, [1], count, 'paddingKv');
  const dropPathRate = perStage(
    config.dropPathRate,
    embedDim.map((_, index) => (index === count - 1 && count === 3 ? 0.1 : 0)),
    count,
    'dropPathRate',
  );
  return {
    imgSize: config.imgSize ?? 224,
    inChans: config.inChans ?? 3,
    numClasses: config.numClasses ?? 1000,
    stages: embedDim.map((dim, index) => ({
      embedDim: dim,
      depth: depth[index]!,
      numHeads: numHeads[index]!,
      patchSize: patchSize[index]!,
      patchStride: patchStride[index]!,
      patchPadding: patchPadding[index]!,
      mlpRatio: mlpRatio[index]!,
      qkvBias: qkvBias[index]!,
      clsToken: clsToken[index]!,
      qkvProjMethod: qkvProjMethod[index]!,
      kernelQkv: kernelQkv[index]!,
      strideQ: strideQ[index]!,
      strideKv: strideKv[index]!,
      paddingQ: paddingQ[index]!,
      paddingKv: paddingKv[index]!,
      dropPathRate: dropPathRate[index]!,
    })),
    activation: config.activation ?? 'quick_gelu',
    normEps: config.normEps ?? 1e-5,
    batchNormEps: config.batchNormEps ?? 1e-5,
    dropRate: config.dropRate ?? 0,
    attention: config.attention ?? {},
  };
}

/** Output size of a convolution along one axis (PyTorch's floor formula). */
function convOutput(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

function validateConfig(config: ResolvedCvtConfig): void {
  const positive = (value: number) => Number.isInteger(value) && value > 0;
  const nonNegative = (value: number) => Number.isInteger(value) && value >= 0;
  const problems: (string | false)[] = [
    !positive(config.imgSize) && `imgSize must be a positive integer, got ${config.imgSize}`,
    !positive(config.inChans) && `inChans must be a positive integer, got ${config.inChans}`,
    !nonNegative(config.numClasses) && `numClasses must be a non-negative integer, got ${config.numClasses}`,
    config.stages.length === 0 && 'embedDim must list at least one stage',
    !(config.activation === 'quick_gelu' || config.activation === 'gelu') &&
      `activation must be 'quick_gelu' or 'gelu', got '${config.activation}'`,
    !(config.dropRate >= 0 && config.dropRate < 1) && `dropRate must be in [0, 1), got ${config.dropRate}`,
    config.attention.scoreNorm != null &&
      !SCORE_NORMS.includes(config.attention.scoreNorm) &&
      `attention.scoreNorm must be one of ${SCORE_NORMS.join(', ')}, got '${config.attention.scoreNorm}'`,
  ];
  let size = config.imgSize;
  config.stages.forEach((stage, index) => {
    const where = `stage ${index}`;
    problems.push(
      !positive(stage.embedDim) && `${where}: embedDim must be a positive integer, got ${stage.embedDim}`,
      !positive(stage.depth) && `${where}: depth must be a positive integer, got ${stage.depth}`,
      !(positive(stage.numHeads) && stage.embedDim % stage.numHeads === 0) &&
        `${where}: numHeads (${stage.numHeads}) must divide embedDim (${stage.embedDim})`,
      !(stage.mlpRatio > 0) && `${where}: mlpRatio must be positive, got ${stage.mlpRatio}`,
      !(stage.qkvProjMethod === 'dw_bn' || stage.qkvProjMethod === 'linear') &&
        `${where}: qkvProjMethod must be 'dw_bn' or 'linear', got '${stage.qkvProjMethod}'`,
      !(stage.dropPathRate >= 0 && stage.dropPathRate < 1) &&
        `${where}: dropPathRate must be in [0, 1), got ${stage.dropPathRate}`,
      ![stage.patchSize, stage.patchStride, stage.kernelQkv, stage.strideQ, stage.strideKv].every(positive) &&
        `${where}: kernel sizes and strides must be positive integers`,
      ![stage.patchPadding, stage.paddingQ, stage.paddingKv].every(nonNegative) &&
        `${where}: paddings must be non-negative integers`,
    );
    size = convOutput(size, stage.patchSize, stage.patchStride, stage.patchPadding);
    if (!(size > 0)) {
      problems.push(
        `${where}: a ${config.imgSize}x${config.imgSize} image leaves no tokens after the embedding`,
      );
    } else if (
      stage.qkvProjMethod === 'dw_bn' &&
      !(
        convOutput(size, stage.kernelQkv, stage.strideKv, stage.paddingKv) > 0 &&
        convOutput(size, stage.kernelQkv, stage.strideQ, stage.paddingQ) > 0
      )
    ) {
      problems.push(`${where}: the ${size}x${size} token map is too small for the q/k/v convolutions`);
    }
  });
  const found = problems.filter(Boolean);
  if (found.length > 0) throw new Error(`CvT: ${found.join('; ')}`);
}

/** trunc_normal(std 0.02) weight, zero bias (the official `_init_weights_trunc_normal`). */
function initLinear(linear: Linear, random: Random | undefined): void {
  tf.tidy(() => {
    linear.weight.assign(init.truncNormal(linear.weight.shape, { std: 0.02, random }) as tf.Tensor2D);
    linear.bias?.assign(tf.zerosLike(linear.bias));
  });
}

/** QuickGELU, x * sigmoid(1.702 x) (the official CvT activation). */
export function quickGelu(input: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(input, tf.sigmoid(tf.mul(input, 1.702))));
}

/** The official CvT `Mlp`: fc1 -> activation -> dropout -> fc2 -> dropout. Keys `fc1`, `fc2`. */
export class CvtMlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly activation: CvtActivation;
  readonly dropRate: number;
  readonly #random: Random | undefined;

  constructor(options: {
    dim: number;
    hidden: number;
    activation: CvtActivation;
    dropRate?: number;
    random?: Random;
  }) {
    super();
    const { dim, hidden, random } = options;
    this.activation = options.activation;
    this.dropRate = options.dropRate ?? 0;
    this.#random = random;
    this.fc1 = this.addModule('fc1', new Linear({ inFeatures: dim, outFeatures: hidden, random }));
    this.fc2 = this.addModule('fc2', new Linear({ inFeatures: hidden, outFeatures: dim, random }));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    const drop = (x: tf.Tensor) =>
      dropout(x, this.dropRate, { training: options.training, random: this.#random });
    return tf.tidy(() => {
      const hidden = this.fc1.forward(input);
      const activated =
        this.activation === 'quick_gelu' ? quickGelu(hidden) : activationFunction('gelu')(hidden);
      return drop(this.fc2.forward(drop(activated)));
    });
  }
}

/** Depthwise conv (no bias) + BatchNorm on a token map: the 'dw_bn' projection (`conv`, `bn`). */
export class CvtConvProjection extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm;

  constructor(options: {
    dim: number;
    kernelSize: number;
    stride: number;
    padding: number;
    batchNormEps: number;
    random?: Random;
  }) {
    super();
    const { dim } = options;
    this.conv = this.addModule(
      'conv',
      new Conv2d({
        inChannels: dim,
        outChannels: dim,
        kernelSize: options.kernelSize,
        stride: options.stride,
        padding: options.padding,
        groups: dim,
        bias: false,
        random: options.random,
      }),
    );
    this.bn = this.addModule('bn', new BatchNorm({ numFeatures: dim, eps: options.batchNormEps }));
  }

  /** [B, H, W, C] -> tokens [B, H' W', C]. */
  forward(input: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const map = this.bn.forward(this.conv.forward(input), options);
      const [batch, height, width, channels] = map.shape as [number, number, number, number];
      return tf.reshape(map, [batch, height * width, channels]);
    });
  }
}

export interface CvtAttentionOptions {
  dim: number;
  numHeads: number;
  qkvBias: boolean;
  withClsToken: boolean;
  method: CvtProjection;
  kernelSize: number;
  strideQ: number;
  strideKv: number;
  paddingQ: number;
  paddingKv: number;
  batchNormEps: number;
  attention: CvtAttentionConfig;
  projDrop: number;
  random?: Random;
}

/** Forward options of CvT's attention and blocks: the token map's size is needed to reshape tokens. */
export interface CvtForwardOptions extends BatchNormForwardOptions {
  height: number;
  width: number;
}

/**
 * The official CvT `Attention` with convolutional projections. State dict: `conv_proj_{q,k,v}.conv.weight`
 * [C, 1, k, k], `conv_proj_{q,k,v}.bn.*` ('dw_bn' only), `proj_{q,k,v}.{weight,bias}`, `proj.*`.
 * Scores are scaled by dim^-0.5 (the full width), as the official code.
 */
export class CvtAttention extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly scale: number;
  readonly withClsToken: boolean;
  readonly attentionConfig: CvtAttentionConfig;
  readonly projDrop: number;
  readonly convProjQ: CvtConvProjection | null;
  readonly convProjK: CvtConvProjection | null;
  readonly convProjV: CvtConvProjection | null;
  readonly projQ: Linear;
  readonly projK: Linear;
  readonly projV: Linear;
  readonly proj: Linear;
  readonly #random: Random | undefined;

  constructor(options: CvtAttentionOptions) {
    super();
    const { dim, numHeads, random } = options;
    this.dim = dim;
    this.numHeads = numHeads;
    this.scale = dim ** -0.5;
    this.withClsToken = options.withClsToken;
    this.attentionConfig = options.attention;
    this.projDrop = options.projDrop;
    this.#random = random;
    const projection = (name: string, stride: number, padding: number) =>
      options.method === 'dw_bn'
        ? this.addModule(
            name,
            new CvtConvProjection({
              dim,
              kernelSize: options.kernelSize,
              stride,
              padding,
              batchNormEps: options.batchNormEps,
              random,
            }),
          )
        : null;
    this.convProjQ = projection('conv_proj_q', options.strideQ, options.paddingQ);
    this.convProjK = projection('conv_proj_k', options.strideKv, options.paddingKv);
    this.convProjV = projection('conv_proj_v', options.strideKv, options.paddingKv);
    const linear = (name: string, bias: boolean) =>
      this.addModule(name, new Linear({ inFeatures: dim, outFeatures: dim, bias, random }));
    this.projQ = linear('proj_q', options.qkvBias);
    this.projK = linear('proj_k', options.qkvBias);
    this.projV = linear('proj_v', options.qkvBias);
    this.proj = linear('proj', true);
    for (const module of [this.projQ, this.projK, this.projV, this.proj]) initLinear(module, random);
  }

  forward(input: tf.Tensor, options: CvtForwardOptions): tf.Tensor {
    const { height, width } = options;
    const prefix = this.withClsToken ? 1 : 0;
    this.checkShape(input, ['B', prefix + height * width, this.dim]);
    const batch = input.shape[0]!;
    const { numHeads, dim } = this;
    const headDim = dim / numHeads;
    return tf.tidy(() => {
      const cls = prefix > 0 ? tf.slice(input, [0, 0, 0], [-1, 1, -1]) : null;
      const tokens = prefix > 0 ? tf.slice(input, [0, 1, 0], [-1, -1, -1]) : input;
      const map = tf.reshape(tokens, [batch, height, width, dim]);
      const project = (convolution: CvtConvProjection | null, linear: Linear) => {
        let projected = convolution ? convolution.forward(map, options) : tokens;
        if (cls) projected = tf.concat([cls, projected], 1);
        const length = projected.shape[1]!;
        return tf.transpose(
          tf.reshape(linear.forward(projected), [batch, length, numHeads, headDim]),
          [0, 2, 1, 3],
        );
      };
      const q = project(this.convProjQ, this.projQ);
      const k = project(this.convProjK, this.projK);
      const v = project(this.convProjV, this.projV);
      const config = this.attentionConfig;
      let weights = normalizeScores(tf.mul(tf.matMul(q, k, false, true), this.scale), config);
      weights = dropout(weights, config.attnDrop ?? 0, { training: options.training, random: this.#random });
      const queries = q.shape[2]!;
      const merged = tf.reshape(tf.transpose(tf.matMul(weights, v), [0, 2, 1, 3]), [batch, queries, dim]);
      return dropout(this.proj.forward(merged), this.projDrop, {
        training: options.training,
        random: this.#random,
      });
    });
  }
}

/** The official CvT `Block`: pre-norm conv-projection attention and MLP. Keys `norm1`, `attn`, `norm2`, `mlp`. */
export class CvtBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn: CvtAttention;
  readonly dropPath: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: CvtMlp;

  constructor(
    options: CvtAttentionOptions & {
      mlpRatio: number;
      activation: CvtActivation;
      normEps: number;
      dropRate: number;
      dropPath: number;
    },
  ) {
    super();
    const { dim, random } = options;
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.attn = this.addModule('attn', new CvtAttention(options));
    this.dropPath = this.addModule('drop_path', new DropPath({ probability: options.dropPath, random }));
    this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.mlp = this.addModule(
      'mlp',
      new CvtMlp({
        dim,
        hidden: Math.floor(dim * options.mlpRatio),
        activation: options.activation,
        dropRate: options.dropRate,
        random,
      }),
    );
    initLinear(this.mlp.fc1, random);
    initLinear(this.mlp.fc2, random);
  }

  forward(input: tf.Tensor, options: CvtForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      const x = tf.add(
        input,
        this.dropPath.forward(this.attn.forward(this.norm1.forward(input), options), options),
      );
      return tf.add(x, this.dropPath.forward(this.mlp.forward(this.norm2.forward(x), options), options));
    });
  }
}

/** The official `ConvEmbed`: Conv2d (k, s, p) then LayerNorm over channels. Keys `proj`, `norm`. */
export class CvtConvEmbed extends Module {
  readonly proj: Conv2d;
  readonly norm: LayerNorm;

  constructor(options: {
    inChans: number;
    embedDim: number;
    patchSize: number;
    stride: number;
    padding: number;
    normEps: number;
    random?: Random;
  }) {
    super();
    this.proj = this.addModule(
      'proj',
      new Conv2d({
        inChannels: options.inChans,
        outChannels: options.embedDim,
        kernelSize: options.patchSize,
        stride: options.stride,
        padding: options.padding,
        random: options.random,
      }),
    );
    this.norm = this.addModule(
      'norm',
      new LayerNorm({ normalizedShape: options.embedDim, eps: options.normEps }),
    );
  }

  /** [B, H, W, C] -> normalised map [B, H', W', D]. */
  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.norm.forward(this.proj.forward(input)));
  }
}

/** One CvT stage (the official `VisionTransformer`): `patch_embed`, `cls_token` (optional), `blocks`. */
export class CvtStage extends Module {
  readonly embedDim: number;
  readonly patchEmbed: CvtConvEmbed;
  readonly clsToken: tf.Variable | null;
  readonly blocks: ModuleList<CvtBlock>;
  readonly dropRate: number;
  readonly #random: Random | undefined;

  constructor(stage: StageConfig, inChans: number, config: ResolvedCvtConfig, random: Random | undefined) {
    super();
    this.embedDim = stage.embedDim;
    this.dropRate = config.dropRate;
    this.#random = random;
    this.patchEmbed = this.addModule(
      'patch_embed',
      new CvtConvEmbed({
        inChans,
        embedDim: stage.embedDim,
        patchSize: stage.patchSize,
        stride: stage.patchStride,
        padding: stage.patchPadding,
        normEps: config.normEps,
        random,
      }),
    );
    this.clsToken = stage.clsToken
      ? this.addParameter('cls_token', init.truncNormal([1, 1, stage.embedDim], { std: 0.02, random }))
      : null;
    this.blocks = this.addModule('blocks', new ModuleList<CvtBlock>());
    for (let index = 0; index < stage.depth; index++) {
      this.blocks.append(
        new CvtBlock({
          dim: stage.embedDim,
          numHeads: stage.numHeads,
          qkvBias: stage.qkvBias,
          withClsToken: stage.clsToken,
          method: stage.qkvProjMethod,
          kernelSize: stage.kernelQkv,
          strideQ: stage.strideQ,
          strideKv: stage.strideKv,
          paddingQ: stage.paddingQ,
          paddingKv: stage.paddingKv,
          batchNormEps: config.batchNormEps,
          attention: config.attention,
          projDrop: config.dropRate,
          mlpRatio: stage.mlpRatio,
          activation: config.activation,
          normEps: config.normEps,
          dropRate: config.dropRate,
          dropPath: stage.depth > 1 ? (stage.dropPathRate * index) / (stage.depth - 1) : 0,
          random,
        }),
      );
    }
  }

  /** Image or map [B, H, W, C] -> tokens [B, (1 +) H' W', D] (class token first) and the map size. */
  forward(
    input: tf.Tensor,
    options: BatchNormForwardOptions = {},
  ): { tokens: tf.Tensor; height: number; width: number } {
    let height = 0;
    let width = 0;
    const tokens = tf.tidy(() => {
      const map = this.patchEmbed.forward(input);
      const [batch, mapHeight, mapWidth] = map.shape as [number, number, number, number];
      height = mapHeight;
      width = mapWidth;
      let x = tf.reshape(map, [batch, height * width, this.embedDim]);
      if (this.clsToken) x = tf.concat([tf.tile(this.clsToken, [batch, 1, 1]), x], 1);
      x = dropout(x, this.dropRate, { training: options.training, random: this.#random });
      for (const block of this.blocks) x = block.forward(x, { ...options, height, width });
      return x;
    });
    return { tokens, height, width };
  }
}

/**
 * CvT classifier on NHWC images [B, H, W, C] (the official `ConvolutionalVisionTransformer`).
 *
 * State dict (official keys): `stage{i}.patch_embed.{proj,norm}.*`, `stage{i}.cls_token` (stages with a
 * class token), `stage{i}.blocks.{j}.{norm1,attn,norm2,mlp}.*`, `norm`, `head`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { CvT } from '@mlzoo/vit';
 *
 * const model = new CvT({ imgSize: 28, inChans: 1, numClasses: 10, embedDim: [32, 64, 128], depth: [1, 1, 2], numHeads: [1, 2, 4], patchSize: 3, patchStride: 2, patchPadding: 1 });
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class CvT extends Module implements Classifier {
  readonly config: Readonly<ResolvedCvtConfig>;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'stage0.patch_embed.proj';
  readonly stages: CvtStage[] = [];
  readonly norm: LayerNorm;
  head: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: CvtConfig = {}) {
    super();
    const resolved = resolveConfig(config);
    validateConfig(resolved);
    this.config = resolved;
    const random = config.random;
    this.#random = random;
    let inChans = resolved.inChans;
    resolved.stages.forEach((stage, index) => {
      this.stages.push(this.addModule(`stage${index}`, new CvtStage(stage, inChans, resolved, random)));
      inChans = stage.embedDim;
    });
    const dim = resolved.stages[resolved.stages.length - 1]!.embedDim;
    this.numFeatures = dim;
    this.headHiddenSize = dim;
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: dim, eps: resolved.normEps }));
    this.#numClasses = resolved.numClasses;
    this.head = this.addModule('head', this.#makeHead(resolved.numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  /** Whether the last stage has a class token (pooled by it; otherwise by the token mean). */
  get hasClassToken(): boolean {
    return this.stages[this.stages.length - 1]!.clsToken != null;
  }

  #makeHead(numClasses: number): Linear | Identity {
    if (numClasses === 0) return new Identity();
    const head = new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random });
    tf.tidy(() =>
      head.weight.assign(init.truncNormal(head.weight.shape, { std: 0.02, random: this.#random })),
    );
    return head;
  }

  /** Runs the stages; `visit` sees each stage's output tokens. Returns the last stage's tokens. */
  #runStages(
    input: tf.Tensor,
    options: BatchNormForwardOptions,
    visit?: (index: number, tokens: tf.Tensor, height: number, width: number) => void,
  ): tf.Tensor {
    this.checkShape(input, ['B', 'H', 'W', this.config.inChans]);
    let x = input;
    this.stages.forEach((stage, index) => {
      const { tokens, height, width } = stage.forward(x, options);
      visit?.(index, tokens, height, width);
      if (index === this.stages.length - 1) {
        x = tokens;
        return;
      }
      const patches = stage.clsToken ? tf.slice(tokens, [0, 1, 0], [-1, -1, -1]) : tokens;
      x = tf.reshape(patches, [tokens.shape[0]!, height, width, stage.embedDim]);
    });
    return x;
  }

  /** The last stage's tokens after the final LayerNorm: [B, (1 +) N, D], class token first. */
  forwardFeatures(input: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.norm.forward(this.#runStages(input, options)));
  }

  /** Class token (or token mean without one) -> head. */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'N', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = this.hasClassToken
        ? tf.squeeze(tf.slice(features, [0, 0, 0], [-1, 1, -1]), [1])
        : tf.mean(features, 1);
      return options.preLogits ? pooled : this.head.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** Each selected stage's output as an NHWC map [B, H_i, W_i, D_i] (class token dropped). */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.stages.length));
    const outputs: tf.Tensor[] = [];
    tf.tidy(() => {
      this.#runStages(input, options, (index, tokens, height, width) => {
        if (!chosen.has(index)) return;
        const stage = this.stages[index]!;
        const patches = stage.clsToken ? tf.slice(tokens, [0, 1, 0], [-1, -1, -1]) : tokens;
        outputs.push(tf.keep(tf.reshape(patches, [tokens.shape[0]!, height, width, stage.embedDim])));
      });
    });
    return outputs;
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

const PAPER = 'CvT: Introducing Convolutions to Vision Transformers (Wu et al. 2021, arXiv:2103.15808)';
const SOURCE = 'microsoft/CvT lib/models/cls_cvt.py, experiments/imagenet/cvt/cvt-{13,21}-224x224.yaml';

/** CvT presets (pure data): CvT-13 and CvT-21 at 224x224, and a small one for 28x28 grayscale images. */
export const CVT_PRESETS: Record<string, ModelPreset<CvtConfig>> = {
  cvt_13: {
    config: { embedDim: [64, 192, 384], depth: [1, 2, 10], numHeads: [1, 3, 6] },
    numParameters: 19_997_480,
    description: 'CvT-13: widths 64/192/384, depths 1/2/10, heads 1/3/6; ImageNet-1k 81.6% (paper).',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  cvt_21: {
    config: { embedDim: [64, 192, 384], depth: [1, 4, 16], numHeads: [1, 3, 6] },
    numParameters: 31_622_696,
    description: 'CvT-21: widths 64/192/384, depths 1/4/16, heads 1/3/6; ImageNet-1k 82.5% (paper).',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  cvt_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      embedDim: [32, 64, 128],
      depth: [1, 1, 2],
      numHeads: [1, 2, 4],
      patchSize: 3,
      patchStride: 2,
      patchPadding: 1,
    },
    numParameters: 565_642,
    description: 'CvT for 28x28 grayscale images: 3x3 stride-2 embeddings (14, 7, 4), widths 32/64/128.',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/vit',
  },
};

function fromPreset(name: string, overrides: CvtConfig): CvT {
  return new CvT({ ...CVT_PRESETS[name]!.config, ...overrides });
}

export const cvt13 = (overrides: CvtConfig = {}): CvT => fromPreset('cvt_13', overrides);
export const cvt21 = (overrides: CvtConfig = {}): CvT => fromPreset('cvt_21', overrides);
export const cvtFashionMnist = (overrides: CvtConfig = {}): CvT => fromPreset('cvt_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createCvt(config: CvtConfig): CvT {
  return new CvT(config);
}

/** Registers the CvT presets with core's `createModel`. Nothing registers on import. */
export function registerCvtModels(): void {
  for (const [name, preset] of Object.entries(CVT_PRESETS)) registerModel(name, createCvt, preset);
}
