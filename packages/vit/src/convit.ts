// ConViT: d'Ascoli, Touvron, Leavitt, Morcos, Biroli & Sagun, "ConViT: Improving Vision Transformers
// with Soft Convolutional Inductive Biases", ICML 2021, arXiv:2103.10697.
// Follows timm's `timm/models/convit.py` (from facebookresearch/convit): parameter names, the local
// initialisation of the gated positional self-attention (GPSA) and the presets are timm's, so timm's
// `convit_*` checkpoints load by key.
//
// The first `localUpToLayer` blocks use GPSA: per head h,
//   A_h = (1 - sigmoid(lambda_h)) softmax(q k^T / sqrt(d)) + sigmoid(lambda_h) softmax(pos_proj(r)),
// rows renormalised to sum to 1, where r_ij = (dx, dy, dx^2 + dy^2) is the offset of key patch j from
// query patch i. The class token joins the sequence only after the GPSA blocks; the remaining blocks
// are standard multi-head self-attention (timm's MHSA: `qkv`, `proj`).
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
  type AttentionConfig,
  type AttentionModule,
  createAttention,
  DropPath,
  dropout,
  Identity,
  LayerNorm,
  Linear,
  Mlp,
  normalizeScores,
  PatchEmbed,
  SCORE_NORMS,
  type ScoreNormOptions,
} from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface ConvitConfig {
  /** Square image size (default 224). */
  imgSize?: number;
  /** Patch size (default 16); imgSize must be a multiple. */
  patchSize?: number;
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0: `forward` returns the pooled features). */
  numClasses?: number;
  /**
   * Width **per head**, as timm's `embed_dim` for ConViT: the model width is embedDim * numHeads
   * (default 48, as every official preset).
   */
  embedDim?: number;
  /** Blocks (default 12). */
  depth?: number;
  /** Attention heads (default 12). */
  numHeads?: number;
  /** MLP hidden width / model width (default 4). */
  mlpRatio?: number;
  /** Bias on `qk`, `v` (GPSA) and `qkv` (MHSA) (default false). */
  qkvBias?: boolean;
  /** Blocks 0 .. localUpToLayer - 1 use GPSA; the class token joins before block localUpToLayer (default 3; presets 10). */
  localUpToLayer?: number;
  /** Scale of the local initialisation of `pos_proj` (alpha, default 1). */
  localityStrength?: number;
  /** Learned position embedding on the patch tokens (default true). */
  usePosEmbed?: boolean;
  /** LayerNorm eps (default 1e-6, as timm's presets). */
  normEps?: number;
  /** Dropout after the position embedding, in the MLPs and after attention projections (default 0). */
  dropRate?: number;
  /** Stochastic depth, linearly increasing over the blocks up to this rate (default 0). */
  dropPathRate?: number;
  /**
   * Attention of the standard (post-GPSA) blocks, built by `createAttention` (type and score
   * normalisation). The GPSA blocks normalise their content scores q k^T with the multi-head type's
   * score-normalisation options (softmax for other types); their positional scores keep a softmax.
   * Default: softmax multi-head attention (timm's MHSA, same keys).
   */
  attention?: AttentionConfig;
  random?: Random;
}

interface ResolvedConvitConfig {
  imgSize: number;
  patchSize: number;
  inChans: number;
  numClasses: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  qkvBias: boolean;
  localUpToLayer: number;
  localityStrength: number;
  usePosEmbed: boolean;
  normEps: number;
  dropRate: number;
  dropPathRate: number;
  attention: AttentionConfig;
}

function resolveConfig(config: ConvitConfig): ResolvedConvitConfig {
  return {
    imgSize: config.imgSize ?? 224,
    patchSize: config.patchSize ?? 16,
    inChans: config.inChans ?? 3,
    numClasses: config.numClasses ?? 1000,
    embedDim: config.embedDim ?? 48,
    depth: config.depth ?? 12,
    numHeads: config.numHeads ?? 12,
    mlpRatio: config.mlpRatio ?? 4,
    qkvBias: config.qkvBias ?? false,
    localUpToLayer: config.localUpToLayer ?? 3,
    localityStrength: config.localityStrength ?? 1,
    usePosEmbed: config.usePosEmbed ?? true,
    normEps: config.normEps ?? 1e-6,
    dropRate: config.dropRate ?? 0,
    dropPathRate: config.dropPathRate ?? 0,
    attention: config.attention ?? {},
  };
}

