// SOFT: softmax-free attention with a Gaussian kernel, Nystrom landmarks and a Newton-Raphson
// pseudo-inverse, linear in the number of tokens.
//
// Lu, Yao, Zhang, Zhu, Xu, Gao, Xiang, Xiang & Zhang, "SOFT: Softmax-free Transformer with Linear
// Complexity", NeurIPS 2021, arXiv:2110.11945. Reference: fudan-zvg/SOFT,
// models/softmax_free_transformer.py (`SoftmaxFreeAttention`, `SoftmaxFreeAttentionKernel`) and
// SOFT/kernel/inverse.py (`newton_inv`, `_NewtonInverseKernel`); parameter names follow them.
//
// For tokens x [B, N, dim], per head (headDim d):
//   q = W_q(x) / d^(1/4), v = W_v(x)                       (K = Q: there is no key projection)
//   landmarks q~ = GELU(LN(Qlandmark_op(q on the token grid)))  Conv2d(d, d, k = s = ratio), [L, d]
//   kernel(a, b) = exp(-|a - b|^2 / 2)
//   out = (kernel(q, q~) . pinv(kernel(q~, q~))) . (kernel(q, q~)^T . v)  (right to left: O(N L d))
//   out += depthwise conv over the token grid of v (`conv`, one k x k filter per head, shared by
//          the head's d channels), when convSize > 0
//   y = ff(heads concatenated)
// The pseudo-inverse is the reference's Newton-Raphson iteration: P = A + 0.01 I,
// V0 = alpha P with alpha = 0.9 * 2 / max_i(sum_j A_ij)^2 per matrix, then V <- 2V - V P V for
// `maxIter` steps; its gradient is the reference's custom backward, the gradient of an exact inverse
// evaluated at V: dA = -V^T dV V^T.
//
// Token grid: the landmark conv and the V conv need the grid. Pass `gridSize` [H, W] in the forward
// options; without it a square token count is read as a square grid, and a count one above a square
// as a prefix (cls) token followed by a square grid. Prefix tokens (`numPrefixTokens`, e.g. a cls
// token) take part as queries and as keys through kernel(q, q~), but not in the landmarks; their V
// conv term is their own value, as the reference's ratio-1 branch does for its cls token. (The
// reference's ratio-1 branch itself is not followed: it computes full N x N attention and reads an
// attribute it never sets; here ratio 1 is a 1x1 conv with one landmark per grid token.)
// Landmarks 'pool' (not in the reference) replaces the conv, LN and GELU by average pooling over
// ratio x ratio windows (Nystromformer-style segment means) and has no landmark parameters.
//
// Not implemented: the `SoftmaxFreeNormAttentionKernel` variant (symmetric normalisation with a
// data-dependent alpha search), the CUDA Gaussian-distance kernel (same values as this code).
import { type ForwardOptions, Module, type Random, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { gelu } from './activations.js';
import { Conv2d } from './conv.js';
import { Linear } from './linear.js';
import { LayerNorm } from './normalization.js';

/** Forward options of attentions that need the tokens' spatial layout (SOFT, NaLaFormer). */
export interface TokenGridOptions extends ForwardOptions {
  /**
   * The grid [H, W] the last H * W tokens lie on, row-major (as a patch embedding flattens them).
   * Default: inferred from the token count (a square, or one prefix token and a square).
   */
  gridSize?: readonly [number, number];
  /** Tokens before the grid (cls, distillation, registers). Default: N - H * W. */
  numPrefixTokens?: number;
}

/** Where the grid tokens are: `numPrefixTokens` prefix tokens, then a height x width grid. */
export interface TokenGrid {
  height: number;
  width: number;
  numPrefixTokens: number;
}

/**
 * Reads the token grid of `tokens` tokens from forward options (see `TokenGridOptions`); `where`
 * names the module in errors.
 */
export function resolveTokenGrid(tokens: number, options: TokenGridOptions, where: string): TokenGrid {
  const given = options.gridSize;
  if (given != null) {
    const [height, width] = given;
    if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
      throw new Error(`${where}: gridSize must be two positive integers, got [${given.join(', ')}]`);
    }
    const numPrefixTokens = options.numPrefixTokens ?? tokens - height * width;
    if (
      !(Number.isInteger(numPrefixTokens) && numPrefixTokens >= 0) ||
      numPrefixTokens + height * width !== tokens
    ) {
      throw new Error(
        `${where}: ${tokens} tokens do not hold a ${height}x${width} grid after ${numPrefixTokens} prefix tokens`,
      );
    }
    return { height, width, numPrefixTokens };
  }
  const candidates = options.numPrefixTokens != null ? [options.numPrefixTokens] : [0, 1];
  for (const numPrefixTokens of candidates) {
    const side = Math.round(Math.sqrt(tokens - numPrefixTokens));
    if (side > 0 && side * side === tokens - numPrefixTokens)
      return { height: side, width: side, numPrefixTokens };
  }
  throw new Error(
    `${where}: cannot infer a square token grid from ${tokens} tokens; pass gridSize [H, W] (and numPrefixTokens) in the forward options`,
  );
}

