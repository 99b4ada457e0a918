// MAXIM blocks: "MAXIM: Multi-Axis MLP for Image Processing", Zhengzhong Tu, Hossein Talebi, Han Zhang,
// Feng Yang, Peyman Milanfar, Alan Bovik, Yinxiao Li, CVPR 2022, https://arxiv.org/abs/2201.02973.
// Follows the official Flax implementation google-research/maxim (`maxim/models/maxim.py`).
//
// MAXIM itself is a multi-stage restoration UNet (image in, image out). This file ports its two
// signature blocks as layers, the multi-axis gated MLP block (`ResidualSplitHeadMultiAxisGmlpLayer`,
// here `MultiAxisGmlpBlock`) and the cross-gating block (`CrossGatingBlock`), with the sub-blocks they
// need (grid/block gMLP layers and gating units, RCAB, RDCAB, channel attention, MAXIM's UNet encoder
// and bottleneck blocks), and builds from them a small image classifier, `MaximClassifier`, which is an
// mlzoo design (not a model from the paper): input conv -> MAXIM UNet encoder blocks (each halving the
// resolution) -> MAXIM bottleneck blocks -> a cross-gating block that gates the last encoder features
// with the up-sampled bottleneck features -> LayerNorm -> global average pool -> Dense head.
//
// Parameter names are Flax's parameter tree flattened with dots, in Flax's layouts, so a Flax
// checkpoint's params load by key after `flax.traverse_util.flatten_dict(params, sep='.')`:
//   Dense          -> `<name>.kernel` [in, out], `<name>.bias`
//   Conv           -> `<name>.kernel` [kh, kw, in, out] (HWIO), `<name>.bias`; 'SAME' padding
//   ConvTranspose  -> `<name>.kernel` [2, 2, in, out], `<name>.bias` (kernel 2, stride 2)
//   LayerNorm      -> `<name>.scale`, `<name>.bias` (epsilon 1e-6)
// and Flax's automatic names for unnamed submodules (`Dense_0`, `Conv_1`, `ConvTranspose_0`). Flax's
// `nn.gelu` is the tanh approximation, used throughout. Flax's ConvTranspose (transpose_kernel=False,
// 'SAME') computes out[2i + a, 2j + b] = x[i, j] @ kernel[1 - a, 1 - b] + bias, a spatially flipped kernel
// compared with PyTorch's ConvTranspose2d; this follows from jax's `_conv_transpose_padding` rule and
// was not checked against JAX itself.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  type ForwardOptions,
  init,
  isRecordingGradient,
  type ModelPreset,
  Module,
  type Random,
  registerModel,
  resolveIntermediateIndices,
} from '@mlzoo/core';
import { dropout, gelu, Identity } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

type Size = readonly [number, number];

/** Flax initializers used by MAXIM: N(0, 0.02) where the reference names it, else lecun_normal. */
type KernelInit = 'normal' | 'lecun';

function kernelInit(shape: number[], fanIn: number, kind: KernelInit, random?: Random): tf.Tensor {
  if (kind === 'normal') return init.normal(shape, { std: 0.02, random });
  // variance_scaling(1, 'fan_in', 'truncated_normal'): std / 0.87962566103423978, cut at 2 std
  const std = Math.sqrt(1 / fanIn) / 0.8796256610342398;
  return init.truncNormal(shape, { std, a: -2 * std, b: 2 * std, random });
}