function validateConfig(config: ResolvedConvitConfig): void {
  const scoreNorm = scoreNormFields(config.attention).scoreNorm;
  const positive = (value: number) => Number.isInteger(value) && value > 0;
  const rate = (value: number) => value >= 0 && value < 1;
  const problems = [
    !positive(config.imgSize) && `imgSize must be a positive integer, got ${config.imgSize}`,
    !positive(config.patchSize) && `patchSize must be a positive integer, got ${config.patchSize}`,
    positive(config.imgSize) &&
      positive(config.patchSize) &&
      config.imgSize % config.patchSize !== 0 &&
      `imgSize (${config.imgSize}) must be a multiple of patchSize (${config.patchSize})`,
    !positive(config.inChans) && `inChans must be a positive integer, got ${config.inChans}`,
    !(Number.isInteger(config.numClasses) && config.numClasses >= 0) &&
      `numClasses must be a non-negative integer, got ${config.numClasses}`,
    !positive(config.embedDim) && `embedDim (per head) must be a positive integer, got ${config.embedDim}`,
    !positive(config.depth) && `depth must be a positive integer, got ${config.depth}`,
    !positive(config.numHeads) && `numHeads must be a positive integer, got ${config.numHeads}`,
    !(config.mlpRatio > 0) && `mlpRatio must be positive, got ${config.mlpRatio}`,
    !(
      Number.isInteger(config.localUpToLayer) &&
      config.localUpToLayer >= 0 &&
      config.localUpToLayer < config.depth
    ) &&
      `localUpToLayer must be an integer in [0, depth - 1] = [0, ${config.depth - 1}] (the class token joins before that block), got ${config.localUpToLayer}`,
    !rate(config.dropRate) && `dropRate must be in [0, 1), got ${config.dropRate}`,
    !rate(config.dropPathRate) && `dropPathRate must be in [0, 1), got ${config.dropPathRate}`,
    scoreNorm != null &&
      !SCORE_NORMS.includes(scoreNorm) &&
      `attention.scoreNorm must be one of ${SCORE_NORMS.join(', ')}, got '${scoreNorm}'`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`ConViT: ${problems.join('; ')}`);
}

type ScoreNormFields = ScoreNormOptions & { attnDrop?: number };

/**
 * The score normalisation (and attention dropout) an attention config asks of standard attention: its
 * own for the multi-head type, none (softmax) for other types.
 */
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

/** timm's `_init_weights` for a Linear: trunc_normal(std 0.02) weight, zero bias. */
function initLinear(linear: Linear, random: Random | undefined): void {
  tf.tidy(() => {
    linear.weight.assign(init.truncNormal(linear.weight.shape, { std: 0.02, random }) as tf.Tensor2D);
    linear.bias?.assign(tf.zerosLike(linear.bias));
  });
}

/**
 * Relative positions of every key patch from every query patch on a side x side grid, [N * N, 3] with
 * rows (query, key) and columns (dx, dy, dx^2 + dy^2) (timm's `get_rel_indices`).
 */
function relativeIndices(side: number): tf.Tensor2D {
  const count = side * side;
  const values = new Float32Array(count * count * 3);
  for (let query = 0; query < count; query++) {
    for (let key = 0; key < count; key++) {
      const dx = (key % side) - (query % side);
      const dy = Math.floor(key / side) - Math.floor(query / side);
      const offset = (query * count + key) * 3;
      values[offset] = dx;
      values[offset + 1] = dy;
      values[offset + 2] = dx * dx + dy * dy;
    }
  }
  return tf.tensor2d(values, [count * count, 3]);
}

export interface GatedPositionalAttentionOptions {
  dim: number;
  numHeads: number;
  /** Side of the square patch grid (N = gridSize^2 tokens). */
  gridSize: number;
  qkvBias?: boolean;
  /** Scale of the local init of `pos_proj` (default 1). */
  localityStrength?: number;
  /** Normalisation of the content scores (default softmax). */
  scoreNorm?: ScoreNormOptions;
  attnDrop?: number;
  projDrop?: number;
  random?: Random;
}