/** Squared Euclidean distances |a_i - b_j|^2 [..., Na, Nb] (the reference's subtraction kernel). */
function squaredDistances(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const aSquared = tf.sum(tf.square(a), -1, true); // [..., Na, 1]
    const bSquared = tf.expandDims(tf.sum(tf.square(b), -1), -2); // [..., 1, Nb]
    return tf.sub(tf.add(aSquared, bSquared), tf.mul(tf.matMul(a, b, false, true), 2));
  });
}

/** Gaussian kernel exp(-|a_i - b_j|^2 / 2) [..., Na, Nb]. */
export function gaussianKernel(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.exp(tf.mul(squaredDistances(a, b), -0.5)));
}

/**
 * Newton-Raphson approximation of the inverse of each square matrix in `matrices` [..., L, L], as
 * SOFT's `newton_inv`: P = A + 0.01 I, V0 = 1.8 / max_i(rowsum_i)^2 * P, V <- 2V - V P V
 * (`iterations` times). The gradient is that of an exact inverse at the result (dA = -V^T dV V^T),
 * as the reference's `_NewtonInverseKernel.backward`.
 */
export function newtonInverse(matrices: tf.Tensor, iterations = 20): tf.Tensor {
  const size = matrices.shape[matrices.rank - 1]!;
  if (matrices.rank < 2 || matrices.shape[matrices.rank - 2] !== size) {
    throw new Error(
      `newtonInverse: expected square matrices [..., L, L], got [${matrices.shape.join(', ')}]`,
    );
  }
  if (!(Number.isInteger(iterations) && iterations >= 0)) {
    throw new Error(`newtonInverse: iterations must be a non-negative integer, got ${iterations}`);
  }
  const inverse = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const a = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const p = tf.add(a, tf.mul(tf.eye(size), 0.01));
    const rowSums = tf.sum(a, -1, true); // [..., L, 1]
    const alpha = tf.div(1.8, tf.square(tf.max(rowSums, -2, true))); // [..., 1, 1]
    let v = tf.mul(alpha, p);
    for (let step = 0; step < iterations; step++) {
      v = tf.sub(tf.mul(v, 2), tf.matMul(tf.matMul(v, p), v));
    }
    save([v]);
    return {
      value: v,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const result = saved[0]!;
        return tf.neg(tf.matMul(tf.matMul(result, dy, true, false), result, false, true));
      },
    };
  });
  return tf.tidy(() => inverse(matrices));
}

export interface SoftAttentionOptions {
  dim: number;
  /** Default 8; must divide dim. */
  numHeads?: number;
  /** Bias on `W_q` and `W_v` (default true, as the reference's nn.Linear). */
  qkvBias?: boolean;
  /** Bias on `ff`, the output projection (default true). */
  projBias?: boolean;
  /** Landmark window: kernel = stride = ratio over the token grid (reference `ratio`, default 2). */
  ratio?: number;
  /** 'conv' (default, the reference: Conv2d + LayerNorm + GELU) or 'pool' (average pooling). */
  landmarks?: 'conv' | 'pool';
  /** Kernel size of the depthwise V conv (reference `conv_size`, default 3; 0 disables it; odd). */
  convSize?: number;
  /** Newton-Raphson iterations (reference `max_iter`, default 20). */
  maxIter?: number;
  /** eps of the landmark LayerNorm (default 1e-5, torch's). */
  normEps?: number;
  random?: Random;
}

