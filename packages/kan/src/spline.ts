// B-splines as pykan computes them (KindXiaoming/pykan, kan/spline.py): Cox-de Boor basis on an
// extended grid (`B_batch`), coefficients to curve (`coef2curve`), curve to coefficients by least
// squares (`curve2coef`) and grid extension (`extend_grid`).
//
// The tensor functions (bsplineBasis) run in tfjs and carry gradients to x. The least-squares fits
// (grid update, refinement, initialisation) run in float64 JavaScript: the systems are tiny,
// (G + k) x (G + k) per input, and tfjs has no lstsq. pykan solves them with
// `(XᵀX + λI)⁻¹ Xᵀy`, λ = 1e-8 (spline.py's `curve2coef(..., lamb=1e-8)`); we solve the same ridge
// system by Cholesky.
import * as tf from '@tensorflow/tfjs-core';

/** Knots per input row of a grid of `gridSize` intervals extended by `splineOrder` knots each side. */
export function numKnots(gridSize: number, splineOrder: number): number {
  return gridSize + 2 * splineOrder + 1;
}

/**
 * pykan's `extend_grid`: adds `k` knots on each side of every row with the row's mean spacing
 * h = (last - first) / (knots - 1). `grid` is [rows][knots]; returns new rows.
 */
export function extendGrid(grid: readonly (readonly number[])[], k: number): number[][] {
  return grid.map((row) => {
    const first = row[0]!;
    const last = row[row.length - 1]!;
    const h = (last - first) / (row.length - 1);
    const left = Array.from({ length: k }, (_, index) => first - (k - index) * h);
    const right = Array.from({ length: k }, (_, index) => last + (index + 1) * h);
    return [...left, ...row, ...right];
  });
}

/** The uniform extended grid pykan's KANLayer starts from: linspace(range, G + 1) extended by k, per row. */
export function uniformGrid(
  rows: number,
  gridSize: number,
  k: number,
  range: readonly [number, number],
): number[][] {
  const [low, high] = range;
  const row = Array.from({ length: gridSize + 1 }, (_, index) => low + ((high - low) * index) / gridSize);
  return extendGrid(
    Array.from({ length: rows }, () => row),
    k,
  );
}

/**
 * B-spline basis B_m(x_i) of order k for every input column, as pykan's `B_batch`:
 * x [B, in], grid [in, G + 2k + 1] -> [B, in, G + k]. Values outside the extended grid are 0; degenerate
 * knot spans (0/0) give 0 as pykan's `nan_to_num`. Differentiable in x (the knots are constants).
 */
export function bsplineBasis(x: tf.Tensor, grid: tf.Tensor, k: number): tf.Tensor {
  return tf.tidy(() => {
    const knots = grid.shape[1]!;
    const xe = tf.expandDims(x, 2); // [B, in, 1]
    const g = tf.expandDims(grid, 0); // [1, in, M]
    const sliceKnots = (start: number, size: number) => tf.slice(g, [0, 0, start], [-1, -1, size]);
    // order 0: 1[t_m <= x < t_{m+1}] = 1[x >= t_m] · (1 - 1[x >= t_{m+1}]), from ops with (zero) gradients
    const atLeast = (start: number) => tf.cast(tf.greaterEqual(xe, sliceKnots(start, knots - 1)), 'float32');
    let basis = tf.mul(atLeast(0), tf.sub(1, atLeast(1)));
    for (let order = 1; order <= k; order++) {
      const count = knots - 1 - order; // basis functions of this order
      const left = sliceKnots(0, count); // t_m
      const leftTop = sliceKnots(order, count); // t_{m+order}
      const right = sliceKnots(order + 1, count); // t_{m+order+1}
      const rightBottom = sliceKnots(1, count); // t_{m+1}
      const lower = tf.slice(basis, [0, 0, 0], [-1, -1, count]);
      const upper = tf.slice(basis, [0, 0, 1], [-1, -1, count]);
      basis = tf.add(
        tf.mul(safeDivide(tf.sub(xe, left), tf.sub(leftTop, left)), lower),
        tf.mul(safeDivide(tf.sub(right, xe), tf.sub(right, rightBottom)), upper),
      );
    }
    return basis;
  });
}

/** numerator / denominator, with 0 where the denominator is 0 (pykan's nan_to_num of 0/0). */
function safeDivide(numerator: tf.Tensor, denominator: tf.Tensor): tf.Tensor {
  const zero = tf.equal(denominator, 0);
  const reciprocal = tf.where(
    zero,
    tf.zerosLike(denominator),
    tf.div(1, tf.where(zero, tf.onesLike(denominator), denominator)),
  );
  return tf.mul(numerator, reciprocal);
}

