// Sharpness: the largest eigenvalue of the loss Hessian by power iteration on Hessian-vector products,
// the measure "When Vision Transformers Outperform ResNets without Pre-training or Strong Data
// Augmentations" (Chen, Hsieh, Gong, ICLR 2022, arXiv:2106.01548) uses to show that SAM reaches flatter
// minima (PyHessian, Yao et al. 2020, arXiv:1912.07145, computes it the same way).
//
// Two Hessian-vector products:
// - 'finite-difference' (default): Hv ≈ (∇L(w + h·v) − ∇L(w − h·v)) / 2h with ‖v‖ = 1. Works for every
//   model tfjs can differentiate once.
// - 'exact': the gradient of ∇L·v (double backprop). In tfjs-core 4.22 it only works when every op's
//   gradient is itself differentiable: matMul, conv2d, add/sub/mul/div, square, sqrt, rsqrt, pow, log,
//   erf (exact GELU), relu, abs, maximum, moments (LayerNorm), slice, concat, gather (cpu; its gradient
//   needs UnsortedSegmentSum, missing on wasm), transpose, cumsum,
//   sin, softplus. It fails for ops whose gradient reuses their saved output or needs a missing kernel
//   gradient: exp, tanh, sigmoid, elu, softmax, logSoftmax (so softmax cross-entropy), logSumExp and max
//   (Equal), leakyRelu (Greater), prod (Cumprod), avgPool (AvgPoolGrad). test/sharpness.test.ts checks
//   both lists.
//
// A batch too large for one forward and backward pass (the wasm heap holds ~128 Mixer images) is split
// into chunks: the loss is then a list of `WeightedLoss` pieces, L = Σ weight·loss_i, and every gradient
// and Hessian-vector product is the same weighted sum of the chunks' (exact, since both are linear in L).
// `lossChunks` builds the pieces of a mean loss over a batch, weighting each chunk by its share.
import * as tf from '@tensorflow/tfjs-core';

/** One term of a loss that is a weighted sum of pieces: L = Σ weight · loss(). */
export interface WeightedLoss {
  /** The piece (deterministic: no dropout), a closure over the variables. */
  loss: () => tf.Scalar;
  weight: number;
}

/** A loss for the sharpness tools: one closure, or weighted pieces evaluated one after another. */
export type SharpnessLoss = (() => tf.Scalar) | readonly WeightedLoss[];

/**
 * The pieces of a mean loss over a batch in chunks of at most `chunkSize` rows: chunk i gets the weight
 * rows_i / rows, so Σ weight·loss(chunk) is `loss(inputs, targets)` when `loss` averages over rows. The
 * chunks are sliced inside each closure, so only one chunk's activations exist at a time.
 *
 * @example
 * ```ts
 * const chunks = lossChunks(images, labels, 128, (x, y) => crossEntropy(model.forward(x), y));
 * const { eigenvalue } = hessianTopEigenvalue(chunks, model.parameters());
 * ```
 */
export function lossChunks(
  inputs: tf.Tensor,
  targets: tf.Tensor,
  chunkSize: number,
  loss: (inputs: tf.Tensor, targets: tf.Tensor) => tf.Scalar,
): WeightedLoss[] {
  const rows = inputs.shape[0]!;
  if (!Number.isInteger(chunkSize) || chunkSize < 1)
    throw new Error(`lossChunks: chunkSize must be a positive integer, got ${chunkSize}`);
  if (targets.shape[0] !== rows)
    throw new Error(`lossChunks: ${rows} inputs but ${targets.shape[0]} targets (first dimensions differ)`);
  if (rows === 0) throw new Error('lossChunks: the batch is empty');
  const pieces: WeightedLoss[] = [];
  for (let start = 0; start < rows; start += chunkSize) {
    const size = Math.min(chunkSize, rows - start);
    pieces.push({
      loss: () => tf.tidy(() => loss(tf.slice(inputs, start, size), tf.slice(targets, start, size))),
      weight: size / rows,
    });
  }
  return pieces;
}

