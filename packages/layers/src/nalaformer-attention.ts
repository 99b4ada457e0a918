// NaLa: norm-aware linear attention, the token mixer of NaLaFormer.
//
// Meng et al., "NaLaFormer: Norm-Aware Linear Attention for Transformer Models", arXiv:2506.21137
// (the official code's docstring titles the ICML 2026 version "Norm x Direction: Restoring the Missing
// Query Norm in Vision Linear Attention"). Reference: ZacharyMeng/NaLaFormer, NaLaformer/NALA.py,
// `NormAwareLinearAttn` (commit 1f1c10a), with the 2-D rotary embedding of that file's `RoPE` and
// `theta_shift`; parameter names follow it. This is that code's formula, read from it:
//
//   q, k, v, g = split(qkvg(x))                  (qkvg: Linear(dim, 4 dim), blocks [q | k | v | g])
//   per head (headDim d):  k <- k^3
//   q+ = relu(q) / |q|,  q- = relu(-q) / |q|      (|q| the L2 norm of the head's query)
//   p  = 3 (0.5 + tanh(|q|))                      (the query norm sets the power: spikiness)
//   q+ <- (q+)^p,  q- <- (q-)^p,  k+ = relu(k),  k- = relu(-k)
//   phi(q) = [q+, q-],  phi(k) = [k+, k-]          (2d features, non-negative)
//   out = R(phi(q)) . (R(phi(k))^T v / N)  /  (phi(q) . mean_j phi(k_j) + 1e-6)
//         with R the 2-D rotary embedding (theta_shift) applied to each d-wide half
//   y = out_proj(LN(out + lepe(v)) * SiLU(g))     (lepe: 5x5 depthwise conv of v over the grid)
// The rotary embedding uses angle_i = 10000^(-i / (d/4 - 1)), i < d/4, each repeated twice; a token at
// grid row r, column c is rotated by [r angle, c angle] (d/2 angles each): d must be a multiple of 4.
//
// Token grid: lepe and the rotary embedding need the grid; pass `gridSize` in the forward options
// (see `TokenGridOptions`; a square count, or a prefix token and a square, is inferred). Prefix tokens
// (cls) are not rotated (angle 0) and get no lepe term; they are queries and keys like grid tokens.
// The reference computes in float32 inside autocast (`.float()`); this code computes in float32 too.
import { Module, type Random, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d } from './conv.js';
import { Linear } from './linear.js';
import { LayerNorm } from './normalization.js';
import { resolveTokenGrid, type TokenGridOptions } from './soft-attention.js';

export interface NalaformerAttentionOptions {
  dim: number;
  /** Default 8; dim / numHeads must be a multiple of 4 (the rotary embedding). */
  numHeads?: number;
  /** Bias on `qkvg` (default true, as the reference's nn.Linear). */
  qkvBias?: boolean;
  /** Bias on `out_proj` (default true). */
  projBias?: boolean;
  /** Kernel size of the depthwise `lepe` conv on v (default 5, the reference's; odd). */
  lepeKernelSize?: number;
  /** eps of `ln` (default 1e-5, torch's). */
  normEps?: number;
  random?: Random;
}

/** sin and cos tables [N, d] of the reference's 2-D `RoPE` for a grid, with `prefix` unrotated rows. */
export function rotaryTables(
  headDim: number,
  height: number,
  width: number,
  prefix = 0,
): { sin: tf.Tensor2D; cos: tf.Tensor2D } {
  const count = headDim / 4;
  const angles: number[] = [];
  for (let index = 0; index < count; index++) {
    // torch.linspace(0, 1, count): 0 when count is 1
    const exponent = count === 1 ? 0 : index / (count - 1);
    const angle = 1 / 10000 ** exponent;
    angles.push(angle, angle);
  }
  const rows = prefix + height * width;
  const sin = new Float32Array(rows * headDim);
  const cos = new Float32Array(rows * headDim).fill(1);
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      const offset = (prefix + row * width + column) * headDim;
      angles.forEach((angle, index) => {
        sin[offset + index] = Math.sin(row * angle);
        cos[offset + index] = Math.cos(row * angle);
        sin[offset + headDim / 2 + index] = Math.sin(column * angle);
        cos[offset + headDim / 2 + index] = Math.cos(column * angle);
      });
    }
  }
  return { sin: tf.tensor2d(sin, [rows, headDim]), cos: tf.tensor2d(cos, [rows, headDim]) };
}

/** The reference's `theta_shift`: x cos + rotate_every_two(x) sin, with (x0, x1) -> (-x1, x0) per pair. */
function thetaShift(x: tf.Tensor, sin: tf.Tensor, cos: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shape = x.shape;
    const last = shape[shape.length - 1]!;
    const pairs = tf.reshape(x, [...shape.slice(0, -1), last / 2, 2]);
    const [even, odd] = tf.split(pairs, 2, -1);
    const rotated = tf.reshape(tf.concat([tf.neg(odd!), even!], -1), shape);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  });
}

/**
 * Norm-aware linear attention (NaLa) on tokens [B, N, dim] -> [B, N, dim] (formulas in the file
 * header).
 *
 * State dict (the reference's `NormAwareLinearAttn`): `qkvg.weight` [4 dim, dim], `qkvg.bias`,
 * `lepe.weight` [dim, 1, 5, 5], `lepe.bias`, `out_proj.weight` [dim, dim], `out_proj.bias`,
 * `ln.weight`, `ln.bias`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { NalaformerAttention } from '@mlzoo/layers';
 *
 * const attention = new NalaformerAttention({ dim: 32, numHeads: 2 });
 * attention.forward(tf.zeros([2, 64, 32]), { gridSize: [8, 8] }).shape; // [2, 64, 32]
 * ```
 */
