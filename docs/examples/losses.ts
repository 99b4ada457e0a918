// Losses with PyTorch's semantics and mean reduction. fit() takes a name or a function.
import { binaryCrossEntropyWithLogits, crossEntropy, meanSquaredError, resolveLoss } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export async function main() {
  return tf.tidy(() => {
    const logits = tf.tensor2d([
      [2, 0.5, -1],
      [0, 0, 3],
    ]);
    const labels = tf.tensor1d([0, 2], 'int32');

    // torch.nn.functional.cross_entropy(logits, labels)
    const plain = crossEntropy(logits, labels).dataSync()[0]!;
    // ... with label_smoothing=0.1
    const smoothed = crossEntropy(logits, labels, { labelSmoothing: 0.1 }).dataSync()[0]!;
    // Soft targets (e.g. from mixup) are probabilities [B, C].
    const soft = crossEntropy(logits, tf.oneHot(labels, 3)).dataSync()[0]!; // equals plain

    // torch.nn.functional.binary_cross_entropy_with_logits, stable for large |x|
    const binary = binaryCrossEntropyWithLogits(
      tf.tensor1d([0, 100, -100]),
      tf.tensor1d([1, 1, 0]),
    ).dataSync()[0]!; // (ln 2 + 0 + 0) / 3

    const mse = meanSquaredError(tf.tensor1d([1, 2, 3]), tf.tensor1d([1, 2, 5])).dataSync()[0]!; // 4 / 3

    // The names fit() and evaluate() accept: 'cross-entropy' (default), 'bce-with-logits', 'mse'.
    const byName = resolveLoss('mse')(tf.tensor1d([0, 0]), tf.tensor1d([3, 4])).dataSync()[0]!; // 12.5
    return { plain, smoothed, soft, binary, mse, byName };
  });
}