function piecesOf(where: string, loss: SharpnessLoss): readonly WeightedLoss[] {
  if (typeof loss === 'function') return [{ loss, weight: 1 }];
  if (loss.length === 0) throw new Error(`${where}: the loss has no pieces`);
  for (const [index, piece] of loss.entries()) {
    if (typeof piece.loss !== 'function' || !Number.isFinite(piece.weight))
      throw new Error(`${where}: piece ${index} needs a loss function and a finite weight`);
  }
  return loss;
}

/** Adds `weight`·`parts` into `total` (consuming both), or returns the weighted parts when there is no total. */
function accumulate(total: tf.Tensor[] | undefined, parts: tf.Tensor[], weight: number): tf.Tensor[] {
  const next = tf.tidy(() =>
    parts.map((part, index) => {
      const weighted = weight === 1 ? tf.clone(part) : tf.mul(part, weight);
      return total ? tf.add(total[index]!, weighted) : weighted;
    }),
  );
  tf.dispose(parts);
  if (total) tf.dispose(total);
  return next;
}

/** Σ weight·gradient of the pieces at the current variable values (zeros for unused variables). */
function gradientOf(pieces: readonly WeightedLoss[], list: tf.Variable[]): tf.Tensor[] {
  let total: tf.Tensor[] | undefined;
  for (const piece of pieces) {
    const parts = tf.tidy(() => {
      const { value, grads } = tf.variableGrads(piece.loss, list);
      value.dispose();
      return list.map((variable) => grads[variable.name] ?? tf.zerosLike(variable));
    });
    total = accumulate(total, parts, piece.weight);
  }
  return total!;
}

/** The loss value Σ weight·loss() (one piece at a time). */
export function evaluateLoss(loss: SharpnessLoss): number {
  let total = 0;
  for (const piece of piecesOf('evaluateLoss', loss)) {
    total += piece.weight * tf.tidy(() => piece.loss().dataSync()[0]!);
  }
  return total;
}

export interface HessianVectorOptions {
  /** 'finite-difference' (default) or 'exact' (double backprop; see the op list above). */
  method?: 'finite-difference' | 'exact';
  /** Finite-difference step along the unit direction (default 1e-3). */
  step?: number;
}

export interface HessianEigenvalueOptions extends HessianVectorOptions {
  /** Power-iteration steps at most (default 20). */
  iterations?: number;
  /** Stop when the estimate changes by less than tolerance·|λ| (default 1e-3). */
  tolerance?: number;
  /** Seed of the random start vector (default 0). */
  seed?: number;
  /**
   * Iterate on H − shift·I instead of H (default 0). Power iteration finds the eigenvalue of largest
   * magnitude; away from a minimum that can be a negative one (λ_min). Run it again with `shift` at
   * or below that λ_min and it finds the largest eigenvalue λ_max instead. The estimates reported are
   * Rayleigh quotients of H itself.
   */
  shift?: number;
}

export interface HessianEigenvalueResult {
  /** The eigenvalue of largest magnitude (the top eigenvalue near a minimum). */
  eigenvalue: number;
  /** Estimate after each iteration. */
  history: number[];
  converged: boolean;
}

/**
 * H·v for the loss `loss` (a closure over `variables`, deterministic: no dropout; or weighted pieces, see
 * `lossChunks`) at the current variable values; `vector` has one tensor per variable. Returns new
 * tensors; the variables end as they started.
 */