/**
 * Gated positional self-attention (timm's `GPSA`) on patch tokens [B, N, dim], N = gridSize^2.
 * State dict: `qk.weight` [2 dim, dim], `v.weight` [dim, dim] (+ biases with qkvBias),
 * `proj.{weight,bias}`, `pos_proj.{weight [heads, 3], bias}`, `gating_param` [heads].
 * Initialised as timm (trunc-normal Linear weights, zero biases) followed by `local_init`: `v` is the
 * identity and head (h1, h2) of a sqrt(H) x sqrt(H) kernel attends around offset (h1 - c, h2 - c).
 */
export class GatedPositionalAttention extends Module implements AttentionModule {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly gridSize: number;
  readonly scale: number;
  readonly scoreNorm: ScoreNormOptions;
  readonly attnDrop: number;
  readonly projDrop: number;
  readonly qk: Linear;
  readonly v: Linear;
  readonly proj: Linear;
  readonly posProj: Linear;
  readonly gatingParam: tf.Variable;
  /** [N * N, 3] relative offsets (a non-persistent buffer, as timm recomputes them). */
  readonly relIndices: tf.Variable;
  readonly #random: Random | undefined;

  constructor(options: GatedPositionalAttentionOptions) {
    super();
    const { dim, numHeads, gridSize } = options;
    if (!(Number.isInteger(dim) && Number.isInteger(numHeads) && numHeads > 0 && dim % numHeads === 0)) {
      throw new Error(`GatedPositionalAttention: dim (${dim}) must be divisible by numHeads (${numHeads})`);
    }
    if (!(Number.isInteger(gridSize) && gridSize > 0)) {
      throw new Error(`GatedPositionalAttention: gridSize must be a positive integer, got ${gridSize}`);
    }
    this.dim = dim;
    this.numHeads = numHeads;
    this.headDim = dim / numHeads;
    this.gridSize = gridSize;
    this.scale = this.headDim ** -0.5;
    this.scoreNorm = options.scoreNorm ?? {};
    this.attnDrop = options.attnDrop ?? 0;
    this.projDrop = options.projDrop ?? 0;
    const random = options.random;
    this.#random = random;
    const bias = options.qkvBias ?? false;
    this.qk = this.addModule('qk', new Linear({ inFeatures: dim, outFeatures: 2 * dim, bias, random }));
    this.v = this.addModule('v', new Linear({ inFeatures: dim, outFeatures: dim, bias, random }));
    this.proj = this.addModule('proj', new Linear({ inFeatures: dim, outFeatures: dim, random }));
    this.posProj = this.addModule('pos_proj', new Linear({ inFeatures: 3, outFeatures: numHeads, random }));
    this.gatingParam = this.addParameter('gating_param', init.ones([numHeads]));
    this.relIndices = this.addBuffer('rel_indices', relativeIndices(gridSize), { persistent: false });
    for (const linear of [this.qk, this.v, this.proj, this.posProj]) initLinear(linear, random);
    this.#localInit(options.localityStrength ?? 1);
  }

