// The surface every zoo classifier shares (timm's): generic tools (the model suite, the CLI,
// quantization) rely on it instead of knowing each architecture.
import type * as tf from '@tensorflow/tfjs-core';
import type { ForwardOptions, TensorModule } from './module.js';

export interface ForwardHeadOptions extends ForwardOptions {
  /** Return the pooled features before the classifier (shape [B, headHiddenSize]). */
  preLogits?: boolean;
}

export interface ForwardIntermediatesOptions extends ForwardOptions {
  /** Which blocks to return: the last n when a number, else explicit indices (negative counts from the end). */
  indices?: number | readonly number[];
}

/**
 * A classifier: `forward(x) = forwardHead(forwardFeatures(x))`, returning logits [B, numClasses]
 * (or pooled features when numClasses is 0).
 */
export interface Classifier extends TensorModule {
  /** Width of the classifier's output (0 after `resetClassifier(0)`). */
  readonly numClasses: number;
  /** Channel dimension of `forwardFeatures`'s output. */
  readonly numFeatures: number;
  /** Width of `forwardHead(x, {preLogits: true})`. */
  readonly headHiddenSize: number;
  /** State-dict prefix of the classifier layer (timm's `classifier`), e.g. 'head'. */
  readonly classifierName: string;
  /** State-dict prefix of the first layer that sees the input (timm's `first_conv`). */
  readonly firstLayerName: string;
  forwardFeatures(input: tf.Tensor, options?: ForwardOptions): tf.Tensor;
  forwardHead(features: tf.Tensor, options?: ForwardHeadOptions): tf.Tensor;
  /** Replaces the classifier with a new one of `numClasses` outputs (0: identity, pre-logits out). */
  resetClassifier(numClasses: number): void;
  /** Features after selected blocks, for dense tasks and probing. */
  forwardIntermediates?(input: tf.Tensor, options?: ForwardIntermediatesOptions): tf.Tensor[];
}

/** Resolves `indices` (last-n or explicit, negatives from the end) against `count` blocks. */
export function resolveIntermediateIndices(
  indices: number | readonly number[] | undefined,
  count: number,
): number[] {
  const chosen =
    indices == null
      ? Array.from({ length: count }, (_, index) => index)
      : typeof indices === 'number'
        ? Array.from(
            { length: Math.min(indices, count) },
            (_, index) => count - Math.min(indices, count) + index,
          )
        : indices.map((index) => (index < 0 ? count + index : index));
  for (const index of chosen) {
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new Error(`forwardIntermediates: index ${index} out of range for ${count} blocks`);
    }
  }
  return chosen;
}
