// The minimal transformer: attention-only encoder blocks (no MLP), query and key collapsed into one
// matrix, value and output projections optional, an optionally symmetric similarity.
//
// Bermeitinger, Hrycej, Pavone, Kath & Handschuh, "Reducing the Transformer Architecture to a
// Minimum", 2024, arXiv:2410.13732 (https://arxiv.org/abs/2410.13732). No code from the authors was
// found; this follows the public re-implementation Abdessamad-Badaoui/
// Reducing_the_Transformer_Architecture_to_a_Minimum, src/modules.py (`ReducedTransformer`,
// `MultiHeadSelfAttention`, `TransformerEncoderLayer`, `PatchEmbedding`) and src/config.py, whose
// parameter names are the state-dict keys here.
//
// Attention of head h (headDim d, x_h = the h-th d-wide slice of the block input x):
//   similarity 'separate'   S = (x Wq + bq)_h (x Wk + bk)_h^T / sqrt(d)      (`query`, `key`)
//   similarity 'collapsed'  S = (x Wqk + bqk)_h x_h^T / sqrt(d)               (`qk`: W_Q W_K^T in one)
//   similarity 'symmetric'  S = x_h (T_h T_h^T) x_h^T / sqrt(d)               (`trainable_params`: the
//                           lower triangle of T_h per head, row-major as torch.tril_indices)
//   A = normalizeScores(S) (softmax by default; any `attention` score normalisation of @mlzoo/layers)
//   valueProjection true:  y = out(concat_h A_h (x Wv + bv)_h)                (`value`, `out`)
//   valueProjection false: y = concat_h A_h x_h (a convex combination of the inputs; the paper's
//                          omitted W_V W_O)
// With one head (the reference's collapsed cases; it supports only one head there) x_h = x. With more
// heads the reference's collapsed code fails on a shape mismatch; the slice-per-head reading above is
// the one its symmetric variant uses.
// Block (post-norm, as the reference): x = norm1(x + drop(attn(x))); with includeMlp also
// x = norm2(x + drop(mlp(x))), mlp = Linear(D, mlpDim) -> GELU -> Linear(mlpDim, D).
// Model: patcher conv -> cls token -> + position embeddings -> dropout -> blocks -> classifier(cls).
// Reference configuration mapping (`modification`): 'unchanged' = separate + value; 'Wqk' = collapsed
// + value; 'Wqk+noWvWo' = collapsed without value; 'symmetry' = symmetric + value.
// Differences from the reference: it always creates `norm2`, even without the MLP, where it is unused;
// here it exists only with includeMlp (load a reference checkpoint with `strict: false`, or drop its
// `norm2` keys). Its `trainable_params`, `cls_token` and `position_embeddings` start from N(0, 1); here
// `trainable_params` starts from N(0, 1/d) so that T T^T has O(1) entries at any width.
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
  Sequential,
} from '@mlzoo/core';
import {
  Conv2d,
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

export type MinimalSimilarity = 'separate' | 'collapsed' | 'symmetric';

/** Score normalisation of the attention (see `normalizeScores` in @mlzoo/layers); a fixed sigmoid bias only. */
export type MinimalAttentionScores = Omit<ScoreNormOptions, 'sigmoidBias'> & { sigmoidBias?: number };

export interface MinimalTransformerConfig {
  /** Image size, square or [height, width] (default 28, MNIST). */
  imgSize?: number | readonly [number, number];
  /** Patch size (default 7, the reference's MNIST setting). */
  patchSize?: number;
  /** Image channels (default 1). */
  inChans?: number;
  /** Classes (default 10; 0 makes `forward` return the cls features). */
  numClasses?: number;
  /** Token width (default 64, the reference's `embed_dim`). */
  embedDim?: number;
  /** Encoder blocks (default 6, the reference's `num_layers`). */
  depth?: number;
  /** Heads (default 1); must divide embedDim. */
  numHeads?: number;
  /** How queries meet keys (default 'collapsed'; see the file header). */
  similarity?: MinimalSimilarity;
  /** Keep the value and output projections (`value`, `out`; default true). */
  valueProjection?: boolean;
  /** Add the MLP branch (default false: the paper's attention-only block). */
  includeMlp?: boolean;
  /** Hidden width of the MLP (default embedDim, as the reference passes). */
  mlpDim?: number;
  /** Bias on the query/key/value/out projections (default true, nn.Linear's). */
  qkvBias?: boolean;
  /** Attention score normalisation (default softmax). */
  attention?: MinimalAttentionScores;
  /** Dropout after the embeddings, in training (default 0.1, the reference's `dropout`). */
  dropRate?: number;
  /** Dropout on the attention weights, in training (default 0.1, the reference's fixed value). */
  attnDropRate?: number;
  /** Dropout on each residual branch, in training (default 0.1, the reference's fixed value). */
  projDropRate?: number;
  /** eps of the LayerNorms (default 1e-5, torch's). */
  normEps?: number;
  random?: Random;
}

/** A `MinimalTransformerConfig` with every default filled in (the model's `config`). */
export interface ResolvedMinimalTransformerConfig {
  imgSize: [number, number];
  patchSize: number;
  inChans: number;
  numClasses: number;
  embedDim: number;
  depth: number;
  numHeads: number;
  similarity: MinimalSimilarity;
  valueProjection: boolean;
  includeMlp: boolean;
  mlpDim: number;
  qkvBias: boolean;
  attention: MinimalAttentionScores;
  dropRate: number;
  attnDropRate: number;
  projDropRate: number;
  normEps: number;
}

const SIMILARITIES: readonly MinimalSimilarity[] = ['separate', 'collapsed', 'symmetric'];

function resolveConfig(config: MinimalTransformerConfig): ResolvedMinimalTransformerConfig {
  const size = config.imgSize ?? 28;
  const embedDim = config.embedDim ?? 64;
  const resolved: ResolvedMinimalTransformerConfig = {
    imgSize: typeof size === 'number' ? [size, size] : [size[0], size[1]],
    patchSize: config.patchSize ?? 7,
    inChans: config.inChans ?? 1,
    numClasses: config.numClasses ?? 10,
    embedDim,
    depth: config.depth ?? 6,
    numHeads: config.numHeads ?? 1,
    similarity: config.similarity ?? 'collapsed',
    valueProjection: config.valueProjection ?? true,
    includeMlp: config.includeMlp ?? false,
    mlpDim: config.mlpDim ?? embedDim,
    qkvBias: config.qkvBias ?? true,
    attention: { ...(config.attention ?? {}) },
    dropRate: config.dropRate ?? 0.1,
    attnDropRate: config.attnDropRate ?? 0.1,
    projDropRate: config.projDropRate ?? 0.1,
    normEps: config.normEps ?? 1e-5,
  };
  const positive = (value: number) => Number.isInteger(value) && value > 0;
  const rate = (value: number) => value >= 0 && value < 1;
  const scoreNorm = resolved.attention.scoreNorm ?? 'softmax';
  const problems = [
    !resolved.imgSize.every(positive) && `imgSize must be positive integers, got ${JSON.stringify(size)}`,
    !positive(resolved.patchSize) && `patchSize must be a positive integer, got ${resolved.patchSize}`,
    positive(resolved.patchSize) &&
      resolved.imgSize.some((side) => side % resolved.patchSize !== 0) &&
      `imgSize [${resolved.imgSize.join(', ')}] is not divisible by patchSize ${resolved.patchSize}`,
    !positive(resolved.inChans) && `inChans must be a positive integer, got ${resolved.inChans}`,
    !(Number.isInteger(resolved.numClasses) && resolved.numClasses >= 0) &&
      `numClasses must be a non-negative integer, got ${resolved.numClasses}`,
    !positive(embedDim) && `embedDim must be a positive integer, got ${embedDim}`,
    !positive(resolved.depth) && `depth must be a positive integer, got ${resolved.depth}`,
    !(positive(resolved.numHeads) && embedDim % resolved.numHeads === 0) &&
      `numHeads (${resolved.numHeads}) must divide embedDim (${embedDim})`,
    !SIMILARITIES.includes(resolved.similarity) &&
      `similarity must be one of ${SIMILARITIES.join(', ')}, got '${String(resolved.similarity)}'`,
    !positive(resolved.mlpDim) && `mlpDim must be a positive integer, got ${resolved.mlpDim}`,
    !SCORE_NORMS.includes(scoreNorm) &&
      `attention.scoreNorm must be one of ${SCORE_NORMS.join(', ')}, got '${scoreNorm}'`,
    !rate(resolved.dropRate) && `dropRate must be in [0, 1), got ${resolved.dropRate}`,
    !rate(resolved.attnDropRate) && `attnDropRate must be in [0, 1), got ${resolved.attnDropRate}`,
    !rate(resolved.projDropRate) && `projDropRate must be in [0, 1), got ${resolved.projDropRate}`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`MinimalTransformer: ${problems.join('; ')}`);
  return resolved;
}

export interface MinimalAttentionOptions {
  dim: number;
  numHeads?: number;
  similarity?: MinimalSimilarity;
  valueProjection?: boolean;
  qkvBias?: boolean;
  attention?: MinimalAttentionScores;
  attnDropRate?: number;
  random?: Random;
}

/**
 * The reference's `MultiHeadSelfAttention` (all four modifications) on tokens [B, N, dim].
 * Keys: `query`, `key` ('separate'), `qk` ('collapsed'), `trainable_params` [heads, d (d + 1) / 2]
 * ('symmetric'), `value`, `out` (valueProjection).
 */
export class MinimalAttention extends Module {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly similarity: MinimalSimilarity;
  readonly scores: MinimalAttentionScores;
  readonly attnDropRate: number;
  readonly query: Linear | null = null;
  readonly key: Linear | null = null;
  readonly qk: Linear | null = null;
  readonly trainable_params: tf.Variable | null = null;
  readonly value: Linear | null = null;
  readonly out: Linear | null = null;
  readonly #random: Random | undefined;
  /** 'symmetric': constant [T, d * d] placing the T triangle entries into a d x d matrix. */
  #triangle: tf.Tensor | null = null;

  constructor(options: MinimalAttentionOptions) {
    super();
    const { dim, random } = options;
    const numHeads = options.numHeads ?? 1;
    if (!(Number.isInteger(dim) && Number.isInteger(numHeads) && numHeads > 0 && dim % numHeads === 0)) {
      throw new Error(`MinimalAttention: numHeads (${numHeads}) must divide dim (${dim})`);
    }
    this.dim = dim;
    this.numHeads = numHeads;
    this.headDim = dim / numHeads;
    this.similarity = options.similarity ?? 'collapsed';
    this.scores = { ...(options.attention ?? {}) };
    this.attnDropRate = options.attnDropRate ?? 0;
    this.#random = random;
    const bias = options.qkvBias ?? true;
    const linear = () => new Linear({ inFeatures: dim, outFeatures: dim, bias, random });
    if (this.similarity === 'separate') {
      this.query = this.addModule('query', linear());
      this.key = this.addModule('key', linear());
    } else if (this.similarity === 'collapsed') {
      this.qk = this.addModule('qk', linear());
    } else if (this.similarity === 'symmetric') {
      const d = this.headDim;
      const count = (d * (d + 1)) / 2;
      this.trainable_params = this.addParameter(
        'trainable_params',
        init.normal([numHeads, count], { std: d ** -0.5, random }),
      );
      const placement = new Float32Array(count * d * d);
      let entry = 0;
      for (let row = 0; row < d; row++) {
        for (let column = 0; column <= row; column++) placement[entry++ * d * d + row * d + column] = 1;
      }
      this.#triangle = tf.keep(tf.tensor2d(placement, [count, d * d]));
    } else {
      throw new Error(`MinimalAttention: unknown similarity '${String(this.similarity)}'`);
    }
    if (options.valueProjection ?? true) {
      this.value = this.addModule('value', linear());
      this.out = this.addModule('out', linear());
    }
  }

  /** The symmetric similarity matrices T_h T_h^T [heads, d, d] ('symmetric' only). */
  similarityMatrices(): tf.Tensor {
    if (!this.trainable_params || !this.#triangle) {
      throw new Error(`${this.location}: similarityMatrices needs similarity 'symmetric'`);
    }
    return tf.tidy(() => {
      const lower = this.#lowerTriangles();
      return tf.matMul(lower, lower, false, true);
    });
  }

  #lowerTriangles(): tf.Tensor {
    const d = this.headDim;
    return tf.reshape(tf.matMul(this.trainable_params!, this.#triangle!), [this.numHeads, d, d]);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', 'N', this.dim]);
    const [batch, tokens] = input.shape as [number, number, number];
    const { numHeads, headDim } = this;
    return tf.tidy(() => {
      const splitHeads = (x: tf.Tensor) =>
        tf.transpose(tf.reshape(x, [batch, tokens, numHeads, headDim]), [0, 2, 1, 3]);
      const slices = splitHeads(input); // x_h [B, H, N, d]
      let scores: tf.Tensor;
      if (this.query && this.key) {
        scores = tf.matMul(
          splitHeads(this.query.forward(input)),
          splitHeads(this.key.forward(input)),
          false,
          true,
        );
      } else if (this.qk) {
        scores = tf.matMul(splitHeads(this.qk.forward(input)), slices, false, true);
      } else {
        // x_h T_h as one batched product per head ([H, B N, d] x [H, d, d]; tfjs's broadcasting matMul
        // gradient does not reduce over the broadcast batch axis)
        const perHead = tf.reshape(tf.transpose(slices, [1, 0, 2, 3]), [numHeads, batch * tokens, headDim]);
        const projected = tf.transpose(
          tf.reshape(tf.matMul(perHead, this.#lowerTriangles()), [numHeads, batch, tokens, headDim]),
          [1, 0, 2, 3],
        );
        scores = tf.matMul(projected, projected, false, true);
      }
      scores = tf.mul(scores, headDim ** -0.5);
      let weights = normalizeScores(scores, this.scores);
      weights = dropout(weights, this.attnDropRate, { training: options.training, random: this.#random });
      const values = this.value ? splitHeads(this.value.forward(input)) : slices;
      const mixed = tf.reshape(tf.transpose(tf.matMul(weights, values), [0, 2, 1, 3]), [
        batch,
        tokens,
        this.dim,
      ]);
      return this.out ? this.out.forward(mixed) : mixed;
    });
  }

  override dispose(): void {
    this.#triangle?.dispose();
    this.#triangle = null;
    super.dispose();
  }
}

/** The reference's `TransformerEncoderLayer` (post-norm). Keys `self_attn`, `norm1`, `norm2`, `mlp.{0,2}`. */
export class MinimalEncoderLayer extends Module {
  readonly self_attn: MinimalAttention;
  readonly norm1: LayerNorm;
  readonly norm2: LayerNorm | null;
  readonly mlp: Sequential | null;
  readonly projDropRate: number;
  readonly #random: Random | undefined;

  constructor(
    options: MinimalAttentionOptions & {
      includeMlp: boolean;
      mlpDim: number;
      projDropRate: number;
      normEps: number;
    },
  ) {
    super();
    const { dim, random } = options;
    this.#random = random;
    this.projDropRate = options.projDropRate;
    this.self_attn = this.addModule('self_attn', new MinimalAttention(options));
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
    if (options.includeMlp) {
      this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: dim, eps: options.normEps }));
      this.mlp = this.addModule(
        'mlp',
        new Sequential([
          new Linear({ inFeatures: dim, outFeatures: options.mlpDim, random }),
          new GELU(),
          new Linear({ inFeatures: options.mlpDim, outFeatures: dim, random }),
        ]),
      );
    } else {
      this.norm2 = null;
      this.mlp = null;
    }
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    const drop = (x: tf.Tensor) =>
      dropout(x, this.projDropRate, { training: options.training, random: this.#random });
    return tf.tidy(() => {
      let x = this.norm1.forward(tf.add(input, drop(this.self_attn.forward(input, options))));
      if (this.mlp && this.norm2) x = this.norm2.forward(tf.add(x, drop(this.mlp.forward(x, options))));
      return x;
    });
  }
}

/** The reference's `PatchEmbedding`: `patcher.0` conv, `cls_token` [1, 1, D], `position_embeddings` [1, N + 1, D]. */
export class MinimalPatchEmbedding extends Module {
  readonly patcher: Sequential;
  readonly cls_token: tf.Variable;
  readonly position_embeddings: tf.Variable;
  readonly embedDim: number;

  constructor(options: {
    inChans: number;
    embedDim: number;
    patchSize: number;
    numPatches: number;
    random?: Random;
  }) {
    super();
    const { embedDim, patchSize, random } = options;
    this.embedDim = embedDim;
    this.patcher = this.addModule(
      'patcher',
      new Sequential([
        new Conv2d({
          inChannels: options.inChans,
          outChannels: embedDim,
          kernelSize: patchSize,
          stride: patchSize,
          random,
        }),
      ]),
    );
    this.cls_token = this.addParameter('cls_token', init.normal([1, 1, embedDim], { random }));
    this.position_embeddings = this.addParameter(
      'position_embeddings',
      init.normal([1, options.numPatches + 1, embedDim], { random }),
    );
  }

  /** [B, H, W, C] -> [B, 1 + N, D] (before dropout). */
  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const batch = input.shape[0]!;
      const patches = tf.reshape(this.patcher.forward(input), [batch, -1, this.embedDim]);
      const cls = tf.tile(this.cls_token, [batch, 1, 1]);
      return tf.add(tf.concat([cls, patches], 1), this.position_embeddings);
    });
  }
}

/** The reference's `TransformerEncoder`: `layers.{i}`. */
export class MinimalEncoder extends Module {
  readonly layers: ModuleList<MinimalEncoderLayer>;

  constructor(layers: MinimalEncoderLayer[]) {
    super();
    this.layers = this.addModule('layers', new ModuleList(layers));
  }
}

/**
 * The minimal transformer classifier (the reference's `ReducedTransformer`) on NHWC images.
 *
 * State dict: `embedding.patcher.0.{weight,bias}`, `embedding.cls_token`,
 * `embedding.position_embeddings`, `transformer_encoder.layers.{i}.self_attn.*`,
 * `transformer_encoder.layers.{i}.norm1.*` (`norm2.*`, `mlp.{0,2}.*` with includeMlp),
 * `classifier.{weight,bias}`. `forwardFeatures` returns all tokens [B, 1 + N, D] (cls first);
 * `forwardHead` reads the cls token.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { MinimalTransformer } from '@mlzoo/vit';
 *
 * const model = new MinimalTransformer({ similarity: 'symmetric', numHeads: 4, attention: { scoreNorm: 'sigmoid' } });
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class MinimalTransformer extends Module implements Classifier {
  readonly config: Readonly<ResolvedMinimalTransformerConfig>;
  readonly gridSize: [number, number];
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'classifier';
  readonly firstLayerName = 'embedding.patcher.0';
  readonly embedding: MinimalPatchEmbedding;
  readonly transformer_encoder: MinimalEncoder;
  classifier: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: MinimalTransformerConfig = {}) {
    super();
    // everything is checked before the first variable exists, so a bad config leaks nothing
    const resolved = resolveConfig(config);
    this.config = resolved;
    this.#random = config.random;
    this.#numClasses = resolved.numClasses;
    const { embedDim, patchSize } = resolved;
    const random = this.#random;
    this.gridSize = [resolved.imgSize[0] / patchSize, resolved.imgSize[1] / patchSize];
    this.numFeatures = embedDim;
    this.headHiddenSize = embedDim;
    this.embedding = this.addModule(
      'embedding',
      new MinimalPatchEmbedding({
        inChans: resolved.inChans,
        embedDim,
        patchSize,
        numPatches: this.gridSize[0] * this.gridSize[1],
        random,
      }),
    );
    const layers = Array.from(
      { length: resolved.depth },
      () =>
        new MinimalEncoderLayer({
          dim: embedDim,
          numHeads: resolved.numHeads,
          similarity: resolved.similarity,
          valueProjection: resolved.valueProjection,
          qkvBias: resolved.qkvBias,
          attention: resolved.attention,
          attnDropRate: resolved.attnDropRate,
          includeMlp: resolved.includeMlp,
          mlpDim: resolved.mlpDim,
          projDropRate: resolved.projDropRate,
          normEps: resolved.normEps,
          random,
        }),
    );
    this.transformer_encoder = this.addModule('transformer_encoder', new MinimalEncoder(layers));
    this.classifier = this.addModule('classifier', this.#makeHead(resolved.numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  #embed(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    const { imgSize, inChans, dropRate } = this.config;
    this.checkShape(input, ['B', imgSize[0], imgSize[1], inChans]);
    return tf.tidy(() =>
      dropout(this.embedding.forward(input), dropRate, { training: options.training, random: this.#random }),
    );
  }

  /** All tokens after the blocks: [B, H, W, C] -> [B, 1 + N, embedDim] (cls first). */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = this.#embed(input, options);
      for (const layer of this.transformer_encoder.layers) x = layer.forward(x, options);
      return x;
    });
  }

  /** The cls token through the classifier (or the cls features with preLogits). */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'N', this.numFeatures], 'features');
    return tf.tidy(() => {
      const cls = tf.reshape(tf.slice(features, [0, 0, 0], [-1, 1, -1]), [
        features.shape[0]!,
        this.numFeatures,
      ]);
      return options.preLogits ? cls : this.classifier.forward(cls);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** Patch-token maps [B, H / p, W / p, embedDim] (cls dropped) after the selected blocks. */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const layers = this.transformer_encoder.layers;
    const indices = resolveIntermediateIndices(options.indices, layers.length);
    const last = Math.max(-1, ...indices);
    return tf.tidy(() => {
      const outputs = new Map<number, tf.Tensor>();
      let x = this.#embed(input, options);
      for (let index = 0; index <= last; index++) {
        x = layers.at(index).forward(x, options);
        const patches = tf.slice(x, [0, 1, 0], [-1, -1, -1]);
        outputs.set(
          index,
          tf.reshape(patches, [x.shape[0]!, this.gridSize[0], this.gridSize[1], this.numFeatures]),
        );
      }
      return indices.map((index) => outputs.get(index)!);
    });
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    const old = this.setSubmodule('classifier', this.#makeHead(numClasses));
    old.dispose();
    this.#numClasses = numClasses;
  }
}

const MINIMAL_PAPER =
  'Bermeitinger, Hrycej, Pavone, Kath & Handschuh, "Reducing the Transformer Architecture to a Minimum", arXiv:2410.13732';
const MINIMAL_SOURCE = 'Abdessamad-Badaoui/Reducing_the_Transformer_Architecture_to_a_Minimum src/config.py';

function preset(
  config: MinimalTransformerConfig,
  numParameters: number,
  description: string,
  source = MINIMAL_SOURCE,
): ModelPreset<MinimalTransformerConfig> {
  return { config, numParameters, description, paper: MINIMAL_PAPER, source, packageName: '@mlzoo/vit' };
}

const MNIST = { imgSize: 28, patchSize: 7, inChans: 1, numClasses: 10, embedDim: 64, depth: 6 } as const;
const CIFAR = { imgSize: 32, patchSize: 8, inChans: 3, numClasses: 10, embedDim: 64, depth: 6 } as const;

/** Presets of `MinimalTransformer` (pure data): the reference's MNIST and CIFAR-10 runs without MLP. */
export const MINIMAL_TRANSFORMER_PRESETS: Record<string, ModelPreset<MinimalTransformerConfig>> = {
  minimal_transformer_mnist: preset(
    { ...MNIST, numHeads: 1, similarity: 'collapsed', valueProjection: false },
    30_730,
    "MNIST, 6 blocks of width 64, 1 head, collapsed W_qk, no W_v/W_o, no MLP (reference 'Wqk+noWvWo').",
  ),
  minimal_transformer_wqk_mnist: preset(
    { ...MNIST, numHeads: 1, similarity: 'collapsed' },
    80_650,
    "MNIST, 1 head, collapsed W_qk with W_v and W_o, no MLP (reference 'Wqk').",
  ),
  minimal_transformer_symmetric_mnist: preset(
    { ...MNIST, numHeads: 4, similarity: 'symmetric' },
    58_954,
    "MNIST, 4 heads, symmetric similarity T T^T per head, no MLP (reference 'symmetry').",
  ),
  minimal_transformer_cifar10: preset(
    { ...CIFAR, numHeads: 1, similarity: 'collapsed', valueProjection: false },
    39_882,
    "CIFAR-10 (patch 8), 1 head, collapsed W_qk, no W_v/W_o, no MLP (reference 'Wqk+noWvWo').",
  ),
  minimal_transformer_symmetric_cifar10: preset(
    { ...CIFAR, numHeads: 4, similarity: 'symmetric' },
    68_106,
    "CIFAR-10 (patch 8), 4 heads, symmetric similarity, no MLP (reference 'symmetry').",
  ),
  minimal_transformer_fashion_mnist: preset(
    {
      imgSize: 28,
      patchSize: 4,
      inChans: 1,
      numClasses: 10,
      embedDim: 128,
      depth: 6,
      numHeads: 4,
      similarity: 'symmetric',
    },
    222_346,
    'Fashion-MNIST: patch 4 (49 tokens), width 128, 6 attention-only blocks, 4 symmetric heads.',
    'mlzoo',
  ),
};

function withOverrides(name: string, overrides: MinimalTransformerConfig): MinimalTransformer {
  return new MinimalTransformer({ ...MINIMAL_TRANSFORMER_PRESETS[name]!.config, ...overrides });
}

export const minimalTransformerMnist = (overrides: MinimalTransformerConfig = {}) =>
  withOverrides('minimal_transformer_mnist', overrides);
export const minimalTransformerWqkMnist = (overrides: MinimalTransformerConfig = {}) =>
  withOverrides('minimal_transformer_wqk_mnist', overrides);
export const minimalTransformerSymmetricMnist = (overrides: MinimalTransformerConfig = {}) =>
  withOverrides('minimal_transformer_symmetric_mnist', overrides);
export const minimalTransformerCifar10 = (overrides: MinimalTransformerConfig = {}) =>
  withOverrides('minimal_transformer_cifar10', overrides);
export const minimalTransformerSymmetricCifar10 = (overrides: MinimalTransformerConfig = {}) =>
  withOverrides('minimal_transformer_symmetric_cifar10', overrides);
export const minimalTransformerFashionMnist = (overrides: MinimalTransformerConfig = {}) =>
  withOverrides('minimal_transformer_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createMinimalTransformer(config: MinimalTransformerConfig): MinimalTransformer {
  return new MinimalTransformer(config);
}

/** Registers every minimal-transformer preset with core's `createModel`. Nothing registers on import. */
export function registerMinimalTransformerModels(): void {
  for (const [name, entry] of Object.entries(MINIMAL_TRANSFORMER_PRESETS)) {
    registerModel(name, createMinimalTransformer, entry);
  }
}
