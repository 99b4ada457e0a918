// Position embeddings: learned (timm's `pos_embed`) and fixed 2-D sin-cos (MAE, timm).
import { init, Module, type Random, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export interface SincosOptions {
  /** Patch grid [height, width]. */
  gridSize: readonly [number, number];
  /** Embedding width (a multiple of 4). */
  dim: number;
  /** Frequency base (default 10000). */
  temperature?: number;
  /**
   * Channel order. 'mae' (default; MAE's `get_2d_sincos_pos_embed`, also used by timm's MAE-style ViTs
   * via numpy): [sin(x w), cos(x w), sin(y w), cos(y w)], x = column, y = row. 'timm' (timm's
   * `build_sincos2d_pos_embed` with default arguments): [sin(y w), sin(x w), cos(y w), cos(x w)].
   * In both, w_k = 1 / temperature^(k / (dim / 4)) for k = 0 .. dim/4 - 1.
   */
  layout?: 'mae' | 'timm';
  /** Rows of zeros prepended for prefix tokens (MAE's `cls_token=True` is 1). Default 0. */
  numPrefixTokens?: number;
}

/**
 * Fixed 2-D sin-cos position embedding [numPrefixTokens + H * W, dim], tokens in row-major (h, w)
 * order. Computed in float64 in JavaScript and returned as float32.
 */
export function sincos2dPositionEmbedding(options: SincosOptions): tf.Tensor2D {
  const { gridSize, dim } = options;
  if (!(Number.isInteger(dim) && dim > 0 && dim % 4 === 0)) {
    throw new Error(`sincos2dPositionEmbedding: dim must be a positive multiple of 4, got ${dim}`);
  }
  const [height, width] = gridSize;
  const temperature = options.temperature ?? 10000;
  const prefix = options.numPrefixTokens ?? 0;
  const quarter = dim / 4;
  const bands = Array.from({ length: quarter }, (_, index) => 1 / temperature ** (index / quarter));
  const values = new Float32Array((prefix + height * width) * dim);
  const layout = options.layout ?? 'mae';
  for (let row = 0; row < height; row++) {
    for (let column = 0; column < width; column++) {
      const offset = (prefix + row * width + column) * dim;
      for (let k = 0; k < quarter; k++) {
        const y = row * bands[k]!;
        const x = column * bands[k]!;
        const blocks =
          layout === 'mae'
            ? [Math.sin(x), Math.cos(x), Math.sin(y), Math.cos(y)]
            : [Math.sin(y), Math.sin(x), Math.cos(y), Math.cos(x)];
        for (let block = 0; block < 4; block++) values[offset + block * quarter + k] = blocks[block]!;
      }
    }
  }
  return tf.tensor2d(values, [prefix + height * width, dim]);
}

export interface LearnedPositionEmbeddingOptions {
  /** Number of positions N (patches plus prefix tokens). */
  numTokens: number;
  dim: number;
  /** Std of the truncated-normal init (default 0.02, as timm). */
  std?: number;
  random?: Random;
}

/**
 * Learned absolute position embedding: adds the parameter `pos_embed` [1, N, D] (timm's name and
 * shape, trunc-normal std 0.02 init) to tokens [B, N, D]. A model that needs the key `pos_embed` at
 * its root (timm's ViT) can instead call `addParameter('pos_embed', learnedPositionEmbeddingInit(...))`.
 */
export class LearnedPositionEmbedding extends Module implements TensorModule {
  readonly numTokens: number;
  readonly dim: number;
  readonly posEmbed: tf.Variable;

  constructor(options: LearnedPositionEmbeddingOptions) {
    super();
    this.numTokens = options.numTokens;
    this.dim = options.dim;
    this.posEmbed = this.addParameter('pos_embed', learnedPositionEmbeddingInit(options));
  }

  forward(input: tf.Tensor): tf.Tensor {
    this.checkShape(input, ['B', this.numTokens, this.dim]);
    return tf.add(input, this.posEmbed);
  }
}

/** Initial value of a learned `pos_embed` [1, N, D]: timm's `trunc_normal_(std=.02)`. */
export function learnedPositionEmbeddingInit(options: LearnedPositionEmbeddingOptions): tf.Tensor {
  return init.truncNormal([1, options.numTokens, options.dim], {
    std: options.std ?? 0.02,
    random: options.random,
  });
}

export interface SincosPositionEmbeddingOptions extends SincosOptions {
  /**
   * Keep the table in the state dict as `pos_embed` (default false: a non-persistent buffer, as the
   * fixed embedding is recomputed; MAE checkpoints do store it, so set true to load them strictly).
   */
  persistent?: boolean;
}

/** Adds a fixed 2-D sin-cos table (buffer `pos_embed` [1, N, D], not trained) to tokens [B, N, D]. */
export class SincosPositionEmbedding extends Module implements TensorModule {
  readonly numTokens: number;
  readonly dim: number;
  readonly posEmbed: tf.Variable;

  constructor(options: SincosPositionEmbeddingOptions) {
    super();
    this.dim = options.dim;
    this.numTokens = (options.numPrefixTokens ?? 0) + options.gridSize[0] * options.gridSize[1];
    const table = sincos2dPositionEmbedding(options);
    const value = tf.expandDims(table, 0);
    table.dispose();
    this.posEmbed = this.addBuffer('pos_embed', value, { persistent: options.persistent ?? false });
  }

  forward(input: tf.Tensor): tf.Tensor {
    this.checkShape(input, ['B', this.numTokens, this.dim]);
    return tf.add(input, this.posEmbed);
  }
}
