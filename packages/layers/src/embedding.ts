// Embedding (nn.Embedding) whose gradient runs on every tfjs backend.
import { init, Module, type Random } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export interface EmbeddingOptions {
  numEmbeddings: number;
  embeddingDim: number;
  /**
   * Row that stays zero and receives no gradient (PyTorch's `padding_idx`; negative counts from the
   * end). Default none.
   */
  paddingIndex?: number;
  random?: Random;
}

/**
 * Looks up rows of `weight` [numEmbeddings, embeddingDim] (`torch.nn.Embedding`, init N(0, 1)):
 * integer indices of any shape S -> [...S, embeddingDim].
 *
 * The gradient is a `tf.customGrad` that scatters the incoming gradient rows with `tf.scatterND`
 * (which sums duplicate indices), instead of tfjs's default gather gradient (UnsortedSegmentSum, a
 * kernel the wasm backend lacks and the cpu backend runs very slowly).
 */
export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly paddingIndex: number | null;
  readonly weight: tf.Variable;

  constructor(options: EmbeddingOptions) {
    super();
    const { numEmbeddings, embeddingDim } = options;
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    let padding = options.paddingIndex ?? null;
    if (padding != null) {
      if (!Number.isInteger(padding) || padding >= numEmbeddings || padding < -numEmbeddings) {
        throw new Error(
          `Embedding: paddingIndex must be in [-${numEmbeddings}, ${numEmbeddings}), got ${padding}`,
        );
      }
      if (padding < 0) padding += numEmbeddings;
    }
    this.paddingIndex = padding;
    const initial = init.normal([numEmbeddings, embeddingDim], { random: options.random });
    if (padding != null) {
      const mask = tf.tidy(() => this.#keepRows());
      const masked = tf.mul(initial, mask);
      initial.dispose();
      mask.dispose();
      this.weight = this.addParameter('weight', masked);
    } else {
      this.weight = this.addParameter('weight', initial);
    }
  }

  /** [numEmbeddings, 1] with 0 at the padding row and 1 elsewhere. */
  #keepRows(): tf.Tensor {
    const values = new Float32Array(this.numEmbeddings).fill(1);
    if (this.paddingIndex != null) values[this.paddingIndex] = 0;
    return tf.tensor2d(values, [this.numEmbeddings, 1]);
  }

  forward(indices: tf.Tensor): tf.Tensor {
    if (indices.dtype !== 'int32') {
      throw new Error(
        `${this.location}: expected int32 indices, got ${indices.dtype} [${indices.shape.join(', ')}]`,
      );
    }
    const outputShape = [...indices.shape, this.embeddingDim];
    return tf.tidy(() => {
      const flat = tf.reshape(indices, [-1]);
      const lookup = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => ({
        value: tf.gather(inputs[0] as tf.Tensor, flat),
        gradFunc: (dy: tf.Tensor) =>
          tf.tidy(() => {
            const rows = tf.reshape(dy, [-1, this.embeddingDim]);
            const scattered = tf.scatterND(tf.reshape(flat, [-1, 1]), rows, [
              this.numEmbeddings,
              this.embeddingDim,
            ]);
            return this.paddingIndex != null ? tf.mul(scattered, this.#keepRows()) : scattered;
          }),
      }));
      return tf.reshape(lookup(this.weight) as tf.Tensor, outputShape);
    });
  }
}