  /** timm's `local_init`: v = identity; pos_proj rows of the first floor(sqrt(H))^2 heads point at a kernel's offsets. */
  #localInit(localityStrength: number): void {
    tf.tidy(() => this.v.weight.assign(tf.eye(this.dim) as tf.Tensor2D));
    const kernelSize = Math.floor(Math.sqrt(this.numHeads));
    const center = kernelSize % 2 === 0 ? (kernelSize - 1) / 2 : Math.floor(kernelSize / 2);
    // stored [in = 3, out = heads]: column h holds PyTorch's row h
    const weight = this.posProj.weight.arraySync() as number[][];
    for (let h1 = 0; h1 < kernelSize; h1++) {
      for (let h2 = 0; h2 < kernelSize; h2++) {
        const head = h1 + kernelSize * h2;
        weight[0]![head] = 2 * (h2 - center);
        weight[1]![head] = 2 * (h1 - center);
        weight[2]![head] = -1;
      }
    }
    tf.tidy(() => {
      this.posProj.weight.assign(tf.mul(tf.tensor2d(weight), localityStrength));
    });
  }

  /** Attention weights [B, heads, N, N]: the gated mix of content and positional attention. */
  attentionWeights(input: tf.Tensor): tf.Tensor {
    const [batch, tokens] = input.shape as [number, number, number];
    const { numHeads, headDim } = this;
    return tf.tidy(() => {
      // q and k split on the rank-3 projection (wasm slices rank-5 tensors element by element)
      const qk = this.qk.forward(input);
      const heads = (offset: number) =>
        tf.transpose(
          tf.reshape(tf.slice(qk, [0, 0, offset], [-1, -1, this.dim]), [batch, tokens, numHeads, headDim]),
          [0, 2, 1, 3],
        );
      const q = heads(0);
      const k = heads(this.dim);
      const patchScore = normalizeScores(tf.mul(tf.matMul(q, k, false, true), this.scale), this.scoreNorm);
      // [N * N, 3] -> [N, N, heads] -> [1, heads, N, N]
      const positional = tf.reshape(this.posProj.forward(this.relIndices), [tokens, tokens, numHeads]);
      const posScore = tf.softmax(tf.expandDims(tf.transpose(positional, [2, 0, 1]), 0), -1);
      const gate = tf.reshape(tf.sigmoid(this.gatingParam), [1, numHeads, 1, 1]);
      const mixed = tf.add(tf.mul(tf.sub(1, gate), patchScore), tf.mul(gate, posScore));
      return tf.div(mixed, tf.sum(mixed, -1, true));
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    const tokens = this.gridSize * this.gridSize;
    this.checkShape(input, ['B', tokens, this.dim]);
    const batch = input.shape[0]!;
    return tf.tidy(() => {
      const weights = dropout(this.attentionWeights(input), this.attnDrop, {
        training: options.training,
        random: this.#random,
      });
      const v = tf.transpose(
        tf.reshape(this.v.forward(input), [batch, tokens, this.numHeads, this.headDim]),
        [0, 2, 1, 3],
      );
      const heads = tf.matMul(weights, v);
      const merged = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [batch, tokens, this.dim]);
      return dropout(this.proj.forward(merged), this.projDrop, {
        training: options.training,
        random: this.#random,
      });
    });
  }
}

export interface ConvitBlockOptions {
  dim: number;
  numHeads: number;
  mlpRatio: number;
  qkvBias: boolean;
  /** Side of the square patch grid. */
  gridSize: number;
  /** GPSA (patch tokens only) or the configured standard attention (class token + patches). */
  useGpsa: boolean;
  localityStrength: number;
  normEps: number;
  dropRate: number;
  dropPath: number;
  attention: AttentionConfig;
  random?: Random;
}

/** timm's ConViT `Block`: pre-norm GPSA or MHSA, then a GELU MLP. Keys `norm1`, `attn`, `norm2`, `mlp`. */
export class ConvitBlock extends Module implements TensorModule {
  readonly useGpsa: boolean;
  readonly gridSize: number;
  readonly norm1: LayerNorm;
  readonly attn: GatedPositionalAttention | AttentionModule;
  readonly dropPath: DropPath;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(options: ConvitBlockOptions) {
    super();
    const { dim, numHeads, random } = options;
    const { attnDrop, ...scoreNorm } = scoreNormFields(options.attention);
    const multiHead = ((options.attention as { type?: string }).type ?? 'multi-head') === 'multi-head';
    this.gridSize = options.gridSize;
    this.useGpsa = options.useGpsa;
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.attn = this.addModule(
      'attn',
      options.useGpsa
        ? new GatedPositionalAttention({
            dim,
            numHeads,
            gridSize: options.gridSize,
            qkvBias: options.qkvBias,
            localityStrength: options.localityStrength,
            scoreNorm,
            attnDrop,
            projDrop: options.dropRate,
            random,
          })
        : createAttention(
            multiHead
              ? ({ projDrop: options.dropRate, ...options.attention } as AttentionConfig)
              : options.attention,
            { dim, numHeads, qkvBias: options.qkvBias, random },
          ),
    );
    this.dropPath = this.addModule('drop_path', new DropPath({ probability: options.dropPath, random }));
    this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    this.mlp = this.addModule(
      'mlp',
      new Mlp({
        inFeatures: dim,
        hiddenFeatures: Math.floor(dim * options.mlpRatio),
        dropRate: options.dropRate,
        random,
      }),
    );
    if (!this.useGpsa) {
      for (const module of this.attn.namedModules().values()) {
        if (module instanceof Linear) initLinear(module, random);
      }
    }
    for (const linear of [this.mlp.fc1, this.mlp.fc2]) initLinear(linear, random);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    // standard blocks see the class token and the grid (linear-attention types need the grid)
    const attentionOptions = this.useGpsa
      ? options
      : { ...options, gridSize: [this.gridSize, this.gridSize] as const, numPrefixTokens: 1 };
    return tf.tidy(() => {
      const attended = this.attn.forward(this.norm1.forward(input), attentionOptions);
      const x = tf.add(input, this.dropPath.forward(attended, options));
      return tf.add(x, this.dropPath.forward(this.mlp.forward(this.norm2.forward(x), options), options));
    });
  }
}