/** B-spline basis values of one scalar x on one extended knot row (float64 JavaScript), length knots - k - 1. */
export function bsplineBasisRow(x: number, knots: ArrayLike<number>, k: number): Float64Array {
  const count0 = knots.length - 1;
  let basis = new Float64Array(count0);
  for (let m = 0; m < count0; m++) basis[m] = x >= knots[m]! && x < knots[m + 1]! ? 1 : 0;
  for (let order = 1; order <= k; order++) {
    const count = knots.length - 1 - order;
    const next = new Float64Array(count);
    for (let m = 0; m < count; m++) {
      const leftSpan = knots[m + order]! - knots[m]!;
      const rightSpan = knots[m + order + 1]! - knots[m + 1]!;
      const left = leftSpan === 0 ? 0 : ((x - knots[m]!) / leftSpan) * basis[m]!;
      const right = rightSpan === 0 ? 0 : ((knots[m + order + 1]! - x) / rightSpan) * basis[m + 1]!;
      next[m] = left + right;
    }
    basis = next;
  }
  return basis;
}

/**
 * pykan's `curve2coef` for one input row: the coefficients c [outputs][G + k] minimising
 * Σ_s (Σ_m c_m B_m(x_s) - y_s)² + λ|c|², for every output column of `targets` ([samples][outputs]).
 */
export function fitSplineCoefficients(
  samples: ArrayLike<number>,
  targets: readonly ArrayLike<number>[],
  knots: ArrayLike<number>,
  k: number,
  lambda = 1e-8,
): Float64Array[] {
  const size = knots.length - k - 1;
  const outputs = targets[0]?.length ?? 0;
  const gram = new Float64Array(size * size);
  const rhs = Array.from({ length: outputs }, () => new Float64Array(size));
  for (let s = 0; s < samples.length; s++) {
    const row = bsplineBasisRow(samples[s]!, knots, k);
    for (let a = 0; a < size; a++) {
      const va = row[a]!;
      if (va === 0) continue;
      for (let b = 0; b < size; b++) gram[a * size + b]! += va * row[b]!;
      const target = targets[s]!;
      for (let o = 0; o < outputs; o++) rhs[o]![a]! += va * target[o]!;
    }
  }
  for (let a = 0; a < size; a++) gram[a * size + a]! += lambda;
  const factor = cholesky(gram, size);
  return rhs.map((vector) => choleskySolve(factor, size, vector));
}

/** Lower Cholesky factor of a symmetric positive definite matrix (row-major, n x n). */
export function cholesky(matrix: Float64Array, n: number): Float64Array {
  const lower = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = matrix[i * n + j]!;
      for (let p = 0; p < j; p++) sum -= lower[i * n + p]! * lower[j * n + p]!;
      if (i === j) lower[i * n + i] = Math.sqrt(Math.max(sum, 1e-300));
      else lower[i * n + j] = sum / lower[j * n + j]!;
    }
  }
  return lower;
}

/** Solves L Lᵀ z = b for z given the Cholesky factor L. */
export function choleskySolve(lower: Float64Array, n: number, b: ArrayLike<number>): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i]!;
    for (let p = 0; p < i; p++) sum -= lower[i * n + p]! * y[p]!;
    y[i] = sum / lower[i * n + i]!;
  }
  const z = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let p = i + 1; p < n; p++) sum -= lower[p * n + i]! * z[p]!;
    z[i] = sum / lower[i * n + i]!;
  }
  return z;
}

/** Dense least squares min |A z - b|² + λ|z|² (A row-major [rows][n]) by normal equations. */
export function leastSquares(
  rows: readonly ArrayLike<number>[],
  b: ArrayLike<number>,
  lambda = 1e-10,
): Float64Array {
  const n = rows[0]?.length ?? 0;
  const gram = new Float64Array(n * n);
  const rhs = new Float64Array(n);
  rows.forEach((row, index) => {
    for (let a = 0; a < n; a++) {
      rhs[a]! += row[a]! * b[index]!;
      for (let c = 0; c < n; c++) gram[a * n + c]! += row[a]! * row[c]!;
    }
  });
  for (let a = 0; a < n; a++) gram[a * n + a]! += lambda;
  return choleskySolve(cholesky(gram, n), n, rhs);
}

/**
 * The data-adaptive grid of pykan's `update_grid_from_samples` for one input column: G + 1 sample
 * quantiles (ids ⌊batch/G · i⌋ and the last sample) mixed with the uniform grid over [min, max]:
 * grid = ε · uniform + (1 - ε) · adaptive. `sorted` must be ascending.
 */
export function adaptiveGridRow(sorted: ArrayLike<number>, gridSize: number, gridEps: number): number[] {
  const batch = sorted.length;
  const ids = Array.from({ length: gridSize }, (_, index) => Math.floor((batch / gridSize) * index));
  ids.push(batch - 1);
  const adaptive = ids.map((id) => sorted[id]!);
  const first = adaptive[0]!;
  const h = (adaptive[gridSize]! - first) / gridSize;
  return adaptive.map((value, index) => gridEps * (first + h * index) + (1 - gridEps) * value);
}
