// Gradient transforms shared by every optimizer in this package, also usable on their own (for
// example through core `fit`'s `transformGradients` hook): global-norm clipping, the perpendicular
// gradient (⊥Grad) and annealed Gaussian gradient noise.
import * as tf from '@tensorflow/tfjs-core';

/** Global L2 norm over every gradient (a scalar tensor). */
export function globalNorm(gradients: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() =>
    gradients.length === 0
      ? tf.scalar(0)
      : tf.sqrt(tf.addN(gradients.map((gradient) => tf.sum(tf.square(gradient))))),
  ) as tf.Scalar;
}

/**
 * Scales every gradient by min(1, maxNorm / (globalNorm + 1e-6)), PyTorch's `clip_grad_norm_`. Returns
 * new tensors (the inputs are left alone).
 */
export function clipByGlobalNorm<T extends Record<string, tf.Tensor>>(gradients: T, maxNorm: number): T {
  if (!(maxNorm > 0)) throw new Error(`clipByGlobalNorm: maxNorm must be positive, got ${maxNorm}`);
  return tf.tidy(() => {
    const norm = globalNorm(Object.values(gradients));
    const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
    return Object.fromEntries(
      Object.entries(gradients).map(([name, gradient]) => [name, tf.mul(gradient, scale)]),
    );
  }) as T;
}

/**
 * ⊥Grad ("Grokking at the Edge of Numerical Stability", Prieto et al. 2025, arXiv:2501.04697; official
 * `OrthoGrad`): per tensor, removes the gradient's component along the weights,
 * g⊥ = g − (w·g)/(w·w + 1e-30) · w, then rescales g⊥ to the norm of g.
 */
export function perpendicularGradient(weight: tf.Tensor, gradient: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const projection = tf.div(tf.sum(tf.mul(weight, gradient)), tf.add(tf.sum(tf.square(weight)), 1e-30));
    const perpendicular = tf.sub(gradient, tf.mul(projection, weight));
    const scale = tf.div(tf.norm(gradient), tf.add(tf.norm(perpendicular), 1e-30));
    return tf.mul(perpendicular, scale);
  });
}

export interface GradientNoiseOptions {
  /** η in σ² = η / (1 + t)^γ (default 0.3; the paper tries 0.01, 0.3, 1). */
  eta?: number;
  /** γ (default 0.55). */
  gamma?: number;
  /** Seed of the noise stream (default 0); the noise at step t depends only on the seed and t. */
  seed?: number;
}

/**
 * Annealed Gaussian gradient noise (Neelakantan et al., "Adding Gradient Noise Improves Learning for
 * Very Deep Networks", arXiv:1511.06807): g + N(0, η / (1 + t)^γ), with t the 0-based step.
 */
export function addGradientNoise(
  gradient: tf.Tensor,
  step: number,
  options: GradientNoiseOptions = {},
  index = 0,
): tf.Tensor {
  const eta = options.eta ?? 0.3;
  const gamma = options.gamma ?? 0.55;
  const seed = options.seed ?? 0;
  const std = Math.sqrt(eta / (1 + step) ** gamma);
  return tf.tidy(() =>
    tf.add(
      gradient,
      tf.randomNormal(gradient.shape, 0, std, 'float32', seed * 7919 + step * 1_000_003 + index),
    ),
  );
}