export class NalaformerAttention extends Module implements TensorModule {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly qkvg: Linear;
  readonly lepe: Conv2d;
  readonly out_proj: Linear;
  readonly ln: LayerNorm;

  constructor(options: NalaformerAttentionOptions) {
    super();
    const dim = options.dim;
    const numHeads = options.numHeads ?? 8;
    const kernelSize = options.lepeKernelSize ?? 5;
    const problems = [
      !(
        Number.isInteger(dim) &&
        Number.isInteger(numHeads) &&
        numHeads > 0 &&
        dim > 0 &&
        dim % numHeads === 0
      ) && `dim (${dim}) must be divisible by numHeads (${numHeads})`,
      dim % numHeads === 0 &&
        (dim / numHeads) % 4 !== 0 &&
        `the head width dim / numHeads (${dim / numHeads}) must be a multiple of 4 (2-D rotary embedding)`,
      !(Number.isInteger(kernelSize) && kernelSize > 0 && kernelSize % 2 === 1) &&
        `lepeKernelSize must be an odd positive integer, got ${kernelSize}`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`NalaformerAttention: ${problems.join('; ')}`);
    this.dim = dim;
    this.numHeads = numHeads;
    this.headDim = dim / numHeads;
    const random = options.random;
    this.qkvg = this.addModule(
      'qkvg',
      new Linear({ inFeatures: dim, outFeatures: 4 * dim, bias: options.qkvBias ?? true, random }),
    );
    this.lepe = this.addModule(
      'lepe',
      new Conv2d({
        inChannels: dim,
        outChannels: dim,
        kernelSize,
        padding: Math.floor(kernelSize / 2),
        groups: dim,
        random,
      }),
    );
    this.out_proj = this.addModule(
      'out_proj',
      new Linear({ inFeatures: dim, outFeatures: dim, bias: options.projBias ?? true, random }),
    );
    this.ln = this.addModule('ln', new LayerNorm({ normalizedShape: dim, eps: options.normEps ?? 1e-5 }));
  }

  forward(input: tf.Tensor, options: TokenGridOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', 'N', this.dim]);
    const [batch, tokens] = input.shape as [number, number, number];
    const { height, width, numPrefixTokens: prefix } = resolveTokenGrid(tokens, options, this.location);
    const { numHeads, headDim, dim } = this;
    return tf.tidy(() => {
      const [q, k, v, g] = tf.split(this.qkvg.forward(input), 4, -1) as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
      ];
      const gridTokens = height * width;
      const vGrid = prefix > 0 ? tf.slice(v, [0, prefix, 0], [batch, gridTokens, dim]) : v;
      let lepe = tf.reshape(this.lepe.forward(tf.reshape(vGrid, [batch, height, width, dim])), [
        batch,
        gridTokens,
        dim,
      ]);
      if (prefix > 0) lepe = tf.concat([tf.zeros([batch, prefix, dim]), lepe], 1);

      const splitHeads = (x: tf.Tensor) =>
        tf.transpose(tf.reshape(x, [batch, tokens, numHeads, headDim]), [0, 2, 1, 3]);
      const queries = splitHeads(q);
      const keys = splitHeads(tf.mul(tf.mul(k, k), k));
      const values = splitHeads(v);
      const queryNorm = tf.sqrt(tf.sum(tf.square(queries), -1, true)); // [B, H, N, 1]
      const power = tf.mul(tf.add(tf.tanh(queryNorm), 0.5), 3);
      const queryPositive = tf.pow(tf.div(tf.relu(queries), queryNorm), power);
      const queryNegative = tf.pow(tf.div(tf.relu(tf.neg(queries)), queryNorm), power);
      const keyPositive = tf.relu(keys);
      const keyNegative = tf.relu(tf.neg(keys));

      const { sin, cos } = rotaryTables(headDim, height, width, prefix);
      const rotatedQuery = tf.concat(
        [thetaShift(queryPositive, sin, cos), thetaShift(queryNegative, sin, cos)],
        -1,
      );
      const rotatedKey = tf.concat(
        [thetaShift(keyPositive, sin, cos), thetaShift(keyNegative, sin, cos)],
        -1,
      );
      const featureQuery = tf.concat([queryPositive, queryNegative], -1); // [B, H, N, 2d]
      const featureKey = tf.concat([keyPositive, keyNegative], -1);

      const normaliser = tf.div(
        1,
        tf.add(tf.matMul(featureQuery, tf.mean(featureKey, -2, true), false, true), 1e-6),
      ); // [B, H, N, 1]
      const keyValue = tf.mul(tf.matMul(rotatedKey, values, true, false), 1 / tokens); // [B, H, 2d, d]
      const heads = tf.mul(tf.matMul(rotatedQuery, keyValue), normaliser); // [B, H, N, d]
      const mixed = tf.add(tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [batch, tokens, dim]), lepe);
      const gated = tf.mul(this.ln.forward(mixed), tf.mul(g, tf.sigmoid(g)));
      return this.out_proj.forward(gated);
    });
  }
}
