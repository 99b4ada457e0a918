// Basis families of a KAN edge: each maps x [B, in] to basis values [B, in, numBasis], and an edge is
// φ(x) = scale_base · b(x) + scale_sp · Σ_m coef_m · basis_m(x).
//   bspline   pykan (Liu et al. 2024, arXiv 2404.19756): B-splines of order k on an extended grid
//   rbf       FastKAN (Li 2024, arXiv 2405.06721; ZiyaoLi/fast-kan): exp(-((x - c_m) / h)²)
//   chebyshev ChebyKAN (SynodicMonth/ChebyKAN): T_0..T_d of tanh(x)
//   fourier   FourierKAN (GistNoesis/FourierKAN): cos(k x), sin(k x), k = 1..G
//   jacobi    JacobiKAN (SpaceLearner/JacobiKAN, also in SeriYann/KANConv2d): P_0..P_d^(α,β) of tanh(x)
import * as tf from '@tensorflow/tfjs-core';
import { bsplineBasis } from './spline.js';

export type BasisName = 'bspline' | 'rbf' | 'chebyshev' | 'fourier' | 'jacobi';

export const BASIS_NAMES: readonly BasisName[] = ['bspline', 'rbf', 'chebyshev', 'fourier', 'jacobi'];

/** Number of basis functions per edge. */
export function numBasisFunctions(
  basis: BasisName,
  gridSize: number,
  splineOrder: number,
  degree: number,
): number {
  switch (basis) {
    case 'bspline':
      return gridSize + splineOrder;
    case 'rbf':
      return gridSize;
    case 'fourier':
      return 2 * gridSize;
    case 'chebyshev':
    case 'jacobi':
      return degree + 1;
  }
}

/** Gaussian RBF values [B, in, G] for centres `centers` [in, G] and width h. */
export function rbfBasis(x: tf.Tensor, centers: tf.Tensor, width: number): tf.Tensor {
  return tf.tidy(() =>
    tf.exp(tf.neg(tf.square(tf.div(tf.sub(tf.expandDims(x, 2), tf.expandDims(centers, 0)), width)))),
  );
}

/** Chebyshev polynomials T_0..T_degree of tanh(x): [B, in, degree + 1]. */
export function chebyshevBasis(x: tf.Tensor, degree: number): tf.Tensor {
  return tf.tidy(() => {
    const t = tf.tanh(x);
    const terms: tf.Tensor[] = [tf.onesLike(t)];
    if (degree >= 1) terms.push(t);
    for (let n = 2; n <= degree; n++) {
      terms.push(tf.sub(tf.mul(tf.mul(2, t), terms[n - 1]!), terms[n - 2]!));
    }
    return tf.stack(terms, 2);
  });
}

/** Fourier features [cos(1·x) .. cos(G·x), sin(1·x) .. sin(G·x)]: [B, in, 2G]. */
export function fourierBasis(x: tf.Tensor, gridSize: number): tf.Tensor {
  return tf.tidy(() => {
    const frequencies = tf.tensor1d(Array.from({ length: gridSize }, (_, index) => index + 1));
    const angles = tf.mul(tf.expandDims(x, 2), frequencies); // [B, in, G]
    return tf.concat([tf.cos(angles), tf.sin(angles)], 2);
  });
}

/**
 * Jacobi polynomials P_0..P_degree^(α,β) of tanh(x) by the three-term recurrence (JacobiKAN's):
 * P_0 = 1, P_1 = ((α - β) + (α + β + 2) t) / 2,
 * P_n = (θ_n t + θ'_n) P_{n-1} - θ''_n P_{n-2}. Returns [B, in, degree + 1].
 */
export function jacobiBasis(x: tf.Tensor, degree: number, alpha = 1, beta = 1): tf.Tensor {
  return tf.tidy(() => {
    const t = tf.tanh(x);
    const terms: tf.Tensor[] = [tf.onesLike(t)];
    if (degree >= 1) terms.push(tf.div(tf.add(tf.mul(alpha + beta + 2, t), alpha - beta), 2));
    const a = alpha;
    const b = beta;
    for (let n = 2; n <= degree; n++) {
      const theta = ((2 * n + a + b) * (2 * n + a + b - 1)) / (2 * n * (n + a + b));
      const thetaOne = ((2 * n + a + b - 1) * (a * a - b * b)) / (2 * n * (n + a + b) * (2 * n + a + b - 2));
      const thetaTwo =
        ((n + a - 1) * (n + b - 1) * (2 * n + a + b)) / (n * (n + a + b) * (2 * n + a + b - 2));
      terms.push(
        tf.sub(tf.mul(tf.add(tf.mul(theta, t), thetaOne), terms[n - 1]!), tf.mul(thetaTwo, terms[n - 2]!)),
      );
    }
    return tf.stack(terms, 2);
  });
}

export interface BasisSpec {
  basis: BasisName;
  gridSize: number;
  splineOrder: number;
  degree: number;
  jacobiAlpha: number;
  jacobiBeta: number;
  /** RBF width h. */
  rbfWidth: number;
}

/** Basis values [B, in, numBasis] for one family; `grid` is the layer's grid buffer (bspline knots, rbf centres). */
export function basisValues(x: tf.Tensor, spec: BasisSpec, grid: tf.Tensor | null): tf.Tensor {
  switch (spec.basis) {
    case 'bspline':
      return bsplineBasis(x, grid!, spec.splineOrder);
    case 'rbf':
      return rbfBasis(x, grid!, spec.rbfWidth);
    case 'chebyshev':
      return chebyshevBasis(x, spec.degree);
    case 'fourier':
      return fourierBasis(x, spec.gridSize);
    case 'jacobi':
      return jacobiBasis(x, spec.degree, spec.jacobiAlpha, spec.jacobiBeta);
  }
}