/** `flax.linen.Dense` on the last axis: `kernel` [in, out], `bias` [out]. */
export class FlaxDense extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;

  constructor(options: {
    inFeatures: number;
    outFeatures: number;
    kernelInit?: KernelInit;
    biasInit?: 'zeros' | 'ones';
    random?: Random;
  }) {
    super();
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.kernel = this.addParameter(
      'kernel',
      kernelInit(
        [options.inFeatures, options.outFeatures],
        options.inFeatures,
        options.kernelInit ?? 'normal',
        options.random,
      ),
    );
    this.bias = this.addParameter(
      'bias',
      options.biasInit === 'ones' ? init.ones([options.outFeatures]) : init.zeros([options.outFeatures]),
    );
  }

  forward(input: tf.Tensor): tf.Tensor {
    const shape = input.shape;
    if (shape[shape.length - 1] !== this.inFeatures) {
      throw new Error(
        `${this.location}: expected input [..., ${this.inFeatures}], got [${shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => {
      const flat = tf.reshape(input, [-1, this.inFeatures]) as tf.Tensor2D;
      const output = tf.add(tf.matMul(flat, this.kernel as tf.Tensor2D), this.bias);
      return tf.reshape(output, [...shape.slice(0, -1), this.outFeatures]);
    });
  }
}

/** `flax.linen.LayerNorm` over the last axis: `scale`, `bias`, epsilon 1e-6. */
export class FlaxLayerNorm extends Module {
  readonly features: number;
  readonly scale: tf.Variable;
  readonly bias: tf.Variable;

  constructor(features: number) {
    super();
    this.features = features;
    this.scale = this.addParameter('scale', init.ones([features]));
    this.bias = this.addParameter('bias', init.zeros([features]));
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const mean = tf.mean(input, -1, true);
      const centered = tf.sub(input, mean);
      const variance = tf.mean(tf.square(centered), -1, true);
      return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, 1e-6))), this.scale), this.bias);
    });
  }
}

/** Keeps every stride-th row and column with pad, reshape and slice (all with gradients). */
function subsample(input: tf.Tensor4D, stride: number): tf.Tensor4D {
  if (stride === 1) return input;
  const [batch, height, width, channels] = input.shape;
  const outHeight = Math.ceil(height / stride);
  const outWidth = Math.ceil(width / stride);
  const padded = tf.pad(input, [
    [0, 0],
    [0, outHeight * stride - height],
    [0, outWidth * stride - width],
    [0, 0],
  ]);
  const grouped = tf.reshape(padded, [batch, outHeight, stride, outWidth, stride, channels]);
  const picked = tf.slice(grouped, [0, 0, 0, 0, 0, 0], [batch, outHeight, 1, outWidth, 1, channels]);
  return tf.reshape(picked, [batch, outHeight, outWidth, channels]) as tf.Tensor4D;
}

/**
 * `flax.linen.Conv` with 'SAME' padding on NHWC: `kernel` [kh, kw, in, out], `bias`. Runs tfjs's conv2d,
 * except while a gradient is recorded on a backend without the conv backprop kernels (wasm), where it
 * gathers the taps with slices and computes one matMul.
 */
export class FlaxConv extends Module {
  readonly inFeatures: number;
  readonly features: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;

  constructor(options: {
    inFeatures: number;
    features: number;
    kernelSize: number;
    stride?: number;
    random?: Random;
  }) {
    super();
    this.inFeatures = options.inFeatures;
    this.features = options.features;
    this.kernelSize = options.kernelSize;
    this.stride = options.stride ?? 1;
    const k = options.kernelSize;
    this.kernel = this.addParameter(
      'kernel',
      kernelInit(
        [k, k, options.inFeatures, options.features],
        k * k * options.inFeatures,
        'lecun',
        options.random,
      ),
    );
    this.bias = this.addParameter('bias', init.zeros([options.features]));
  }

  forward(input: tf.Tensor): tf.Tensor {
    if (input.rank !== 4 || input.shape[3] !== this.inFeatures) {
      throw new Error(
        `${this.location}: expected input [B, H, W, ${this.inFeatures}], got [${input.shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => {
      const [batch, height, width] = input.shape as number[];
      const k = this.kernelSize;
      const s = this.stride;
      if (k === 1 && s === 1) {
        const flat = tf.matMul(
          tf.reshape(input, [-1, this.inFeatures]) as tf.Tensor2D,
          tf.reshape(this.kernel, [this.inFeatures, this.features]) as tf.Tensor2D,
        );
        return tf.add(tf.reshape(flat, [batch!, height!, width!, this.features]), this.bias);
      }
      const pads = [height!, width!].map((size) => {
        const total = Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
        return [Math.floor(total / 2), total - Math.floor(total / 2)] as [number, number];
      });
      const padded = tf.pad(input, [[0, 0], pads[0]!, pads[1]!, [0, 0]]) as tf.Tensor4D;
      const native = !isRecordingGradient() || tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) != null;
      let output: tf.Tensor;
      if (native) {
        output = tf.conv2d(padded, this.kernel as tf.Tensor4D, s, 'valid', 'NHWC');
      } else {
        const outHeight = Math.floor((padded.shape[1] - k) / s) + 1;
        const outWidth = Math.floor((padded.shape[2] - k) / s) + 1;
        const taps: tf.Tensor[] = [];
        for (let row = 0; row < k; row++) {
          for (let column = 0; column < k; column++) {
            const region = tf.slice(
              padded,
              [0, row, column, 0],
              [batch!, (outHeight - 1) * s + 1, (outWidth - 1) * s + 1, this.inFeatures],
            );
            taps.push(subsample(region as tf.Tensor4D, s));
          }
        }
        const patches = tf.reshape(tf.stack(taps, 3), [-1, k * k * this.inFeatures]) as tf.Tensor2D;
        output = tf.reshape(
          tf.matMul(
            patches,
            tf.reshape(this.kernel, [k * k * this.inFeatures, this.features]) as tf.Tensor2D,
          ),
          [batch!, outHeight, outWidth, this.features],
        );
      }
      return tf.add(output, this.bias);
    });
  }
}

/**
 * MAXIM's `ConvT_up` (`flax.linen.ConvTranspose`, kernel 2, stride 2, 'SAME'): each input pixel becomes a
 * 2 x 2 block, out[2i + a, 2j + b] = x[i, j] @ kernel[1 - a, 1 - b] + bias. `kernel` [2, 2, in, out], `bias`.
 * Computed as one matMul and a pixel shuffle, so it trains on every backend.
 */
export class FlaxConvTransposeUp extends Module {
  readonly inFeatures: number;
  readonly features: number;
  readonly kernel: tf.Variable;
  readonly bias: tf.Variable;

  constructor(options: { inFeatures: number; features: number; random?: Random }) {
    super();
    this.inFeatures = options.inFeatures;
    this.features = options.features;
    // flax's ConvTranspose default kernel_init is lecun_normal with fan_in = in * kh * kw
    this.kernel = this.addParameter(
      'kernel',
      kernelInit(
        [2, 2, options.inFeatures, options.features],
        4 * options.inFeatures,
        'lecun',
        options.random,
      ),
    );
    this.bias = this.addParameter('bias', init.zeros([options.features]));
  }

  forward(input: tf.Tensor): tf.Tensor {
    if (input.rank !== 4 || input.shape[3] !== this.inFeatures) {
      throw new Error(
        `${this.location}: expected input [B, H, W, ${this.inFeatures}], got [${input.shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => {
      const [batch, height, width] = input.shape as number[];
      // [a, b, in, out] with a, b flipped -> [in, (a, b, out)]
      const flipped = tf.reverse(this.kernel, [0, 1]);
      const weights = tf.reshape(tf.transpose(flipped, [2, 0, 1, 3]), [this.inFeatures, 4 * this.features]);
      const blocks = tf.matMul(
        tf.reshape(input, [-1, this.inFeatures]) as tf.Tensor2D,
        weights as tf.Tensor2D,
      );
      const shuffled = tf.transpose(
        tf.reshape(blocks, [batch!, height!, width!, 2, 2, this.features]),
        [0, 1, 3, 2, 4, 5],
      );
      return tf.add(tf.reshape(shuffled, [batch!, 2 * height!, 2 * width!, this.features]), this.bias);
    });
  }
}

/** `n (gh fh) (gw fw) c -> n (gh gw) (fh fw) c`. */
function blockImages(x: tf.Tensor, patch: Size): tf.Tensor {
  const [batch, height, width, channels] = x.shape as number[];
  const [fh, fw] = patch;
  const gh = height! / fh;
  const gw = width! / fw;
  return tf.reshape(tf.transpose(tf.reshape(x, [batch!, gh, fh, gw, fw, channels!]), [0, 1, 3, 2, 4, 5]), [
    batch!,
    gh * gw,
    fh * fw,
    channels!,
  ]);
}

/** `n (gh gw) (fh fw) c -> n (gh fh) (gw fw) c`. */
function unblockImages(x: tf.Tensor, grid: Size, patch: Size): tf.Tensor {
  const [batch, , , channels] = x.shape as number[];
  const [gh, gw] = grid;
  const [fh, fw] = patch;
  return tf.reshape(tf.transpose(tf.reshape(x, [batch!, gh, gw, fh, fw, channels!]), [0, 1, 3, 2, 4, 5]), [
    batch!,
    gh * fh,
    gw * fw,
    channels!,
  ]);
}

/** Applies `dense` over axis 1 ('grid', the reference's -3) or 2 ('block', -2) of [n, G, P, c]. */
function denseOverAxis(dense: FlaxDense, x: tf.Tensor, axis: 'grid' | 'block'): tf.Tensor {
  const forward = axis === 'grid' ? [0, 2, 3, 1] : [0, 1, 3, 2];
  const backward = axis === 'grid' ? [0, 3, 1, 2] : [0, 1, 3, 2];
  return tf.transpose(dense.forward(tf.transpose(x, forward)), backward);
}

function checkDivides(where: string, image: Size, size: Size, what: string): void {
  if (
    !(
      size.every((value) => Number.isInteger(value) && value > 0) &&
      image[0] % size[0] === 0 &&
      image[1] % size[1] === 0
    )
  ) {
    throw new Error(
      `${where}: ${what} [${size.join(', ')}] must divide the ${image[0]}x${image[1]} feature map`,
    );
  }
}

/** Grid or block gating unit (`GridGatingUnit` / `BlockGatingUnit`): u * (Dense_spatial(LN(v)) + 1). */
class GatingUnit extends Module {
  readonly intermediateLayernorm: FlaxLayerNorm;
  readonly dense: FlaxDense;
  readonly axis: 'grid' | 'block';

  constructor(channels: number, spatial: number, axis: 'grid' | 'block', random?: Random) {
    super();
    this.axis = axis;
    this.intermediateLayernorm = this.addModule('intermediate_layernorm', new FlaxLayerNorm(channels / 2));
    this.dense = this.addModule(
      'Dense_0',
      new FlaxDense({ inFeatures: spatial, outFeatures: spatial, random }),
    );
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [u, v] = tf.split(input, 2, -1) as [tf.Tensor, tf.Tensor];
      const gate = denseOverAxis(this.dense, this.intermediateLayernorm.forward(v), this.axis);
      return tf.mul(u, tf.add(gate, 1));
    });
  }
}

/** `GridGmlpLayer` (global, dilated mixing over a fixed grid) or `BlockGmlpLayer` (local, within fixed blocks). */
class GmlpLayer extends Module {
  readonly grid: Size;
  readonly patch: Size;
  readonly layerNorm: FlaxLayerNorm;
  readonly inProject: FlaxDense;
  readonly gating: GatingUnit;
  readonly outProject: FlaxDense;
  readonly dropRate: number;

  constructor(options: {
    channels: number;
    imageSize: Size;
    size: Size;
    factor: number;
    kind: 'grid' | 'block';
    dropRate: number;
    random?: Random;
  }) {
    super();
    const { channels, imageSize, size, factor, kind, random } = options;
    this.dropRate = options.dropRate;
    checkDivides(this.location, imageSize, size, kind === 'grid' ? 'gridSize' : 'blockSize');
    const other: Size = [imageSize[0] / size[0], imageSize[1] / size[1]];
    this.grid = kind === 'grid' ? size : other;
    this.patch = kind === 'grid' ? other : size;
    this.layerNorm = this.addModule('LayerNorm', new FlaxLayerNorm(channels));
    this.inProject = this.addModule(
      'in_project',
      new FlaxDense({ inFeatures: channels, outFeatures: channels * factor, random }),
    );
    this.gating = this.addModule(
      kind === 'grid' ? 'GridGatingUnit' : 'BlockGatingUnit',
      new GatingUnit(channels * factor, size[0] * size[1], kind, random),
    );
    this.outProject = this.addModule(
      'out_project',
      new FlaxDense({ inFeatures: (channels * factor) / 2, outFeatures: channels, random }),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      const x = blockImages(input, this.patch);
      const y = this.outProject.forward(
        this.gating.forward(gelu(this.inProject.forward(this.layerNorm.forward(x)), 'tanh')),
      );
      return unblockImages(tf.add(x, dropout(y, this.dropRate, options)), this.grid, this.patch);
    });
  }
}

export interface MultiAxisGmlpBlockOptions {
  channels: number;
  /** Height and width of the feature maps the block sees (the gating MLPs are sized by it). */
  imageSize: Size;
  /** Local block size (fh, fw): the block gMLP mixes the fh * fw tokens of each block. */
  blockSize: Size;
  /** Global grid size (gh, gw): the grid gMLP mixes the gh * gw tokens at the same offset of every cell. */
  gridSize: Size;
  /** Widening of the block / grid gMLP input projections (default 2). */
  blockGmlpFactor?: number;
  gridGmlpFactor?: number;
  /** Widening of the block's input projection (default 2). */
  inputProjFactor?: number;
  dropRate?: number;
  random?: Random;
}

/**
 * The multi-axis gated MLP block (`ResidualSplitHeadMultiAxisGmlpLayer`) on NHWC [B, H, W, C]:
 * x + Dense(concat(GridGmlp(u), BlockGmlp(v))) with (u, v) = split(GELU(Dense(LN(x)))). Keys
 * `LayerNorm_in`, `in_project`, `GridGmlpLayer.{LayerNorm, in_project, GridGatingUnit.{intermediate_layernorm,
 * Dense_0}, out_project}`, `BlockGmlpLayer.{..., BlockGatingUnit.*}`, `out_project`.
 */
export class MultiAxisGmlpBlock extends Module {
  readonly channels: number;
  readonly imageSize: Size;
  readonly layerNormIn: FlaxLayerNorm;
  readonly inProject: FlaxDense;
  readonly gridGmlp: GmlpLayer;
  readonly blockGmlp: GmlpLayer;
  readonly outProject: FlaxDense;
  readonly dropRate: number;

  constructor(options: MultiAxisGmlpBlockOptions) {
    super();
    const { channels, random } = options;
    const inputFactor = options.inputProjFactor ?? 2;
    this.channels = channels;
    this.imageSize = [options.imageSize[0], options.imageSize[1]];
    this.dropRate = options.dropRate ?? 0;
    const half = (channels * inputFactor) / 2;
    if (!Number.isInteger(half)) {
      throw new Error(
        `${this.location}: channels * inputProjFactor must be even, got ${channels} * ${inputFactor}`,
      );
    }
    this.layerNormIn = this.addModule('LayerNorm_in', new FlaxLayerNorm(channels));
    this.inProject = this.addModule(
      'in_project',
      new FlaxDense({ inFeatures: channels, outFeatures: 2 * half, random }),
    );
    const common = { channels: half, imageSize: this.imageSize, dropRate: this.dropRate, random };
    this.gridGmlp = this.addModule(
      'GridGmlpLayer',
      new GmlpLayer({ ...common, size: options.gridSize, factor: options.gridGmlpFactor ?? 2, kind: 'grid' }),
    );
    this.blockGmlp = this.addModule(
      'BlockGmlpLayer',
      new GmlpLayer({
        ...common,
        size: options.blockSize,
        factor: options.blockGmlpFactor ?? 2,
        kind: 'block',
      }),
    );
    this.outProject = this.addModule(
      'out_project',
      new FlaxDense({ inFeatures: 2 * half, outFeatures: channels, random }),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imageSize[0], this.imageSize[1], this.channels]);
    return tf.tidy(() => {
      const x = gelu(this.inProject.forward(this.layerNormIn.forward(input)), 'tanh');
      const [u, v] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor];
      const mixed = tf.concat([this.gridGmlp.forward(u, options), this.blockGmlp.forward(v, options)], -1);
      return tf.add(dropout(this.outProject.forward(mixed), this.dropRate, options), input);
    });
  }
}

/** `CALayer`: x * sigmoid(Conv_1(ReLU(Conv_0(mean_hw(x))))). */
class ChannelAttention extends Module {
  readonly conv0: FlaxConv;
  readonly conv1: FlaxConv;

  constructor(features: number, reduction: number, random?: Random) {
    super();
    const reduced = Math.floor(features / reduction);
    this.conv0 = this.addModule(
      'Conv_0',
      new FlaxConv({ inFeatures: features, features: reduced, kernelSize: 1, random }),
    );
    this.conv1 = this.addModule(
      'Conv_1',
      new FlaxConv({ inFeatures: reduced, features, kernelSize: 1, random }),
    );
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const pooled = tf.mean(input, [1, 2], true);
      return tf.mul(input, tf.sigmoid(this.conv1.forward(tf.relu(this.conv0.forward(pooled)))));
    });
  }
}

/** `RCAB`: x + CA(Conv3x3(leaky_relu(Conv3x3(LN(x)), 0.2))). */
class Rcab extends Module {
  readonly layerNorm: FlaxLayerNorm;
  readonly conv1: FlaxConv;
  readonly conv2: FlaxConv;
  readonly channelAttention: ChannelAttention;

  constructor(features: number, reduction: number, random?: Random) {
    super();
    this.layerNorm = this.addModule('LayerNorm', new FlaxLayerNorm(features));
    this.conv1 = this.addModule(
      'conv1',
      new FlaxConv({ inFeatures: features, features, kernelSize: 3, random }),
    );
    this.conv2 = this.addModule(
      'conv2',
      new FlaxConv({ inFeatures: features, features, kernelSize: 3, random }),
    );
    this.channelAttention = this.addModule(
      'channel_attention',
      new ChannelAttention(features, reduction, random),
    );
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const y = this.conv2.forward(tf.leakyRelu(this.conv1.forward(this.layerNorm.forward(input)), 0.2));
      return tf.add(this.channelAttention.forward(y), input);
    });
  }
}

/** `MlpBlock`: Dense_1(GELU(Dense_0(x))). */
class MlpBlock extends Module {
  readonly dense0: FlaxDense;
  readonly dense1: FlaxDense;

  constructor(features: number, hidden: number, random?: Random) {
    super();
    this.dense0 = this.addModule(
      'Dense_0',
      new FlaxDense({ inFeatures: features, outFeatures: hidden, random }),
    );
    this.dense1 = this.addModule(
      'Dense_1',
      new FlaxDense({ inFeatures: hidden, outFeatures: features, random }),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions, dropRate: number): tf.Tensor {
    return tf.tidy(() =>
      this.dense1.forward(dropout(gelu(this.dense0.forward(input), 'tanh'), dropRate, options)),
    );
  }
}

/** `RDCAB`: x + CA(MlpBlock(LN(x))). */
class Rdcab extends Module {
  readonly layerNorm: FlaxLayerNorm;
  readonly channelMixing: MlpBlock;
  readonly channelAttention: ChannelAttention;

  constructor(features: number, reduction: number, random?: Random) {
    super();
    this.layerNorm = this.addModule('LayerNorm', new FlaxLayerNorm(features));
    this.channelMixing = this.addModule('channel_mixing', new MlpBlock(features, features, random));
    this.channelAttention = this.addModule(
      'channel_attention',
      new ChannelAttention(features, reduction, random),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions, dropRate: number): tf.Tensor {
    return tf.tidy(() =>
      tf.add(
        input,
        this.channelAttention.forward(
          this.channelMixing.forward(this.layerNorm.forward(input), options, dropRate),
        ),
      ),
    );
  }
}

/** `GetSpatialGatingWeights`: grid and block Dense layers over the spatial axes (bias init ones). */
class SpatialGatingWeights extends Module {
  readonly layerNormIn: FlaxLayerNorm;
  readonly inProject: FlaxDense;
  readonly gridDense: FlaxDense;
  readonly blockDense: FlaxDense;
  readonly outProject: FlaxDense;
  readonly gridSize: Size;
  readonly gridPatch: Size;
  readonly blockSize: Size;
  readonly blockGrid: Size;
  readonly dropRate: number;

  constructor(options: {
    channels: number;
    imageSize: Size;
    blockSize: Size;
    gridSize: Size;
    dropRate: number;
    random?: Random;
  }) {
    super();
    const { channels, imageSize, blockSize, gridSize, random } = options;
    checkDivides(this.location, imageSize, gridSize, 'gridSize');
    checkDivides(this.location, imageSize, blockSize, 'blockSize');
    this.dropRate = options.dropRate;
    this.gridSize = gridSize;
    this.gridPatch = [imageSize[0] / gridSize[0], imageSize[1] / gridSize[1]];
    this.blockSize = blockSize;
    this.blockGrid = [imageSize[0] / blockSize[0], imageSize[1] / blockSize[1]];
    this.layerNormIn = this.addModule('LayerNorm_in', new FlaxLayerNorm(channels));
    this.inProject = this.addModule(
      'in_project',
      new FlaxDense({ inFeatures: channels, outFeatures: 2 * channels, kernelInit: 'lecun', random }),
    );
    const gridTokens = gridSize[0] * gridSize[1];
    const blockTokens = blockSize[0] * blockSize[1];
    this.gridDense = this.addModule(
      'Dense_0',
      new FlaxDense({ inFeatures: gridTokens, outFeatures: gridTokens, biasInit: 'ones', random }),
    );
    this.blockDense = this.addModule(
      'Dense_1',
      new FlaxDense({ inFeatures: blockTokens, outFeatures: blockTokens, biasInit: 'ones', random }),
    );
    this.outProject = this.addModule(
      'out_project',
      new FlaxDense({ inFeatures: 2 * channels, outFeatures: channels, kernelInit: 'lecun', random }),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      const x = gelu(this.inProject.forward(this.layerNormIn.forward(input)), 'tanh');
      const [u, v] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor];
      const gridMixed = unblockImages(
        denseOverAxis(this.gridDense, blockImages(u, this.gridPatch), 'grid'),
        this.gridSize,
        this.gridPatch,
      );
      const blockMixed = unblockImages(
        denseOverAxis(this.blockDense, blockImages(v, this.blockSize), 'block'),
        this.blockGrid,
        this.blockSize,
      );
      return dropout(this.outProject.forward(tf.concat([gridMixed, blockMixed], -1)), this.dropRate, options);
    });
  }
}

export interface CrossGatingBlockOptions {
  /** Channels of x and of y (y before the optional up-sampling). */
  xChannels: number;
  yChannels: number;
  /** Channels of both outputs. */
  features: number;
  /** Height and width of x (and of y after up-sampling). */
  imageSize: Size;
  blockSize: Size;
  gridSize: Size;
  /** Up-sample y 2x with a transposed conv first (`ConvTranspose_0`, default true). */
  upsampleY?: boolean;
  dropRate?: number;
  random?: Random;
}

/**
 * The cross-gating block (`CrossGatingBlock`): x and y each go through Conv1x1 -> LN -> Dense -> GELU,
 * each produces spatial gating weights (`SplitHeadMultiAxisGating_{x,y}`), and each is gated by the
 * other's: y' = Dense(y * gx) + y0, x' = Dense(x * gy) + y' + x0. Returns [x', y'].
 */
export class CrossGatingBlock extends Module {
  readonly features: number;
  readonly imageSize: Size;
  readonly upsample: FlaxConvTransposeUp | null;
  readonly convX: FlaxConv;
  readonly convY: FlaxConv;
  readonly layerNormX: FlaxLayerNorm;
  readonly inProjectX: FlaxDense;
  readonly gatingX: SpatialGatingWeights;
  readonly layerNormY: FlaxLayerNorm;
  readonly inProjectY: FlaxDense;
  readonly gatingY: SpatialGatingWeights;
  readonly outProjectY: FlaxDense;
  readonly outProjectX: FlaxDense;
  readonly dropRate: number;

  constructor(options: CrossGatingBlockOptions) {
    super();
    const { features, random } = options;
    this.features = features;
    this.imageSize = [options.imageSize[0], options.imageSize[1]];
    this.dropRate = options.dropRate ?? 0;
    const upsample = options.upsampleY ?? true;
    this.upsample = upsample
      ? this.addModule(
          'ConvTranspose_0',
          new FlaxConvTransposeUp({ inFeatures: options.yChannels, features, random }),
        )
      : null;
    this.convX = this.addModule(
      'Conv_0',
      new FlaxConv({ inFeatures: options.xChannels, features, kernelSize: 1, random }),
    );
    this.convY = this.addModule(
      'Conv_1',
      new FlaxConv({ inFeatures: upsample ? features : options.yChannels, features, kernelSize: 1, random }),
    );
    const lecun = (name: string) =>
      this.addModule(
        name,
        new FlaxDense({ inFeatures: features, outFeatures: features, kernelInit: 'lecun', random }),
      );
    const gating = {
      channels: features,
      imageSize: this.imageSize,
      blockSize: options.blockSize,
      gridSize: options.gridSize,
      dropRate: this.dropRate,
      random,
    };
    this.layerNormX = this.addModule('LayerNorm_x', new FlaxLayerNorm(features));
    this.inProjectX = lecun('in_project_x');
    this.gatingX = this.addModule('SplitHeadMultiAxisGating_x', new SpatialGatingWeights(gating));
    this.layerNormY = this.addModule('LayerNorm_y', new FlaxLayerNorm(features));
    this.inProjectY = lecun('in_project_y');
    this.gatingY = this.addModule('SplitHeadMultiAxisGating_y', new SpatialGatingWeights(gating));
    this.outProjectY = lecun('out_project_y');
    this.outProjectX = lecun('out_project_x');
  }

  forward(x: tf.Tensor, y: tf.Tensor, options: ForwardOptions = {}): [tf.Tensor, tf.Tensor] {
    return tf.tidy(() => {
      const shortcutX = this.convX.forward(x);
      const shortcutY = this.convY.forward(this.upsample ? this.upsample.forward(y) : y);
      const [height, width] = this.imageSize;
      for (const [name, value] of [
        ['x', shortcutX],
        ['y', shortcutY],
      ] as const) {
        if (value.shape[1] !== height || value.shape[2] !== width) {
          throw new Error(
            `${this.location}: ${name} gives a ${value.shape[1]}x${value.shape[2]} map, expected ${height}x${width}`,
          );
        }
      }
      const xGated = gelu(this.inProjectX.forward(this.layerNormX.forward(shortcutX)), 'tanh');
      const gx = this.gatingX.forward(xGated, options);
      const yGated = gelu(this.inProjectY.forward(this.layerNormY.forward(shortcutY)), 'tanh');
      const gy = this.gatingY.forward(yGated, options);
      const yOut = tf.add(
        dropout(this.outProjectY.forward(tf.mul(yGated, gx)), this.dropRate, options),
        shortcutY,
      );
      const xOut = tf.addN([
        dropout(this.outProjectX.forward(tf.mul(xGated, gy)), this.dropRate, options),
        yOut,
        shortcutX,
      ]);
      return [xOut, yOut];
    });
  }
}

interface StageOptions {
  numGroups: number;
  channelsReduction: number;
  blockGmlpFactor: number;
  gridGmlpFactor: number;
  inputProjFactor: number;
  dropRate: number;
  random?: Random;
}

/**
 * MAXIM's `UNetEncoderBlock` (without the cross-gating inputs of later MAXIM stages): Conv_0 (1 x 1), then
 * numGroups x (multi-axis gMLP block, RCAB), a long skip, and `Conv_1` (4 x 4 stride 2) down-sampling.
 * Returns [down-sampled, full-resolution].
 */
class UNetEncoderBlock extends Module {
  readonly conv0: FlaxConv;
  readonly groups: Array<[MultiAxisGmlpBlock, Rcab]> = [];
  readonly conv1: FlaxConv | null;

  constructor(
    inChannels: number,
    features: number,
    imageSize: Size,
    blockSize: Size,
    gridSize: Size,
    stage: StageOptions,
    downsample = true,
  ) {
    super();
    const random = stage.random;
    this.conv0 = this.addModule(
      'Conv_0',
      new FlaxConv({ inFeatures: inChannels, features, kernelSize: 1, random }),
    );
    for (let index = 0; index < stage.numGroups; index++) {
      const mixing = this.addModule(
        `SplitHeadMultiAxisGmlpLayer_${index}`,
        new MultiAxisGmlpBlock({ channels: features, imageSize, blockSize, gridSize, ...stage }),
      );
      // the reference's name has no underscore before the index here (`channel_attention_block_1{i}`)
      const attention = this.addModule(
        `channel_attention_block_1${index}`,
        new Rcab(features, stage.channelsReduction, random),
      );
      this.groups.push([mixing, attention]);
    }
    this.conv1 = downsample
      ? this.addModule(
          'Conv_1',
          new FlaxConv({ inFeatures: features, features, kernelSize: 4, stride: 2, random }),
        )
      : null;
  }

  /** Returns [down-sampled, full resolution]; without down-sampling both are the full-resolution output. */
  forward(input: tf.Tensor, options: ForwardOptions): [tf.Tensor, tf.Tensor] {
    return tf.tidy(() => {
      const shortcut = this.conv0.forward(input);
      let x = shortcut;
      for (const [mixing, attention] of this.groups) x = attention.forward(mixing.forward(x, options));
      x = tf.add(x, shortcut);
      return [this.conv1 ? this.conv1.forward(x) : x, x];
    });
  }
}

/** MAXIM's `BottleneckBlock`: input_proj (1 x 1), numGroups x (multi-axis gMLP block, RDCAB), long skip. */
class BottleneckBlock extends Module {
  readonly inputProj: FlaxConv;
  readonly groups: Array<[MultiAxisGmlpBlock, Rdcab]> = [];
  readonly dropRate: number;

  constructor(channels: number, imageSize: Size, blockSize: Size, stage: StageOptions) {
    super();
    const random = stage.random;
    this.dropRate = stage.dropRate;
    this.inputProj = this.addModule(
      'input_proj',
      new FlaxConv({ inFeatures: channels, features: channels, kernelSize: 1, random }),
    );
    for (let index = 0; index < stage.numGroups; index++) {
      const mixing = this.addModule(
        `SplitHeadMultiAxisGmlpLayer_${index}`,
        new MultiAxisGmlpBlock({ channels, imageSize, blockSize, gridSize: blockSize, ...stage }),
      );
      const attention = this.addModule(
        `channel_attention_block_1_${index}`,
        new Rdcab(channels, stage.channelsReduction, random),
      );
      this.groups.push([mixing, attention]);
    }
  }

  forward(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      const shortcut = this.inputProj.forward(input);
      let x = shortcut;
      for (const [mixing, attention] of this.groups) {
        x = attention.forward(mixing.forward(x, options), options, this.dropRate);
      }
      return tf.add(x, shortcut);
    });
  }
}

export interface MaximClassifierConfig {
  /** Image size, square or [height, width] (default 224); it must halve exactly `depth` times. */
  imgSize?: number | readonly [number, number];
  inChans?: number;
  /** Classes (default 1000; 0 makes `forward` return the pooled features). */
  numClasses?: number;
  /** Channels of the first encoder level; level i has features * 2^i (default 32, MAXIM-S). */
  features?: number;
  /** Encoder levels, each halving the resolution (default 3, as MAXIM). */
  depth?: number;
  /** Multi-axis gMLP + channel-attention pairs per block (default 2, MAXIM-S). */
  numGroups?: number;
  /** Bottleneck blocks at the lowest resolution (default 2, MAXIM-S). */
  numBottleneckBlocks?: number;
  /**
   * Block size per encoder level plus one for the bottleneck (depth + 1 entries; default MAXIM's (16, 16)
   * for the first two levels and (8, 8) below). The bottleneck uses its block size as grid size, as MAXIM.
   */
  blockSizes?: readonly Size[];
  /** Grid size per encoder level (depth entries; default as blockSizes). The cross-gating block uses the last level's. */
  gridSizes?: readonly Size[];
  blockGmlpFactor?: number;
  gridGmlpFactor?: number;
  inputProjFactor?: number;
  /** Squeeze-excitation reduction of the channel-attention layers (default 4). */
  channelsReduction?: number;
  dropRate?: number;
  random?: Random;
}

function defaultSizes(depth: number, extra: number): Size[] {
  return Array.from({ length: depth + extra }, (_, index) => (index < 2 ? [16, 16] : [8, 8]) as Size);
}

/**
 * An image classifier built from MAXIM blocks (an mlzoo design; MAXIM itself is a restoration UNet), on
 * NHWC images [B, H, W, C]: `input_conv` (3 x 3), `encoder_block_{i}` (MAXIM UNet encoder blocks,
 * features * 2^i channels, each ending with a stride-2 conv), `global_block_{i}` (MAXIM bottleneck
 * blocks), `cross_gating_block` (gates the last encoder level's features with the 2x up-sampled
 * bottleneck output), `LayerNorm_out`, mean pooling and the Dense `head`. Names inside the blocks are
 * MAXIM's Flax names (see the file header for the layouts).
 */
export class MaximClassifier extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly depth: number;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'input_conv';
  readonly inputConv: FlaxConv;
  readonly encoders: UNetEncoderBlock[] = [];
  readonly bottlenecks: BottleneckBlock[] = [];
  readonly crossGating: CrossGatingBlock;
  readonly norm: FlaxLayerNorm;
  head: FlaxDense | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: MaximClassifierConfig = {}) {
    super();
    const size = config.imgSize ?? 224;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.inChans = config.inChans ?? 3;
    this.#numClasses = config.numClasses ?? 1000;
    this.#random = config.random;
    const features = config.features ?? 32;
    this.depth = config.depth ?? 3;
    const depth = this.depth;
    const blockSizes = (config.blockSizes ?? defaultSizes(depth, 1)).map(
      (item) => [item[0], item[1]] as Size,
    );
    const gridSizes = (config.gridSizes ?? blockSizes.slice(0, depth)).map(
      (item) => [item[0], item[1]] as Size,
    );
    const stage: StageOptions = {
      numGroups: config.numGroups ?? 2,
      channelsReduction: config.channelsReduction ?? 4,
      blockGmlpFactor: config.blockGmlpFactor ?? 2,
      gridGmlpFactor: config.gridGmlpFactor ?? 2,
      inputProjFactor: config.inputProjFactor ?? 2,
      dropRate: config.dropRate ?? 0,
      random: config.random,
    };
    const numBottleneckBlocks = config.numBottleneckBlocks ?? 2;
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems: string[] = [];
    if (!this.imgSize.every(positive))
      problems.push(`imgSize must be positive integers, got ${String(size)}`);
    if (!positive(this.inChans)) problems.push(`inChans must be a positive integer, got ${this.inChans}`);
    if (!(Number.isInteger(this.#numClasses) && this.#numClasses >= 0)) {
      problems.push(`numClasses must be a non-negative integer, got ${this.#numClasses}`);
    }
    if (!positive(features)) problems.push(`features must be a positive integer, got ${features}`);
    if (!positive(depth)) problems.push(`depth must be a positive integer, got ${depth}`);
    if (!positive(stage.numGroups) || !(Number.isInteger(numBottleneckBlocks) && numBottleneckBlocks >= 0)) {
      problems.push(
        `numGroups must be positive and numBottleneckBlocks non-negative, got ${stage.numGroups}, ${numBottleneckBlocks}`,
      );
    }
    if (!(stage.dropRate >= 0 && stage.dropRate < 1))
      problems.push(`dropRate must be in [0, 1), got ${stage.dropRate}`);
    if (blockSizes.length !== depth + 1 || gridSizes.length !== depth) {
      problems.push(
        `blockSizes needs depth + 1 = ${depth + 1} entries and gridSizes depth = ${depth}, got ${blockSizes.length} and ${gridSizes.length}`,
      );
    }
    const scale = 2 ** Math.max(depth, 0);
    if (this.imgSize[0] % scale !== 0 || this.imgSize[1] % scale !== 0) {
      problems.push(`imgSize ${this.imgSize.join('x')} must be divisible by 2^depth = ${scale}`);
    }
    const levelSize = (level: number): Size => [this.imgSize[0] / 2 ** level, this.imgSize[1] / 2 ** level];
    const divides = (image: Size, item: Size | undefined): boolean => {
      if (!item) return false;
      return item.every(positive) && image[0] % item[0] === 0 && image[1] % item[1] === 0;
    };
    if (problems.length === 0) {
      for (let level = 0; level <= depth; level++) {
        const image = levelSize(level);
        if (!divides(image, blockSizes[level])) {
          problems.push(
            `blockSizes[${level}] [${blockSizes[level]!.join(', ')}] must divide the ${image.join('x')} map`,
          );
        }
        if (level < depth && !divides(image, gridSizes[level])) {
          problems.push(
            `gridSizes[${level}] [${gridSizes[level]!.join(', ')}] must divide the ${image.join('x')} map`,
          );
        }
      }
    }
    if (problems.length > 0) throw new Error(`MaximClassifier: ${problems.join('; ')}`);

    const random = this.#random;
    this.inputConv = this.addModule(
      'input_conv',
      new FlaxConv({ inFeatures: this.inChans, features, kernelSize: 3, random }),
    );
    let channels = features;
    for (let level = 0; level < depth; level++) {
      const width = features * 2 ** level;
      this.encoders.push(
        this.addModule(
          `encoder_block_${level}`,
          new UNetEncoderBlock(
            channels,
            width,
            levelSize(level),
            blockSizes[level]!,
            gridSizes[level]!,
            stage,
          ),
        ),
      );
      channels = width;
    }
    for (let index = 0; index < numBottleneckBlocks; index++) {
      this.bottlenecks.push(
        this.addModule(
          `global_block_${index}`,
          new BottleneckBlock(channels, levelSize(depth), blockSizes[depth]!, stage),
        ),
      );
    }
    this.crossGating = this.addModule(
      'cross_gating_block',
      new CrossGatingBlock({
        xChannels: channels,
        yChannels: channels,
        features: channels,
        imageSize: levelSize(depth - 1),
        blockSize: blockSizes[depth - 1]!,
        gridSize: gridSizes[depth - 1]!,
        upsampleY: true,
        dropRate: stage.dropRate,
        random,
      }),
    );
    this.numFeatures = channels;
    this.headHiddenSize = channels;
    this.norm = this.addModule('LayerNorm_out', new FlaxLayerNorm(channels));
    this.head = this.addModule('head', this.#makeHead(this.#numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): FlaxDense | Identity {
    return numClasses > 0
      ? new FlaxDense({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  #encode(
    input: tf.Tensor,
    options: ForwardOptions,
    keep: (level: number) => boolean,
  ): { outputs: tf.Tensor[]; features: tf.Tensor } {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    const outputs: tf.Tensor[] = [];
    let x = this.inputConv.forward(input);
    let bridge: tf.Tensor = x;
    this.encoders.forEach((encoder, level) => {
      [x, bridge] = encoder.forward(x, options);
      if (keep(level)) outputs.push(bridge);
    });
    for (const bottleneck of this.bottlenecks) x = bottleneck.forward(x, options);
    if (keep(this.depth)) outputs.push(x);
    const [gated] = this.crossGating.forward(bridge, x, options);
    if (keep(this.depth + 1)) outputs.push(gated);
    return { outputs, features: gated };
  }

  /** Encoder, bottleneck, cross gating and LayerNorm: [B, H, W, C] -> [B, H / 2^(depth-1), W / 2^(depth-1), numFeatures]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.norm.forward(this.#encode(input, options, () => false).features));
  }

  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'h', 'w', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = tf.mean(features, [1, 2]);
      return options.preLogits ? pooled : this.head.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /**
   * Features after each encoder level (full resolution of the level, before its down-sampling), after
   * the bottleneck, and after the cross-gating block: depth + 2 taps.
   */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.depth + 2));
    return tf.tidy(() => this.#encode(input, options, (level) => chosen.has(level)).outputs);
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    const old = this.setSubmodule('head', this.#makeHead(numClasses));
    old.dispose();
    this.head = this.getSubmodule('head') as FlaxDense | Identity;
    this.#numClasses = numClasses;
  }
}

/**
 * Resampling matrix [inSize, outSize] of `jax.image.resize(method='bilinear')` (antialiased, as jax's
 * default): output o samples input coordinate (o + 0.5) inSize / outSize - 0.5 with a triangle kernel
 * widened by inSize / outSize when down-sampling, weights normalised to sum 1 over the input.
 */
export function bilinearResizeMatrix(inSize: number, outSize: number): tf.Tensor2D {
  const inverseScale = inSize / outSize;
  const kernelScale = Math.max(inverseScale, 1);
  const values = new Float32Array(inSize * outSize);
  for (let o = 0; o < outSize; o++) {
    const sample = (o + 0.5) * inverseScale - 0.5;
    let total = 0;
    for (let i = 0; i < inSize; i++) total += Math.max(0, 1 - Math.abs(sample - i) / kernelScale);
    if (total === 0 || sample < -0.5 || sample > inSize - 0.5) continue;
    for (let i = 0; i < inSize; i++) {
      values[i * outSize + o] = Math.max(0, 1 - Math.abs(sample - i) / kernelScale) / total;
    }
  }
  return tf.tensor2d(values, [inSize, outSize]);
}

/** MAXIM's `UpSampleRatio`: bilinear resize by `ratio` (a power of two) then a 1 x 1 conv (`Conv_0`). */
class UpSampleRatio extends Module {
  readonly inSize: Size;
  readonly outSize: Size;
  readonly conv: FlaxConv;
  readonly #rows: Float32Array | null;
  readonly #columns: Float32Array | null;

  constructor(inChannels: number, features: number, inSize: Size, ratio: number, random?: Random) {
    super();
    this.inSize = inSize;
    this.outSize = [Math.round(inSize[0] * ratio), Math.round(inSize[1] * ratio)];
    this.conv = this.addModule(
      'Conv_0',
      new FlaxConv({ inFeatures: inChannels, features, kernelSize: 1, random }),
    );
    const matrix = (from: number, to: number) => {
      if (from === to) return null;
      const tensor = bilinearResizeMatrix(from, to);
      const values = tensor.dataSync() as Float32Array;
      tensor.dispose();
      return values;
    };
    this.#rows = matrix(inSize[0], this.outSize[0]);
    this.#columns = matrix(inSize[1], this.outSize[1]);
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [batch, , , channels] = input.shape as number[];
      const [height, width] = this.inSize;
      const [outHeight, outWidth] = this.outSize;
      let x = input;
      if (this.#rows) {
        const rows = tf.tensor2d(this.#rows, [height, outHeight]);
        const moved = tf.reshape(tf.transpose(x, [0, 2, 3, 1]), [-1, height]) as tf.Tensor2D;
        x = tf.transpose(
          tf.reshape(tf.matMul(moved, rows), [batch!, width, channels!, outHeight]),
          [0, 3, 1, 2],
        );
      }
      if (this.#columns) {
        const columns = tf.tensor2d(this.#columns, [width, outWidth]);
        const moved = tf.reshape(tf.transpose(x, [0, 1, 3, 2]), [-1, width]) as tf.Tensor2D;
        x = tf.transpose(
          tf.reshape(tf.matMul(moved, columns), [batch!, outHeight, channels!, outWidth]),
          [0, 1, 3, 2],
        );
      }
      return this.conv.forward(x);
    });
  }
}

/** MAXIM's `UNetDecoderBlock`: `ConvTranspose_0` (2x up) then `UNetEncoderBlock_0` (no down-sampling) on concat(x, bridge). */
class UNetDecoderBlock extends Module {
  readonly up: FlaxConvTransposeUp;
  readonly block: UNetEncoderBlock;

  constructor(
    inChannels: number,
    bridgeChannels: number,
    features: number,
    imageSize: Size,
    blockSize: Size,
    gridSize: Size,
    stage: StageOptions,
  ) {
    super();
    this.up = this.addModule(
      'ConvTranspose_0',
      new FlaxConvTransposeUp({ inFeatures: inChannels, features, random: stage.random }),
    );
    this.block = this.addModule(
      'UNetEncoderBlock_0',
      new UNetEncoderBlock(features + bridgeChannels, features, imageSize, blockSize, gridSize, stage, false),
    );
  }

  forward(input: tf.Tensor, bridge: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => this.block.forward(tf.concat([this.up.forward(input), bridge], -1), options)[0]);
  }
}

export interface MaximUNetConfig {
  /** Image size, square or [height, width] (default 256): it must halve exactly `depth` times. */
  imgSize?: number | readonly [number, number];
  /** Image channels, in and out (default 3). */
  inChans?: number;
  /** Channels of the first level (default 32: MAXIM-S; 64 for MAXIM-M). */
  features?: number;
  /** UNet levels (default 3). */
  depth?: number;
  numGroups?: number;
  numBottleneckBlocks?: number;
  channelsReduction?: number;
  /** Levels that use the high-resolution block and grid sizes (default 2). */
  highResStages?: number;
  blockSizeHr?: Size;
  blockSizeLr?: Size;
  /** Grid size of the high-resolution levels (default (16, 16)); low-resolution levels use blockSizeLr, as the reference. */
  gridSizeHr?: Size;
  blockGmlpFactor?: number;
  gridGmlpFactor?: number;
  inputProjFactor?: number;
  dropRate?: number;
  random?: Random;
}

/**
 * The one-stage MAXIM restoration UNet (`MAXIM` with num_stages = 1 and num_supervision_scales = 1:
 * MAXIM-S-1, MAXIM-M-1) on NHWC images: returns the restored image [B, H, W, inChans] (input + output
 * conv). Keys are MAXIM's Flax names: `stage_0_input_conv_0`, `stage_0_encoder_block_{i}`,
 * `stage_0_global_block_{i}`, `UpSampleRatio_{n}`, `stage_0_cross_gating_block_{i}`,
 * `stage_0_decoder_block_{i}`, `stage_0_output_conv_0`. As in the reference, the first encoder block
 * sees its input twice (concat(x, x): the full-scale input feature is also passed as its skip).
 * Multi-stage variants (S-2, S-3, ...) with SAM and cross-stage gating are not implemented.
 */
export class MaximUNet extends Module {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly depth: number;
  readonly inputConv: FlaxConv;
  readonly encoders: UNetEncoderBlock[] = [];
  readonly bottlenecks: BottleneckBlock[] = [];
  readonly crossGating: CrossGatingBlock[] = [];
  readonly decoders: UNetDecoderBlock[] = [];
  readonly upsamples: UpSampleRatio[] = [];
  readonly outputConv: FlaxConv;

  constructor(config: MaximUNetConfig = {}) {
    super();
    const size = config.imgSize ?? 256;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.inChans = config.inChans ?? 3;
    const features = config.features ?? 32;
    const depth = config.depth ?? 3;
    this.depth = depth;
    const highRes = config.highResStages ?? 2;
    const blockHr = config.blockSizeHr ?? [16, 16];
    const blockLr = config.blockSizeLr ?? [8, 8];
    const gridHr = config.gridSizeHr ?? [16, 16];
    const stage: StageOptions = {
      numGroups: config.numGroups ?? 2,
      channelsReduction: config.channelsReduction ?? 4,
      blockGmlpFactor: config.blockGmlpFactor ?? 2,
      gridGmlpFactor: config.gridGmlpFactor ?? 2,
      inputProjFactor: config.inputProjFactor ?? 2,
      dropRate: config.dropRate ?? 0,
      random: config.random,
    };
    const numBottleneckBlocks = config.numBottleneckBlocks ?? 2;
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const levelSize = (level: number): Size => [this.imgSize[0] / 2 ** level, this.imgSize[1] / 2 ** level];
    const sizes = (level: number): [Size, Size] => (level < highRes ? [blockHr, gridHr] : [blockLr, blockLr]);
    const problems: string[] = [];
    if (!this.imgSize.every(positive) || !positive(this.inChans) || !positive(features) || !positive(depth)) {
      problems.push('imgSize, inChans, features and depth must be positive integers');
    } else if (this.imgSize[0] % 2 ** depth !== 0 || this.imgSize[1] % 2 ** depth !== 0) {
      problems.push(`imgSize ${this.imgSize.join('x')} must be divisible by 2^depth = ${2 ** depth}`);
    } else {
      for (let level = 0; level <= depth; level++) {
        const image = levelSize(level);
        const [block, grid] = level < depth ? sizes(level) : [blockLr, blockLr];
        for (const [name, item] of [
          ['block size', block],
          ['grid size', grid],
        ] as const) {
          if (!(item.every(positive) && image[0] % item[0] === 0 && image[1] % item[1] === 0)) {
            problems.push(
              `level ${level}: ${name} [${item.join(', ')}] must divide the ${image.join('x')} map`,
            );
          }
        }
      }
    }
    if (problems.length > 0) throw new Error(`MaximUNet: ${problems.join('; ')}`);

    const random = config.random;
    this.inputConv = this.addModule(
      'stage_0_input_conv_0',
      new FlaxConv({ inFeatures: this.inChans, features, kernelSize: 3, random }),
    );
    const widths = Array.from({ length: depth }, (_, level) => features * 2 ** level);
    let channels = features;
    for (let level = 0; level < depth; level++) {
      const [block, grid] = sizes(level);
      const inChannels = level === 0 ? 2 * channels : channels;
      this.encoders.push(
        this.addModule(
          `stage_0_encoder_block_${level}`,
          new UNetEncoderBlock(inChannels, widths[level]!, levelSize(level), block, grid, stage),
        ),
      );
      channels = widths[level]!;
    }
    for (let index = 0; index < numBottleneckBlocks; index++) {
      this.bottlenecks.push(
        this.addModule(
          `stage_0_global_block_${index}`,
          new BottleneckBlock(channels, levelSize(depth), blockLr, stage),
        ),
      );
    }
    let yChannels = channels;
    for (let level = depth - 1; level >= 0; level--) {
      for (let j = 0; j < depth; j++) {
        this.upsamples.push(
          this.addModule(
            `UpSampleRatio_${this.upsamples.length}`,
            new UpSampleRatio(widths[j]!, widths[level]!, levelSize(j), 2 ** (j - level), random),
          ),
        );
      }
      const [block, grid] = sizes(level);
      this.crossGating.push(
        this.addModule(
          `stage_0_cross_gating_block_${level}`,
          new CrossGatingBlock({
            xChannels: depth * widths[level]!,
            yChannels,
            features: widths[level]!,
            imageSize: levelSize(level),
            blockSize: block,
            gridSize: grid,
            upsampleY: true,
            dropRate: stage.dropRate,
            random,
          }),
        ),
      );
      yChannels = widths[level]!;
    }
    let xChannels = channels;
    for (let level = depth - 1; level >= 0; level--) {
      for (let j = 0; j < depth; j++) {
        const skipLevel = depth - 1 - j;
        this.upsamples.push(
          this.addModule(
            `UpSampleRatio_${this.upsamples.length}`,
            new UpSampleRatio(
              widths[skipLevel]!,
              widths[level]!,
              levelSize(skipLevel),
              2 ** (skipLevel - level),
              random,
            ),
          ),
        );
      }
      const [block, grid] = sizes(level);
      this.decoders.push(
        this.addModule(
          `stage_0_decoder_block_${level}`,
          new UNetDecoderBlock(
            xChannels,
            depth * widths[level]!,
            widths[level]!,
            levelSize(level),
            block,
            grid,
            stage,
          ),
        ),
      );
      xChannels = widths[level]!;
    }
    this.outputConv = this.addModule(
      'stage_0_output_conv_0',
      new FlaxConv({ inFeatures: features, features: this.inChans, kernelSize: 3, random }),
    );
  }

  /** Restores an image batch: [B, H, W, inChans] -> [B, H, W, inChans]. */
  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    return tf.tidy(() => {
      const depth = this.depth;
      const scale = this.inputConv.forward(input);
      let x = scale;
      const encs: tf.Tensor[] = [];
      this.encoders.forEach((encoder, level) => {
        const [down, bridge] = encoder.forward(level === 0 ? tf.concat([x, scale], -1) : x, options);
        x = down;
        encs.push(bridge);
      });
      for (const bottleneck of this.bottlenecks) x = bottleneck.forward(x, options);
      let globalFeature = x;
      let upsample = 0;
      const skips: tf.Tensor[] = [];
      this.crossGating.forEach((block) => {
        const signal = tf.concat(
          encs.map((enc, j) => this.upsamples[upsample + j]!.forward(enc)),
          -1,
        );
        upsample += depth;
        const [gated, nextGlobal] = block.forward(signal, globalFeature, options);
        skips.push(gated);
        globalFeature = nextGlobal;
      });
      this.decoders.forEach((decoder) => {
        const signal = tf.concat(
          skips.map((skip, j) => this.upsamples[upsample + j]!.forward(skip)),
          -1,
        );
        upsample += depth;
        x = decoder.forward(x, signal, options);
      });
      return tf.add(this.outputConv.forward(x), input);
    });
  }
}

const PAPER = 'MAXIM: Multi-Axis MLP for Image Processing (arXiv 2201.02973)';

/** Presets of the mlzoo MAXIM classifier (pure data); counts from tools/fixtures/maxim.py's PyTorch re-creation. */
export const MAXIM_PRESETS: Record<string, ModelPreset<MaximClassifierConfig>> = {
  maxim_s_classifier_256: {
    config: {
      imgSize: 256,
      inChans: 3,
      numClasses: 1000,
      features: 32,
      depth: 3,
      numGroups: 2,
      numBottleneckBlocks: 2,
      blockSizes: [
        [16, 16],
        [16, 16],
        [8, 8],
        [8, 8],
      ],
      gridSizes: [
        [16, 16],
        [16, 16],
        [8, 8],
      ],
    },
    numParameters: 3_477_656,
    description:
      'mlzoo classifier from MAXIM blocks with MAXIM-S hyper-parameters (features 32, depth 3, 2 groups, 2 bottleneck blocks) at the 256x256 crop MAXIM trains on; not a model from the paper.',
    paper: PAPER,
    source: 'mlzoo (blocks from google-research/maxim maxim/models/maxim.py)',
    packageName: '@mlzoo/mixers',
  },
  maxim_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      features: 24,
      depth: 2,
      numGroups: 1,
      numBottleneckBlocks: 1,
      blockSizes: [
        [7, 7],
        [7, 7],
        [7, 7],
      ],
      gridSizes: [
        [7, 7],
        [7, 7],
      ],
    },
    numParameters: 231_900,
    description:
      'Small MAXIM-block classifier for 28x28 grayscale images: levels of 24 and 48 channels, 7x7 blocks and grids.',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/mixers',
  },
};

/**
 * MAXIM restoration UNets (pure data; image-to-image models, not classifiers, so not registered): the
 * one-stage variants of the reference's `Model(variant=...)`, whose code comments give the counts.
 */
export const MAXIM_UNET_PRESETS: Record<string, ModelPreset<MaximUNetConfig>> = {
  maxim_s_1: {
    config: { imgSize: 256, inChans: 3, features: 32, depth: 3, numGroups: 2, numBottleneckBlocks: 2 },
    numParameters: 6_108_515,
    description:
      'MAXIM-S-1: one-stage MAXIM UNet with 32 base features (reference comment: 6.108515 M params).',
    paper: PAPER,
    source: 'google-research/maxim maxim/models/maxim.py Model(variant="S-1")',
    packageName: '@mlzoo/mixers',
  },
  maxim_m_1: {
    config: { imgSize: 256, inChans: 3, features: 64, depth: 3, numGroups: 2, numBottleneckBlocks: 2 },
    numParameters: 19_361_219,
    description:
      'MAXIM-M-1: one-stage MAXIM UNet with 64 base features (reference comment: 19.361219 M params).',
    paper: PAPER,
    source: 'google-research/maxim maxim/models/maxim.py Model(variant="M-1")',
    packageName: '@mlzoo/mixers',
  },
};

/** `maxim_s_classifier_256` with optional config overrides. */
export function maximSClassifier256(overrides: MaximClassifierConfig = {}): MaximClassifier {
  return new MaximClassifier({ ...MAXIM_PRESETS.maxim_s_classifier_256!.config, ...overrides });
}

/** `maxim_fashion_mnist` with optional config overrides. */
export function maximFashionMnist(overrides: MaximClassifierConfig = {}): MaximClassifier {
  return new MaximClassifier({ ...MAXIM_PRESETS.maxim_fashion_mnist!.config, ...overrides });
}

/** Factory used by the registry. */
export function createMaximClassifier(config: MaximClassifierConfig): MaximClassifier {
  return new MaximClassifier(config);
}

/** Registers the MAXIM classifier presets with core's `createModel`. Nothing registers on import. */
export function registerMaximModels(): void {
  for (const [name, preset] of Object.entries(MAXIM_PRESETS)) {
    registerModel(name, createMaximClassifier, preset);
  }
}