/**
 * SOFT attention on tokens [B, N, dim] -> [B, N, dim] (see the file header for the formulas).
 *
 * State dict (the reference's `SoftmaxFreeAttention`): `W_q.weight` [dim, dim], `W_q.bias`,
 * `W_v.weight`, `W_v.bias`, `attn.Qlandmark_op.weight` [d, d, ratio, ratio] and
 * `attn.Qnorm_act.0.{weight,bias}` [d] (landmarks 'conv'), `attn.conv.weight` [heads, 1, k, k]
 * (convSize > 0), `ff.weight` [dim, dim], `ff.bias`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { SoftAttention } from '@mlzoo/layers';
 *
 * const attention = new SoftAttention({ dim: 32, numHeads: 4, ratio: 2 });
 * attention.forward(tf.zeros([2, 64, 32]), { gridSize: [8, 8] }).shape; // [2, 64, 32]
 * ```
 */
export class SoftAttention extends Module implements TensorModule {
  readonly dim: number;
  readonly numHeads: number;
  readonly headDim: number;
  readonly ratio: number;
  readonly landmarks: 'conv' | 'pool';
  readonly convSize: number;
  readonly maxIter: number;
  readonly W_q: Linear;
  readonly W_v: Linear;
  readonly attn: SoftAttentionKernel;
  readonly ff: Linear;

  constructor(options: SoftAttentionOptions) {
    super();
    const dim = options.dim;
    const numHeads = options.numHeads ?? 8;
    const ratio = options.ratio ?? 2;
    const landmarks = options.landmarks ?? 'conv';
    const convSize = options.convSize ?? 3;
    const maxIter = options.maxIter ?? 20;
    const problems = [
      !(
        Number.isInteger(dim) &&
        Number.isInteger(numHeads) &&
        numHeads > 0 &&
        dim > 0 &&
        dim % numHeads === 0
      ) && `dim (${dim}) must be divisible by numHeads (${numHeads})`,
      !(Number.isInteger(ratio) && ratio > 0) && `ratio must be a positive integer, got ${ratio}`,
      landmarks !== 'conv' &&
        landmarks !== 'pool' &&
        `landmarks must be 'conv' or 'pool', got '${String(landmarks)}'`,
      !(Number.isInteger(convSize) && convSize >= 0 && (convSize === 0 || convSize % 2 === 1)) &&
        `convSize must be 0 or an odd positive integer, got ${convSize}`,
      !(Number.isInteger(maxIter) && maxIter >= 0) &&
        `maxIter must be a non-negative integer, got ${maxIter}`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`SoftAttention: ${problems.join('; ')}`);
    this.dim = dim;
    this.numHeads = numHeads;
    this.headDim = dim / numHeads;
    this.ratio = ratio;
    this.landmarks = landmarks;
    this.convSize = convSize;
    this.maxIter = maxIter;
    const random = options.random;
    const bias = options.qkvBias ?? true;
    this.W_q = this.addModule('W_q', new Linear({ inFeatures: dim, outFeatures: dim, bias, random }));
    this.W_v = this.addModule('W_v', new Linear({ inFeatures: dim, outFeatures: dim, bias, random }));
    this.attn = this.addModule(
      'attn',
      new SoftAttentionKernel({
        headDim: this.headDim,
        numHeads,
        ratio,
        landmarks,
        convSize,
        maxIter,
        normEps: options.normEps ?? 1e-5,
        random,
      }),
    );
    this.ff = this.addModule(
      'ff',
      new Linear({ inFeatures: dim, outFeatures: dim, bias: options.projBias ?? true, random }),
    );
  }

  forward(input: tf.Tensor, options: TokenGridOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', 'N', this.dim]);
    const [batch, tokens] = input.shape as [number, number, number];
    const grid = resolveTokenGrid(tokens, options, this.location);
    const { numHeads, headDim } = this;
    return tf.tidy(() => {
      const splitHeads = (x: tf.Tensor) =>
        tf.transpose(tf.reshape(x, [batch, tokens, numHeads, headDim]), [0, 2, 1, 3]);
      const q = splitHeads(this.W_q.forward(input));
      const v = splitHeads(this.W_v.forward(input));
      const heads = this.attn.forward(q, v, grid); // [B, H, N, d]
      return this.ff.forward(tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [batch, tokens, this.dim]));
    });
  }
}

interface SoftAttentionKernelOptions {
  headDim: number;
  numHeads: number;
  ratio: number;
  landmarks: 'conv' | 'pool';
  convSize: number;
  maxIter: number;
  normEps: number;
  random?: Random;
}

