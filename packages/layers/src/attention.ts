// Multi-head self-attention as timm's `Attention` (fused `qkv`, optional qk-norm, `proj`), with
// pluggable score normalisation and optional head-wise output gating.
//
// Score normalisations (A = attention weights, S = q k^T / sqrt(headDim), N = number of keys):
// - 'softmax': A = softmax(S) over keys (Vaswani et al. 2017).
// - 'sigmoid': A = sigmoid(S + b), no normalisation over keys, b = -log(N) by default, a fixed number,
//   or a learned per-head bias. Ramapuram et al., "Theory, Analysis, and Best Practices for Sigmoid
//   Self-Attention", ICLR 2025, arXiv:2409.04431 (apple/ml-sigmoid-attention).
// - 'softplus': A = softplus(S) / sum_keys softplus(S) (l1 normalisation), as the positivity-map + l1
//   decomposition of Gao & Spratling, "Softplus Attention with Re-weighting Boosts Length
//   Extrapolation in Large Language Models", arXiv:2501.13428. Their length-scaled variant (LSSA) is
//   available through `lengthScaleBase` (below); the re-weighting (LSSAR) is not implemented.
// - 'clipped-softmax': A = clip((zeta - gamma) softmax(S) + gamma, 0, 1). Bondarenko, Nagel &
//   Blankevoort, "Quantizable Transformers: Removing Outliers by Helping Attention Heads Do Nothing",
//   NeurIPS 2023, arXiv:2306.12929.
// Length scaling (any score normalisation): with `lengthScaleBase = L`, S is multiplied by
// log(N) / log(L) (log-length scaling: 1 at N = L; with L = the training length this is the
// "scale by log N / log N_train" rule, with L = headDim it is log_d(N)).
// Gating: `gate: 'headwise'` adds `gate` = Linear(dim, numHeads); head h's output (before `proj`) is
// multiplied by sigmoid(gate(x))[h], as the head-wise variant of Qiu et al., "Gated Attention for
// Large Language Models: Non-linearity, Sparsity, and Attention-Sink-Free", arXiv:2505.06708 (which
// computes the same per-head logit from extra rows of q_proj; a separate Linear is timm's layout).
// 'elementwise' uses Linear(dim, dim), one gate per output channel (timm's `Attention(gated=True)`).
import { type ForwardOptions, init, Module, type Random, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { dropout } from './dropout.js';
import { Identity } from './identity.js';
import { Linear } from './linear.js';
import { LayerNorm } from './normalization.js';

export type ScoreNorm = 'softmax' | 'sigmoid' | 'softplus' | 'clipped-softmax';

export interface ScoreNormOptions {
  /** How scores become attention weights (default 'softmax'). */
  scoreNorm?: ScoreNorm;
  /**
   * 'sigmoid' only: the bias b in sigmoid(S + b). A number, or a per-head tensor [heads] (a learned
   * bias; scores must then be [B, heads, Nq, Nk]). Default -log(Nk).
   */
  sigmoidBias?: number | tf.Tensor;
  /** 'clipped-softmax' only: gamma <= 0 (default -0.025). */
  clipGamma?: number;
  /** 'clipped-softmax' only: zeta >= 1 (default 1). */
  clipZeta?: number;
  /** Multiply scores by log(Nk) / log(lengthScaleBase) first (log-length scaling). */
  lengthScaleBase?: number;
}

export const SCORE_NORMS: readonly ScoreNorm[] = ['softmax', 'sigmoid', 'softplus', 'clipped-softmax'];

/**
 * Attention weights from scaled scores [..., Nq, Nk] (normalised over the last axis, keys), as
 * `MultiHeadAttention` does: the one place every attention variant in the zoo (windowed, relative
 * position, gated positional, ...) takes its score normalisation from.
 */
export function normalizeScores(scores: tf.Tensor, options: ScoreNormOptions = {}): tf.Tensor {
  const scoreNorm = options.scoreNorm ?? 'softmax';
  const numKeys = scores.shape[scores.rank - 1]!;
  return tf.tidy(() => {
    let logits = scores;
    if (options.lengthScaleBase != null)
      logits = tf.mul(logits, Math.log(numKeys) / Math.log(options.lengthScaleBase));
    switch (scoreNorm) {
      case 'softmax':
        return tf.softmax(logits, -1);
      case 'sigmoid': {
        const given = options.sigmoidBias;
        const bias =
          given == null
            ? tf.scalar(-Math.log(numKeys))
            : typeof given === 'number'
              ? tf.scalar(given)
              : tf.reshape(given, [1, given.size, 1, 1]);
        return tf.sigmoid(tf.add(logits, bias));
      }
      case 'softplus': {
        const positive = tf.softplus(logits);
        return tf.div(positive, tf.sum(positive, -1, true));
      }
      case 'clipped-softmax': {
        const gamma = options.clipGamma ?? -0.025;
        const zeta = options.clipZeta ?? 1;
        return tf.clipByValue(tf.add(tf.mul(tf.softmax(logits, -1), zeta - gamma), gamma), 0, 1);
      }
      default:
        throw new Error(`normalizeScores: unknown scoreNorm '${scoreNorm as string}'`);
    }
  });
}

export interface MultiHeadAttentionOptions {
  dim: number;
  /** Default 8; must divide dim. */
  numHeads?: number;
  /** Bias on `qkv` (default false, as timm's Attention; timm's ViTs pass true). */
  qkvBias?: boolean;
  /** Bias on `proj` (default true). */
  projBias?: boolean;
  /** LayerNorm over headDim on q and k (`q_norm`, `k_norm`), timm's `qk_norm`. Default false. */
  qkNorm?: boolean;
  /** eps of the qk LayerNorms (default 1e-5; timm ViTs use 1e-6). */
  qkNormEps?: number;
  /** Dropout on the attention weights in training (default 0). */
  attnDrop?: number;
  /** Dropout after `proj` in training (default 0). */
  projDrop?: number;
  /** How scores become weights (default 'softmax'; see the file header for formulas). */
  scoreNorm?: ScoreNorm;
  /** 'sigmoid': fixed bias b (default: -log(N), recomputed for each input length). */
  sigmoidBias?: number;
  /** 'sigmoid': learn a per-head bias `sigmoid_bias` [numHeads], initialised to `sigmoidBias` (required). */
  learnSigmoidBias?: boolean;
  /** 'clipped-softmax' gamma (<= 0, default -0.025 as the paper's BERT setting). */
  clipGamma?: number;
  /** 'clipped-softmax' zeta (>= 1, default 1). */
  clipZeta?: number;
  /** Multiply scores by log(N) / log(lengthScaleBase) (default off). */
  lengthScaleBase?: number;
  /** Sigmoid output gating: 'headwise' (Linear(dim, numHeads)), 'elementwise' (Linear(dim, dim)) or 'none'. */
  gate?: 'none' | 'headwise' | 'elementwise';
  random?: Random;
}

/**
 * timm's `Attention` on tokens [B, N, dim] -> [B, N, dim].
 *
 * State dict: `qkv.weight` [3 dim, dim] whose rows are [q | k | v], each ordered (head, headDim);
 * `qkv.bias` (with qkvBias); `q_norm.*`, `k_norm.*` (with qkNorm); `proj.weight` [dim, dim],
 * `proj.bias`; `gate.weight`, `gate.bias` (with gate); `sigmoid_bias` (with learnSigmoidBias).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { MultiHeadAttention } from '@mlzoo/layers';
 *
 * const attention = new MultiHeadAttention({ dim: 32, numHeads: 4, scoreNorm: 'sigmoid' });
 * attention.forward(tf.zeros([2, 10, 32])).shape; // [2, 10, 32]
 * ```
 */
export class MultiHeadAttention extends Module implements TensorModule {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly scale: number;
  readonly scoreNorm: ScoreNorm;
  readonly attnDrop: number;
  readonly projDrop: number;
  readonly clipGamma: number;
  readonly clipZeta: number;
  readonly sigmoidBiasValue: number | null;
  readonly lengthScaleBase: number | null;
  readonly gateMode: 'none' | 'headwise' | 'elementwise';
  readonly qkv: Linear;
  readonly qNorm: LayerNorm | Identity;
  readonly kNorm: LayerNorm | Identity;
  readonly proj: Linear;
  readonly gate: Linear | null;
  readonly sigmoidBias: tf.Variable | null;
  readonly #random: Random | undefined;

  constructor(options: MultiHeadAttentionOptions) {
    super();
    const dim = options.dim;
    const numHeads = options.numHeads ?? 8;
    if (!(Number.isInteger(dim) && Number.isInteger(numHeads) && numHeads > 0 && dim % numHeads === 0)) {
      throw new Error(`MultiHeadAttention: dim (${dim}) must be divisible by numHeads (${numHeads})`);
    }
    this.dim = dim;
    this.numHeads = numHeads;
    this.headDim = dim / numHeads;
    this.scale = this.headDim ** -0.5;
    this.scoreNorm = options.scoreNorm ?? 'softmax';
    if (!SCORE_NORMS.includes(this.scoreNorm)) {
      throw new Error(`MultiHeadAttention: unknown scoreNorm '${this.scoreNorm}'`);
    }
    this.attnDrop = options.attnDrop ?? 0;
    this.projDrop = options.projDrop ?? 0;
    this.clipGamma = options.clipGamma ?? -0.025;
    this.clipZeta = options.clipZeta ?? 1;
    if (this.clipGamma > 0 || this.clipZeta < 1) {
      throw new Error(
        `MultiHeadAttention: clipped softmax needs gamma <= 0 and zeta >= 1, got ${this.clipGamma}, ${this.clipZeta}`,
      );
    }
    this.sigmoidBiasValue = options.sigmoidBias ?? null;
    this.lengthScaleBase = options.lengthScaleBase ?? null;
    if (this.lengthScaleBase != null && !(this.lengthScaleBase > 1)) {
      throw new Error(`MultiHeadAttention: lengthScaleBase must be > 1, got ${this.lengthScaleBase}`);
    }
    this.gateMode = options.gate ?? 'none';
    if (options.learnSigmoidBias && (this.scoreNorm !== 'sigmoid' || this.sigmoidBiasValue == null)) {
      throw new Error(
        `MultiHeadAttention: learnSigmoidBias needs scoreNorm 'sigmoid' and an initial sigmoidBias`,
      );
    }
    this.#random = options.random;
    const random = options.random;
    this.qkv = this.addModule(
      'qkv',
      new Linear({ inFeatures: dim, outFeatures: 3 * dim, bias: options.qkvBias ?? false, random }),
    );
    const qkNorm = options.qkNorm ?? false;
    const eps = options.qkNormEps ?? 1e-5;
    this.qNorm = this.addModule(
      'q_norm',
      qkNorm ? new LayerNorm({ normalizedShape: this.headDim, eps }) : new Identity(),
    );
    this.kNorm = this.addModule(
      'k_norm',
      qkNorm ? new LayerNorm({ normalizedShape: this.headDim, eps }) : new Identity(),
    );
    this.proj = this.addModule(
      'proj',
      new Linear({ inFeatures: dim, outFeatures: dim, bias: options.projBias ?? true, random }),
    );
    this.gate =
      this.gateMode === 'none'
        ? null
        : this.addModule(
            'gate',
            new Linear({
              inFeatures: dim,
              outFeatures: this.gateMode === 'headwise' ? numHeads : dim,
              random,
            }),
          );
    if (options.learnSigmoidBias) {
      this.sigmoidBias = this.addParameter('sigmoid_bias', init.constant([numHeads], this.sigmoidBiasValue!));
    } else {
      this.sigmoidBias = null;
    }
  }

  /** Attention weights [B, heads, N, N] from scaled scores (exposed for inspection and tests). */
  normalizeScores(scores: tf.Tensor): tf.Tensor {
    return normalizeScores(scores, {
      scoreNorm: this.scoreNorm,
      sigmoidBias: this.sigmoidBias ?? this.sigmoidBiasValue ?? undefined,
      clipGamma: this.clipGamma,
      clipZeta: this.clipZeta,
      lengthScaleBase: this.lengthScaleBase ?? undefined,
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardWithWeights(input, options).output);
  }

  /**
   * `forward` that also returns the attention weights [B, heads, N, N] it applied to the values (after
   * score normalisation and, in training, attention dropout), for token pruning (EViT reads the class
   * token's row), attention rollout and inspection. Both tensors are new; gradients flow through both.
   */
  forwardWithWeights(
    input: tf.Tensor,
    options: ForwardOptions = {},
  ): { output: tf.Tensor; weights: tf.Tensor } {
    this.checkShape(input, ['B', 'N', this.dim]);
    const [batch, tokens] = input.shape as [number, number, number];
    const { numHeads, headDim } = this;
    return tf.tidy(() => {
      // [B, N, 3 D] -> [3, B, N, D] -> [3 B, H, N, hd] -> q, k, v [B, H, N, hd], by two rank-4
      // transposes: tfjs-backend-wasm's rank-5 transpose is ~100x slower than rank 4 (measured).
      const fused = tf.transpose(
        tf.reshape(this.qkv.forward(input), [batch, tokens, 3, this.dim]),
        [2, 0, 1, 3],
      );
      const perHead = tf.transpose(tf.reshape(fused, [3 * batch, tokens, numHeads, headDim]), [0, 2, 1, 3]);
      // q, k and v are contiguous thirds: row slices of a 2-D view (wasm's Unpack/SplitV are slower)
      const thirds = tf.reshape(perHead, [3, -1]);
      const [qPart, kPart, vPart] = [0, 1, 2].map((part) =>
        tf.reshape(tf.slice(thirds, [part, 0], [1, -1]), [batch, numHeads, tokens, headDim]),
      );
      const q = this.qNorm.forward(qPart!);
      const k = this.kNorm.forward(kPart!);
      const scores = tf.matMul(tf.mul(q, this.scale), k, false, true);
      let weights = this.normalizeScores(scores);
      weights = dropout(weights, this.attnDrop, { training: options.training, random: this.#random });
      let heads = tf.matMul(weights, vPart!); // [B, H, N, hd]
      if (this.gate && this.gateMode === 'headwise') {
        const gates = tf.sigmoid(this.gate.forward(input)); // [B, N, H]
        heads = tf.mul(heads, tf.expandDims(tf.transpose(gates, [0, 2, 1]), 3));
      }
      let output = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [batch, tokens, this.dim]);
      if (this.gate && this.gateMode === 'elementwise')
        output = tf.mul(output, tf.sigmoid(this.gate.forward(input)));
      output = this.proj.forward(output);
      output = dropout(output, this.projDrop, { training: options.training, random: this.#random });
      return { output, weights };
    });
  }
}
