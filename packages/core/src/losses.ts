// Losses with PyTorch's semantics (mean reduction).
import * as tf from '@tensorflow/tfjs-core';

export interface CrossEntropyOptions {
  /** PyTorch's label_smoothing: targets become (1 - e) * target + e / numClasses. */
  labelSmoothing?: number;
}

function checkBatch(where: string, logits: tf.Tensor, targets: tf.Tensor): void {
  if (logits.rank !== 2)
    throw new Error(`${where}: expected logits [B, C], got [${logits.shape.join(', ')}]`);
  if (targets.shape[0] !== logits.shape[0]) {
    throw new Error(
      `${where}: logits have batch ${logits.shape[0]} but targets [${targets.shape.join(', ')}] have batch ${targets.shape[0]}`,
    );
  }
}

/**
 * Cross-entropy from logits [B, C]. Targets are class indices [B] (int32) or probabilities [B, C]
 * (soft targets, e.g. from mixup). Matches `torch.nn.functional.cross_entropy`.
 */
export function crossEntropy(
  logits: tf.Tensor,
  targets: tf.Tensor,
  options: CrossEntropyOptions = {},
): tf.Scalar {
  checkBatch('crossEntropy', logits, targets);
  const numClasses = logits.shape[1]!;
  const smoothing = options.labelSmoothing ?? 0;
  if (!(smoothing >= 0 && smoothing <= 1))
    throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  return tf.tidy(() => {
    let distribution: tf.Tensor;
    if (targets.rank === 1) {
      // int32 one-hot, then cast: tfjs-backend-wasm 4.22's OneHot writes integer bit patterns into
      // float32 outputs (1 reads back as 1.4e-45).
      const indices = targets.dtype === 'int32' ? targets : tf.cast(targets, 'int32');
      distribution = tf.cast(tf.oneHot(indices, numClasses), 'float32');
    } else if (targets.rank === 2 && targets.shape[1] === numClasses) {
      distribution = tf.cast(targets, 'float32');
    } else {
      throw new Error(
        `crossEntropy: targets must be class indices [${logits.shape[0]}] or probabilities [${logits.shape[0]}, ${numClasses}], got [${targets.shape.join(', ')}]`,
      );
    }
    if (smoothing > 0) distribution = tf.add(tf.mul(distribution, 1 - smoothing), smoothing / numClasses);
    const logProbabilities = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(distribution, logProbabilities), -1))) as tf.Scalar;
  });
}

/**
 * Binary cross-entropy on logits, numerically stable: max(x, 0) - x * t + log(1 + exp(-|x|)), as
 * `torch.nn.functional.binary_cross_entropy_with_logits`. `positiveWeight` is PyTorch's pos_weight.
 */
export function binaryCrossEntropyWithLogits(
  logits: tf.Tensor,
  targets: tf.Tensor,
  options: { positiveWeight?: number } = {},
): tf.Scalar {
  if (
    !logits.shape.every((dimension, index) => dimension === targets.shape[index]) ||
    logits.rank !== targets.rank
  ) {
    throw new Error(
      `binaryCrossEntropyWithLogits: logits [${logits.shape.join(', ')}] and targets [${targets.shape.join(', ')}] differ in shape`,
    );
  }
  return tf.tidy(() => {
    const t = tf.cast(targets, 'float32');
    const softplusNegative = tf.add(tf.relu(tf.neg(logits)), tf.log1p(tf.exp(tf.neg(tf.abs(logits))))); // log(1 + e^-x)
    const weight = options.positiveWeight ?? 1;
    // (1 - t) * x + (1 + (w - 1) * t) * log(1 + e^-x)
    const loss = tf.add(
      tf.mul(tf.sub(1, t), logits),
      tf.mul(tf.add(1, tf.mul(weight - 1, t)), softplusNegative),
    );
    return tf.mean(loss) as tf.Scalar;
  });
}

/** Mean squared error, as `torch.nn.functional.mse_loss`. */
export function meanSquaredError(predictions: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  if (predictions.size !== targets.size) {
    throw new Error(
      `meanSquaredError: predictions [${predictions.shape.join(', ')}] and targets [${targets.shape.join(', ')}] differ in size`,
    );
  }
  return tf.tidy(
    () => tf.mean(tf.squaredDifference(predictions, tf.reshape(targets, predictions.shape))) as tf.Scalar,
  );
}

export type LossName = 'cross-entropy' | 'bce-with-logits' | 'mse';
export type LossFunction = (predictions: tf.Tensor, targets: tf.Tensor) => tf.Scalar;

/** Resolves a loss by name (or passes a function through). */
export function resolveLoss(loss: LossName | LossFunction | undefined): LossFunction {
  if (typeof loss === 'function') return loss;
  switch (loss ?? 'cross-entropy') {
    case 'cross-entropy':
      return (predictions, targets) => crossEntropy(predictions, targets);
    case 'bce-with-logits':
      return (predictions, targets) => binaryCrossEntropyWithLogits(predictions, targets);
    case 'mse':
      return meanSquaredError;
    default:
      throw new Error(
        `unknown loss '${String(loss)}'; expected cross-entropy, bce-with-logits, mse or a function`,
      );
  }
}