/** The reference's `SoftmaxFreeAttentionKernel`: landmarks, kernels, pseudo-inverse, V conv. */
export class SoftAttentionKernel extends Module {
  readonly headDim: number;
  readonly numHeads: number;
  readonly ratio: number;
  readonly maxIter: number;
  readonly Qlandmark_op: Conv2d | null;
  readonly Qnorm_act: Module | null;
  readonly #norm: LayerNorm | null;
  readonly conv: Conv2d | null;

  constructor(options: SoftAttentionKernelOptions) {
    super();
    const { headDim, numHeads, ratio, random } = options;
    this.headDim = headDim;
    this.numHeads = numHeads;
    this.ratio = ratio;
    this.maxIter = options.maxIter;
    if (options.landmarks === 'conv') {
      this.Qlandmark_op = this.addModule(
        'Qlandmark_op',
        new Conv2d({
          inChannels: headDim,
          outChannels: headDim,
          kernelSize: ratio,
          stride: ratio,
          bias: false,
          random,
        }),
      );
      // nn.Sequential(LayerNorm, GELU): the LayerNorm is child '0'
      const sequence = new NormActivation();
      this.#norm = sequence.setNorm(new LayerNorm({ normalizedShape: headDim, eps: options.normEps }));
      this.Qnorm_act = this.addModule('Qnorm_act', sequence);
    } else {
      this.Qlandmark_op = null;
      this.Qnorm_act = null;
      this.#norm = null;
    }
    this.conv =
      options.convSize > 0
        ? this.addModule(
            'conv',
            new Conv2d({
              inChannels: numHeads,
              outChannels: numHeads,
              kernelSize: options.convSize,
              padding: Math.floor(options.convSize / 2),
              groups: numHeads,
              bias: false,
              random,
            }),
          )
        : null;
  }

  /** q, v [B, H, N, d] -> [B, H, N, d]. */
  forward(q: tf.Tensor, v: tf.Tensor, grid: TokenGrid): tf.Tensor {
    const [batch, heads, , headDim] = q.shape as [number, number, number, number];
    const { height, width, numPrefixTokens: prefix } = grid;
    if (height < this.ratio || width < this.ratio) {
      throw new Error(
        `${this.location}: the ${height}x${width} token grid is smaller than ratio ${this.ratio}`,
      );
    }
    return tf.tidy(() => {
      const scaled = tf.mul(q, headDim ** -0.25);
      const gridTokens = height * width;
      const onGrid = (x: tf.Tensor) =>
        prefix > 0 ? tf.slice(x, [0, 0, prefix, 0], [batch, heads, gridTokens, headDim]) : x;
      const qImage = tf.reshape(onGrid(scaled), [batch * heads, height, width, headDim]);
      let landmarks: tf.Tensor;
      if (this.Qlandmark_op && this.#norm) {
        landmarks = tf.reshape(this.Qlandmark_op.forward(qImage), [batch, heads, -1, headDim]);
        landmarks = gelu(this.#norm.forward(landmarks));
      } else {
        const pooled = tf.avgPool(qImage as tf.Tensor4D, this.ratio, this.ratio, 'valid');
        landmarks = tf.reshape(pooled, [batch, heads, -1, headDim]);
      }
      const kernelTokens = gaussianKernel(scaled, landmarks); // [B, H, N, L]
      const kernelLandmarks = gaussianKernel(landmarks, landmarks); // [B, H, L, L]
      const inverse = newtonInverse(kernelLandmarks, this.maxIter);
      let output = tf.matMul(
        tf.matMul(kernelTokens, inverse),
        tf.matMul(kernelTokens, v, true, false), // [B, H, L, d]
      );
      if (this.conv) {
        // [B, H, P, d] -> [B * d, h, w, H]: one k x k filter per head over the grid, shared by its d channels
        const vImage = tf.reshape(tf.transpose(onGrid(v), [0, 3, 2, 1]), [
          batch * headDim,
          height,
          width,
          heads,
        ]);
        const convolved = tf.transpose(
          tf.reshape(this.conv.forward(vImage), [batch, headDim, gridTokens, heads]),
          [0, 3, 2, 1],
        );
        const local =
          prefix > 0
            ? tf.concat([tf.slice(v, [0, 0, 0, 0], [batch, heads, prefix, headDim]), convolved], 2)
            : convolved;
        output = tf.add(output, local);
      }
      return output;
    });
  }
}

/** `nn.Sequential(nn.LayerNorm(d), nn.GELU())`: holds the norm as child '0' (GELU has no parameters). */
class NormActivation extends Module {
  setNorm(norm: LayerNorm): LayerNorm {
    return this.addModule('0', norm);
  }
}
