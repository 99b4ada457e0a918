// Patch embedding (timm's PatchEmbed): image [B, H, W, C] -> tokens [B, N, D], by a strided
// convolution or, equivalently, by a reshape and one matrix product with the same parameters.
import { Module, type Random, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { Conv2d, type Size2d } from './conv.js';
import { Identity } from './identity.js';
import { LayerNorm } from './normalization.js';

export interface PatchEmbedOptions {
  /** Expected image size (default 224); null accepts any size divisible by the patch size. */
  imgSize?: Size2d | null;
  /** Patch size (default 16). */
  patchSize?: Size2d;
  /** Input channels (default 3). */
  inChans?: number;
  /** Token width (default 768). */
  embedDim?: number;
  /** Add a LayerNorm (`norm`) on the tokens with this eps (timm's `norm_layer`); none by default. */
  normEps?: number;
  /** Return tokens [B, N, D] (default true) or the NHWC grid [B, H / p, W / p, D]. */
  flatten?: boolean;
  /** Bias on the projection (default true). */
  bias?: boolean;
  /**
   * 'linear' (default): cut the image into patches with reshape/transpose and apply one matMul with
   * `proj.weight` read as [p * p * C, D]. 'conv': `tf.conv2d` with kernel = stride = patch. Same
   * results, same state dict; the matMul form is one XNNPACK product on wasm, where the conv's weight
   * gradient is composed from several kernels.
   */
  mode?: 'conv' | 'linear';
  random?: Random;
}

function pair(value: Size2d): [number, number] {
  return typeof value === 'number' ? [value, value] : [value[0], value[1]];
}

/**
 * timm's `PatchEmbed`. State dict: `proj.weight` [D, C, p, p] (OIHW), `proj.bias` [D], and
 * `norm.{weight,bias}` with `normEps`. Tokens are in row-major (h, w) order as timm's
 * `flatten(2).transpose(1, 2)`.
 */
export class PatchEmbed extends Module implements TensorModule {
  readonly imgSize: [number, number] | null;
  readonly patchSize: [number, number];
  readonly inChans: number;
  readonly embedDim: number;
  readonly flatten: boolean;
  readonly mode: 'conv' | 'linear';
  readonly proj: Conv2d;
  readonly norm: LayerNorm | Identity;

  constructor(options: PatchEmbedOptions = {}) {
    super();
    this.imgSize = options.imgSize === null ? null : pair(options.imgSize ?? 224);
    this.patchSize = pair(options.patchSize ?? 16);
    this.inChans = options.inChans ?? 3;
    this.embedDim = options.embedDim ?? 768;
    this.flatten = options.flatten ?? true;
    this.mode = options.mode ?? 'linear';
    if (this.imgSize?.some((size, axis) => size % this.patchSize[axis]! !== 0)) {
      throw new Error(
        `PatchEmbed: image size [${this.imgSize.join(', ')}] is not divisible by patch size [${this.patchSize.join(', ')}]`,
      );
    }
    this.proj = this.addModule(
      'proj',
      new Conv2d({
        inChannels: this.inChans,
        outChannels: this.embedDim,
        kernelSize: this.patchSize,
        stride: this.patchSize,
        bias: options.bias ?? true,
        random: options.random,
      }),
    );
    this.norm = this.addModule(
      'norm',
      options.normEps != null
        ? new LayerNorm({ normalizedShape: this.embedDim, eps: options.normEps })
        : new Identity(),
    );
  }

  /** Patch grid [H / p, W / p] for the configured image size. */
  get gridSize(): [number, number] | null {
    return this.imgSize ? [this.imgSize[0] / this.patchSize[0], this.imgSize[1] / this.patchSize[1]] : null;
  }

  /** Number of patches N for the configured image size. */
  get numPatches(): number | null {
    const grid = this.gridSize;
    return grid ? grid[0] * grid[1] : null;
  }

  forward(input: tf.Tensor): tf.Tensor {
    const expected = this.imgSize ?? ['H', 'W'];
    this.checkShape(input, ['B', expected[0], expected[1], this.inChans]);
    const [batch, height, width] = input.shape as number[];
    const [patchHeight, patchWidth] = this.patchSize;
    if (height! % patchHeight !== 0 || width! % patchWidth !== 0) {
      throw new Error(
        `${this.location}: image size ${height}x${width} is not divisible by patch size ${patchHeight}x${patchWidth}`,
      );
    }
    const gridHeight = height! / patchHeight;
    const gridWidth = width! / patchWidth;
    return tf.tidy(() => {
      let grid: tf.Tensor;
      if (this.mode === 'conv') {
        grid = this.proj.forward(input);
      } else {
        // [B, gh·ph, gw·pw, C] read as [B·gh, ph, gw, pw·C]: swapping the middle two axes is a rank-4
        // transpose (wasm moves rank >= 5 element by element) and leaves each patch's (ph, pw, C) values
        // contiguous, in the HWIO order of the kernel read as [ph·pw·C, D].
        const patches = tf.reshape(
          tf.transpose(
            tf.reshape(input, [batch! * gridHeight, patchHeight, gridWidth, patchWidth * this.inChans]),
            [0, 2, 1, 3],
          ),
          [batch! * gridHeight * gridWidth, patchHeight * patchWidth * this.inChans],
        );
        // HWIO [p, p, C, D] flattened row-major matches the (row, column, channel) order of a patch.
        const kernel = tf.reshape(this.proj.weight, [patchHeight * patchWidth * this.inChans, this.embedDim]);
        let tokens: tf.Tensor = tf.matMul(patches as tf.Tensor2D, kernel as tf.Tensor2D);
        if (this.proj.bias) tokens = tf.add(tokens, this.proj.bias);
        grid = tf.reshape(tokens, [batch!, gridHeight, gridWidth, this.embedDim]);
      }
      const output = this.flatten ? tf.reshape(grid, [batch!, gridHeight * gridWidth, this.embedDim]) : grid;
      return this.norm.forward(output);
    });
  }
}
