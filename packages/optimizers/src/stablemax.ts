// StableMax and its cross-entropy ("Grokking at the Edge of Numerical Stability", Prieto, Barsbey,
// Mediano, Birdal 2025, arXiv:2501.04697; official utils.py): s(x) = x + 1 for x ≥ 0 and
// 1 / (1 − x) for x < 0, StableMax(x)_i = s(x_i) / Σ_j s(x_j). Unlike softmax it grows linearly, so
// large logits do not drive the probabilities to exactly 1 ("Softmax Collapse").
// The official code casts the logits to float64; tfjs computes in float32.
import * as tf from '@tensorflow/tfjs-core';

/** s(x): x + 1 where x ≥ 0, 1 / (1 − x) where x < 0 (both branches finite, so gradients stay finite). */
export function stablemaxTransform(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.where(tf.greaterEqual(x, 0), tf.add(x, 1), tf.div(1, tf.sub(1, tf.minimum(x, 0)))));
}

/** StableMax along the last axis. */
export function stablemax(logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const s = stablemaxTransform(logits);
    return tf.div(s, tf.sum(s, -1, true));
  });
}

/** log StableMax along the last axis. */
export function logStablemax(logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const s = stablemaxTransform(logits);
    return tf.sub(tf.log(s), tf.log(tf.sum(s, -1, true)));
  });
}

/**
 * Mean negative log StableMax at the targets: class indices [B] (int32) or one-hot / soft targets
 * [B, C]. Has core's `LossFunction` signature, so `fit(model, data, { loss: stablemaxCrossEntropy })` works.
 */
export function stablemaxCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  if (logits.rank !== 2)
    throw new Error(`stablemaxCrossEntropy: expected logits [B, C], got [${logits.shape}]`);
  const [batch, classes] = logits.shape as [number, number];
  if (targets.shape[0] !== batch)
    throw new Error(`stablemaxCrossEntropy: ${batch} logits rows but targets [${targets.shape}]`);
  return tf.tidy(() => {
    const distribution =
      targets.rank === 1
        ? tf.cast(tf.oneHot(tf.cast(targets, 'int32'), classes), 'float32')
        : tf.cast(targets, 'float32');
    return tf.neg(tf.mean(tf.sum(tf.mul(distribution, logStablemax(logits)), -1))) as tf.Scalar;
  });
}