/**
 * ConViT classifier on NHWC images [B, H, W, C] (timm's `ConViT`).
 *
 * State dict (timm's keys): `cls_token` [1, 1, D], `pos_embed` [1, N, D] (patch tokens only),
 * `patch_embed.proj.*`, `blocks.{i}.{norm1, attn, norm2, mlp}.*` (GPSA blocks: `attn.qk`, `attn.v`,
 * `attn.proj`, `attn.pos_proj`, `attn.gating_param`; MHSA blocks: `attn.qkv`, `attn.proj`), `norm`, `head`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { ConViT } from '@mlzoo/vit';
 *
 * const model = new ConViT({ imgSize: 28, patchSize: 4, inChans: 1, numClasses: 10, embedDim: 24, numHeads: 4, depth: 6, localUpToLayer: 4 });
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class ConViT extends Module implements Classifier {
  readonly config: Readonly<ResolvedConvitConfig>;
  readonly embedDim: number;
  readonly gridSize: number;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'patch_embed.proj';
  readonly patchEmbed: PatchEmbed;
  readonly clsToken: tf.Variable;
  readonly posEmbed: tf.Variable | null;
  readonly blocks: ModuleList<ConvitBlock>;
  readonly norm: LayerNorm;
  head: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: ConvitConfig = {}) {
    super();
    const resolved = resolveConfig(config);
    validateConfig(resolved);
    this.config = resolved;
    const random = config.random;
    this.#random = random;
    const dim = resolved.embedDim * resolved.numHeads;
    this.embedDim = dim;
    this.numFeatures = dim;
    this.headHiddenSize = dim;
    this.gridSize = resolved.imgSize / resolved.patchSize;
    this.#numClasses = resolved.numClasses;
    this.patchEmbed = this.addModule(
      'patch_embed',
      new PatchEmbed({
        imgSize: resolved.imgSize,
        patchSize: resolved.patchSize,
        inChans: resolved.inChans,
        embedDim: dim,
        random,
      }),
    );
    this.clsToken = this.addParameter('cls_token', init.truncNormal([1, 1, dim], { std: 0.02, random }));
    const numPatches = this.gridSize * this.gridSize;
    this.posEmbed = resolved.usePosEmbed
      ? this.addParameter('pos_embed', init.truncNormal([1, numPatches, dim], { std: 0.02, random }))
      : null;
    this.blocks = this.addModule('blocks', new ModuleList<ConvitBlock>());
    for (let index = 0; index < resolved.depth; index++) {
      const block = new ConvitBlock({
        dim,
        numHeads: resolved.numHeads,
        mlpRatio: resolved.mlpRatio,
        qkvBias: resolved.qkvBias,
        gridSize: this.gridSize,
        useGpsa: index < resolved.localUpToLayer,
        localityStrength: resolved.localityStrength,
        normEps: resolved.normEps,
        dropRate: resolved.dropRate,
        dropPath: resolved.depth > 1 ? (resolved.dropPathRate * index) / (resolved.depth - 1) : 0,
        attention: resolved.attention,
        random,
      });
      this.blocks.append(block);
    }
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: dim, eps: resolved.normEps }));
    this.head = this.addModule('head', this.#makeHead(resolved.numClasses));
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

  /** Runs the blocks; calls `visit(index, tokens)` after each. Returns the tokens before the final norm. */
  #runBlocks(input: tf.Tensor, options: ForwardOptions, visit?: (index: number, x: tf.Tensor) => void) {
    const { imgSize, inChans } = this.config;
    this.checkShape(input, ['B', imgSize, imgSize, inChans]);
    const batch = input.shape[0]!;
    let x = this.patchEmbed.forward(input);
    if (this.posEmbed) x = tf.add(x, this.posEmbed);
    x = dropout(x, this.config.dropRate, { training: options.training, random: this.#random });
    this.blocks.items.forEach((block, index) => {
      if (index === this.config.localUpToLayer) {
        x = tf.concat([tf.tile(this.clsToken, [batch, 1, 1]), x], 1);
      }
      x = block.forward(x, options);
      visit?.(index, x);
    });
    return x;
  }

  /** Tokens after the final norm: [B, 1 + N, D] (class token first). */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.norm.forward(this.#runBlocks(input, options)));
  }

  /** Class token -> head: [B, 1 + N, D] -> [B, numClasses] (or [B, D] with preLogits). */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'N', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = tf.squeeze(tf.slice(features, [0, 0, 0], [-1, 1, -1]), [1]);
      return options.preLogits ? pooled : this.head.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /**
   * Patch tokens after the selected blocks as NHWC maps [B, H / p, W / p, D] (the class token, where
   * present, is dropped; no final norm).
   */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.blocks.length));
    const grid = this.gridSize;
    const outputs: tf.Tensor[] = [];
    tf.tidy(() => {
      this.#runBlocks(input, options, (index, x) => {
        if (!chosen.has(index)) return;
        const patches = index >= this.config.localUpToLayer ? tf.slice(x, [0, 1, 0], [-1, -1, -1]) : x;
        outputs.push(tf.keep(tf.reshape(patches, [x.shape[0]!, grid, grid, this.embedDim])));
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

const PAPER =
  "ConViT: Improving Vision Transformers with Soft Convolutional Inductive Biases (d'Ascoli et al. 2021, arXiv:2103.10697)";
const SOURCE = 'timm/models/convit.py (facebookresearch/convit weights)';

/** ConViT presets (pure data): timm's three, and a small one for 28x28 grayscale images. */
export const CONVIT_PRESETS: Record<string, ModelPreset<ConvitConfig>> = {
  convit_tiny: {
    config: { embedDim: 48, numHeads: 4, depth: 12, localUpToLayer: 10, localityStrength: 1 },
    numParameters: 5_710_512,
    description: 'ConViT-Ti: width 192 (48 x 4 heads), 12 blocks (10 GPSA), ImageNet-1k 73.1% (timm).',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  convit_small: {
    config: { embedDim: 48, numHeads: 9, depth: 12, localUpToLayer: 10, localityStrength: 1 },
    numParameters: 27_777_322,
    description: 'ConViT-S: width 432 (48 x 9 heads), 12 blocks (10 GPSA), ImageNet-1k 81.4% (timm).',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  convit_base: {
    config: { embedDim: 48, numHeads: 16, depth: 12, localUpToLayer: 10, localityStrength: 1 },
    numParameters: 86_540_040,
    description: 'ConViT-B: width 768 (48 x 16 heads), 12 blocks (10 GPSA), ImageNet-1k 82.3% (timm).',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  },
  convit_fashion_mnist: {
    config: {
      imgSize: 28,
      patchSize: 4,
      inChans: 1,
      numClasses: 10,
      embedDim: 24,
      numHeads: 4,
      depth: 6,
      localUpToLayer: 4,
    },
    numParameters: 676_986,
    description:
      'ConViT for 28x28 grayscale images: patch 4 (7x7 grid), width 96 (24 x 4 heads), 6 blocks (4 GPSA).',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/vit',
  },
};

function fromPreset(name: string, overrides: ConvitConfig): ConViT {
  return new ConViT({ ...CONVIT_PRESETS[name]!.config, ...overrides });
}

export const convitTiny = (overrides: ConvitConfig = {}): ConViT => fromPreset('convit_tiny', overrides);
export const convitSmall = (overrides: ConvitConfig = {}): ConViT => fromPreset('convit_small', overrides);
export const convitBase = (overrides: ConvitConfig = {}): ConViT => fromPreset('convit_base', overrides);
export const convitFashionMnist = (overrides: ConvitConfig = {}): ConViT =>
  fromPreset('convit_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createConvit(config: ConvitConfig): ConViT {
  return new ConViT(config);
}

/** Registers the ConViT presets with core's `createModel`. Nothing registers on import. */
export function registerConvitModels(): void {
  for (const [name, preset] of Object.entries(CONVIT_PRESETS)) registerModel(name, createConvit, preset);
}