export function hessianVectorProduct(
  loss: SharpnessLoss,
  variables: readonly tf.Variable[],
  vector: readonly tf.Tensor[],
  options: HessianVectorOptions = {},
): tf.Tensor[] {
  if (vector.length !== variables.length)
    throw new Error(`hessianVectorProduct: ${variables.length} variables but ${vector.length} vector parts`);
  const pieces = piecesOf('hessianVectorProduct', loss);
  const list = [...variables];
  if ((options.method ?? 'finite-difference') === 'exact') {
    let total: tf.Tensor[] | undefined;
    for (const piece of pieces) {
      const parts = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          const inner = tf.variableGrads(piece.loss, list);
          return tf.addN(
            list.map((variable, index) => tf.sum(tf.mul(inner.grads[variable.name]!, vector[index]!))),
          ) as tf.Scalar;
        }, list);
        value.dispose();
        return list.map((variable) => grads[variable.name] ?? tf.zerosLike(variable));
      });
      total = accumulate(total, parts, piece.weight);
    }
    return total!;
  }
  const step = options.step ?? 1e-3;
  if (!(step > 0)) throw new Error(`hessianVectorProduct: step must be positive, got ${step}`);
  return tf.tidy(() => {
    const originals = list.map((variable) => tf.clone(variable));
    const norm = tf.sqrt(tf.addN(vector.map((part) => tf.sum(tf.square(part)))));
    const unit = vector.map((part) => tf.div(part, norm));
    const gradientAt = (sign: number) => {
      list.forEach((variable, index) => {
        variable.assign(tf.add(originals[index]!, tf.mul(unit[index]!, sign * step)));
      });
      return gradientOf(pieces, list);
    };
    try {
      const plus = gradientAt(1);
      const minus = gradientAt(-1);
      return plus.map((gradient, index) => tf.mul(tf.div(tf.sub(gradient, minus[index]!), 2 * step), norm));
    } finally {
      list.forEach((variable, index) => {
        variable.assign(originals[index]!);
      });
    }
  });
}

/**
 * Top Hessian eigenvalue of `loss` with respect to `variables` by power iteration on Hessian-vector
 * products (random start from `seed`). `loss` is one closure or weighted pieces (`lossChunks` splits a
 * batch too large for one pass; the result is the same up to float rounding).
 *
 * @example
 * ```ts
 * const { eigenvalue } = hessianTopEigenvalue(() => crossEntropy(model.forward(x), y), model.parameters());
 * ```
 */
export function hessianTopEigenvalue(
  loss: SharpnessLoss,
  variables: readonly tf.Variable[],
  options: HessianEigenvalueOptions = {},
): HessianEigenvalueResult {
  const iterations = options.iterations ?? 20;
  const tolerance = options.tolerance ?? 1e-3;
  if (!Number.isInteger(iterations) || iterations < 1)
    throw new Error(`hessianTopEigenvalue: iterations must be a positive integer, got ${iterations}`);
  if (variables.length === 0) throw new Error('hessianTopEigenvalue: no variables');
  const seed = options.seed ?? 0;
  const shift = options.shift ?? 0;
  if (!Number.isFinite(shift)) throw new Error(`hessianTopEigenvalue: shift must be finite, got ${shift}`);
  let vector = tf.tidy(() => {
    const parts = variables.map((variable, index) =>
      tf.randomNormal(variable.shape, 0, 1, 'float32', seed + index),
    );
    const norm = tf.sqrt(tf.addN(parts.map((part) => tf.sum(tf.square(part)))));
    return parts.map((part) => tf.div(part, norm));
  });
  const history: number[] = [];
  let converged = false;
  try {
    for (let iteration = 0; iteration < iterations; iteration++) {
      const product = hessianVectorProduct(loss, variables, vector, options);
      const [eigenvalue, next] = tf.tidy(() => {
        const rayleigh = tf.addN(product.map((part, index) => tf.sum(tf.mul(part, vector[index]!))));
        const shifted =
          shift === 0 ? product : product.map((part, index) => tf.sub(part, tf.mul(vector[index]!, shift)));
        const norm = tf.sqrt(tf.addN(shifted.map((part) => tf.sum(tf.square(part)))));
        return [rayleigh, shifted.map((part) => tf.div(part, tf.add(norm, 1e-30)))] as const;
      });
      const value = eigenvalue.dataSync()[0]!;
      tf.dispose([eigenvalue, ...product, ...vector]);
      vector = next as tf.Tensor[];
      const previous = history[history.length - 1];
      history.push(value);
      if (previous != null && Math.abs(value - previous) < tolerance * Math.abs(value)) {
        converged = true;
        break;
      }
    }
  } finally {
    tf.dispose(vector);
  }
  return { eigenvalue: history[history.length - 1]!, history, converged };
}
