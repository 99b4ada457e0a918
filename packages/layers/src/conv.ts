// Conv2d (nn.Conv2d) on NHWC images with PyTorch's padding semantics, parameter names and layout.
import { HWIO_TO_OIHW, init, isRecordingGradient, Module, type Random, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export type Size2d = number | readonly [number, number];

export type ConvImplementation = 'auto' | 'native' | 'im2col';

/**
 * The kernels a native conv's gradient needs. tfjs-backend-wasm 4.22 lacks all but the first (and its
 * Conv2DBackpropInput is a naive loop); @mlzoo/core's `installWasmKernelFixes` (run by `setBackend`)
 * registers all four from XNNPACK convolutions and matMuls, so 'auto' trains natively on wasm too.
 * Train step (forward + both gradients), batch 32, wasm on a loaded 2-core machine (load ~15), native
 * with those kernels vs im2col, same run: depthwise 3x3 [14x14x128] 613 vs 6,899 ms (11x), stride 2
 * 472 vs 4,757 (10x); depthwise 7x7 3,579 vs 90,368 (25x), stride 2 1,611 vs 35,456 (22x); depthwise
 * 3x3 [28x28x64] 1,878 vs 17,131 (9x); dense 3x3 32->64 [28x28] 2,820 vs 3,700 (1.3x); dense 3x3
 * stride 2 64->128 [14x14] 542 vs 853 (1.6x); patch embeds 4x4/4 1->64 192 vs 825 (4.3x), 7x7/4 1->64
 * 349 vs 2,093 (6x), 3x3/2 64->192 [7x7] 326 vs 732 (2.2x). A second run, after core's heap-based
 * Slice/PadV2/broadcast kernels (which speed up im2col too): depthwise 10-41x, dense 1.4-2.5x, patch
 * embeds 0.7-2.0x across runs (within this machine's noise). So 'auto' keeps im2col only for backends
 * without these kernels.
 */
const CONV_GRADIENT_KERNELS = [
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
];

function backendHasConvGradients(): boolean {
  const backend = tf.getBackend();
  return CONV_GRADIENT_KERNELS.every((kernel) => tf.getKernel(kernel, backend) != null);
}

export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: Size2d;
  /** Default 1. */
  stride?: Size2d;
  /**
   * PyTorch padding: an int or [h, w] of zeros added on both sides, or 'valid' (none) or 'same' (output
   * size equals input size; stride must be 1; an odd total is split with the extra row/column at the
   * bottom/right, as PyTorch). Default 0.
   */
  padding?: Size2d | 'same' | 'valid';
  /** Default 1. */
  dilation?: Size2d;
  /** Channel groups (default 1); `groups = inChannels` is a depthwise convolution. */
  groups?: number;
  /** Default true. */
  bias?: boolean;
  /**
   * 'native': tfjs conv2d / depthwiseConv2d kernels. 'im2col': gathers the k x k taps with slices and
   * computes one (batched) matMul; same results and parameters, and its gradient needs only
   * slice/pad/matMul kernels, so it trains on backends that lack conv backprop kernels. 'auto' (default):
   * native, except while a gradient is being recorded on a backend without those backprop kernels,
   * where it uses im2col (wasm has them once @mlzoo/core's setBackend installed its kernels; native is
   * 1.3-25x faster there, see CONV_GRADIENT_KERNELS).
   */
  implementation?: ConvImplementation;
  random?: Random;
}

/**
 * Reads an int or [h, w] pair, each a positive integer (`minimum` 1) or, for padding, a non-negative
 * one (`minimum` 0); the error names the module and the option.
 */
function pair(value: Size2d, name: string, where: string, minimum: 0 | 1 = 1): [number, number] {
  const items: unknown[] =
    typeof value === 'number' ? [value, value] : Array.isArray(value) ? [...value] : [];
  if (!(items.length === 2 && items.every((item) => Number.isInteger(item) && (item as number) >= minimum))) {
    const kind = minimum === 1 ? 'a positive integer' : 'a non-negative integer';
    throw new Error(`${where}: ${name} must be ${kind} or a pair of them, got ${describeSize(value)}`);
  }
  return [items[0] as number, items[1] as number];
}

function describeSize(value: unknown): string {
  return Array.isArray(value) ? `[${value.map(String).join(', ')}]` : String(value);
}

function positiveInteger(value: number, name: string, where: string): number {
  if (!(Number.isInteger(value) && value > 0)) {
    throw new Error(`${where}: ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * 2-D convolution as `torch.nn.Conv2d`, on NHWC input [B, H, W, inChannels] -> [B, H', W', outChannels].
 *
 * State dict: `weight` [outChannels, inChannels / groups, kH, kW] (OIHW; stored HWIO for tfjs),
 * `bias` [outChannels]. Padding is applied explicitly with `tf.pad` followed by a 'valid' convolution,
 * so every PyTorch padding (asymmetric 'same' included) is reproduced exactly. Dilation is applied by
 * spreading the kernel with zeros (tfjs has no gradient for dilated convolutions and refuses stride
 * and dilation both above 1); this costs dilation^2 more multiply-adds than a native dilated kernel.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { Conv2d } from '@mlzoo/layers';
 *
 * const conv = new Conv2d({ inChannels: 3, outChannels: 8, kernelSize: 3, padding: 1 });
 * conv.forward(tf.zeros([1, 32, 32, 3])).shape; // [1, 32, 32, 8]
 * ```
 */
export class Conv2d extends Module implements TensorModule {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly padding: [number, number] | 'same' | 'valid';
  readonly implementation: ConvImplementation;
  /** Stored HWIO [kH, kW, inChannels / groups, outChannels]. */
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(options: Conv2dOptions) {
    super();
    // Everything is checked before any variable exists, so a bad option leaks nothing.
    const where = this.location;
    const inChannels = positiveInteger(options.inChannels, 'inChannels', where);
    const outChannels = positiveInteger(options.outChannels, 'outChannels', where);
    const groups = positiveInteger(options.groups ?? 1, 'groups', where);
    if (inChannels % groups !== 0 || outChannels % groups !== 0) {
      throw new Error(
        `${where}: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${groups})`,
      );
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.groups = groups;
    this.kernelSize = pair(options.kernelSize, 'kernelSize', where);
    this.stride = pair(options.stride ?? 1, 'stride', where);
    this.dilation = pair(options.dilation ?? 1, 'dilation', where);
    const implementation = options.implementation ?? 'auto';
    if (implementation !== 'native' && implementation !== 'im2col' && implementation !== 'auto') {
      throw new Error(
        `${where}: implementation must be 'auto', 'native' or 'im2col', got '${String(implementation)}'`,
      );
    }
    this.implementation = implementation;
    const padding = options.padding ?? 0;
    this.padding = padding === 'same' || padding === 'valid' ? padding : pair(padding, 'padding', where, 0);
    if (padding === 'same' && (this.stride[0] !== 1 || this.stride[1] !== 1)) {
      throw new Error(
        `${where}: padding 'same' needs stride 1 (as PyTorch), got stride [${this.stride.join(', ')}]`,
      );
    }
    const [kernelHeight, kernelWidth] = this.kernelSize;
    const fanIn = (inChannels / groups) * kernelHeight * kernelWidth;
    const fanOut = (outChannels / groups) * kernelHeight * kernelWidth;
    const random = options.random;
    this.weight = this.addParameter(
      'weight',
      init.torchDefaultWeight([kernelHeight, kernelWidth, inChannels / groups, outChannels], {
        fanIn,
        fanOut,
        random,
      }),
      { layout: HWIO_TO_OIHW },
    );
    this.bias =
      (options.bias ?? true)
        ? this.addParameter('bias', init.torchDefaultBias([outChannels], { fanIn, random }))
        : null;
  }

  /** Zero padding [[top, bottom], [left, right]] that PyTorch applies. */
  paddingAmounts(): [[number, number], [number, number]] {
    if (this.padding === 'valid')
      return [
        [0, 0],
        [0, 0],
      ];
    if (this.padding === 'same') {
      const total = this.kernelSize.map((kernel, axis) => this.dilation[axis]! * (kernel - 1));
      return [
        [Math.floor(total[0]! / 2), total[0]! - Math.floor(total[0]! / 2)],
        [Math.floor(total[1]! / 2), total[1]! - Math.floor(total[1]! / 2)],
      ];
    }
    return [
      [this.padding[0], this.padding[0]],
      [this.padding[1], this.padding[1]],
    ];
  }

  forward(input: tf.Tensor): tf.Tensor {
    this.checkShape(input, ['B', 'H', 'W', this.inChannels]);
    return tf.tidy(() => {
      const [[top, bottom], [left, right]] = this.paddingAmounts();
      const padded =
        top + bottom + left + right > 0
          ? tf.pad(input, [
              [0, 0],
              [top, bottom],
              [left, right],
              [0, 0],
            ])
          : input;
      const [, height, width] = padded.shape as number[];
      const extentHeight = this.dilation[0] * (this.kernelSize[0] - 1) + 1;
      const extentWidth = this.dilation[1] * (this.kernelSize[1] - 1) + 1;
      if (height! < extentHeight || width! < extentWidth) {
        throw new Error(
          `${this.location}: padded input ${height}x${width} is smaller than the dilated kernel ${extentHeight}x${extentWidth}`,
        );
      }
      const useIm2col =
        this.implementation === 'im2col' ||
        (this.implementation === 'auto' && isRecordingGradient() && !backendHasConvGradients());
      let output = useIm2col ? this.#im2col(padded as tf.Tensor4D) : this.#convolve(padded as tf.Tensor4D);
      if (this.bias) output = tf.add(output, this.bias);
      return output;
    });
  }

  #im2col(input: tf.Tensor4D): tf.Tensor4D {
    const [batch, height, width, channels] = input.shape;
    const [kernelHeight, kernelWidth] = this.kernelSize;
    const [strideHeight, strideWidth] = this.stride;
    const [dilationHeight, dilationWidth] = this.dilation;
    const outHeight = Math.floor((height - dilationHeight * (kernelHeight - 1) - 1) / strideHeight) + 1;
    const outWidth = Math.floor((width - dilationWidth * (kernelWidth - 1) - 1) / strideWidth) + 1;
    const taps: tf.Tensor[] = [];
    for (let row = 0; row < kernelHeight; row++) {
      for (let column = 0; column < kernelWidth; column++) {
        const region = tf.slice(
          input,
          [0, row * dilationHeight, column * dilationWidth, 0],
          [batch, (outHeight - 1) * strideHeight + 1, (outWidth - 1) * strideWidth + 1, channels],
        );
        taps.push(subsample(region as tf.Tensor4D, this.stride));
      }
    }
    // [B, Ho, Wo, kH * kW * C]: taps in (row, column) order, matching the HWIO kernel flattened
    // row-major. A rank-4 concat, not a rank-5 stack: the gradient then slices rank-4 tensors, which
    // tfjs-backend-wasm does natively (it slices rank-5 and higher element by element).
    const patches = tf.concat(taps, 3);
    const rows = batch * outHeight * outWidth;
    const groups = this.groups;
    const groupIn = channels / groups;
    const groupOut = this.outChannels / groups;
    const tapCount = kernelHeight * kernelWidth;
    let output: tf.Tensor;
    if (groups === 1) {
      output = tf.matMul(
        tf.reshape(patches, [rows, tapCount * channels]) as tf.Tensor2D,
        tf.reshape(this.weight, [tapCount * channels, this.outChannels]) as tf.Tensor2D,
      );
    } else {
      const grouped = tf.transpose(tf.reshape(patches, [rows, tapCount, groups, groupIn]), [2, 0, 1, 3]);
      const kernels = tf.transpose(
        tf.reshape(this.weight, [tapCount * groupIn, groups, groupOut]),
        [1, 0, 2],
      );
      const products = tf.matMul(
        tf.reshape(grouped, [groups, rows, tapCount * groupIn]) as tf.Tensor3D,
        kernels as tf.Tensor3D,
      );
      output = tf.transpose(products, [1, 0, 2]);
    }
    return tf.reshape(output, [batch, outHeight, outWidth, this.outChannels]) as tf.Tensor4D;
  }

  #convolve(input: tf.Tensor4D): tf.Tensor4D {
    const stride = this.stride;
    // tfjs has no gradient for dilated convolutions (and refuses stride > 1 with dilation > 1), so a
    // dilated kernel is expanded with zeros between its taps and convolved without dilation.
    const kernel = dilateKernel(this.weight as tf.Tensor4D, this.dilation);
    if (this.groups === 1) return tf.conv2d(input, kernel, stride, 'valid', 'NHWC');
    const [kernelHeight, kernelWidth] = kernel.shape;
    if (this.groups === this.inChannels) {
      // Depthwise: PyTorch output channel o = c * multiplier + m, which is HWIO [kH, kW, 1, C * M] read as
      // [kH, kW, C, M] in row-major order.
      const multiplier = this.outChannels / this.inChannels;
      const depthwise = tf.reshape(kernel, [
        kernelHeight,
        kernelWidth,
        this.inChannels,
        multiplier,
      ]) as tf.Tensor4D;
      return tf.depthwiseConv2d(input, depthwise, stride, 'valid', 'NHWC');
    }
    const inputs = tf.split(input, this.groups, 3);
    const kernels = tf.split(kernel, this.groups, 3);
    const outputs = inputs.map((part, group) =>
      tf.conv2d(part as tf.Tensor4D, kernels[group] as tf.Tensor4D, stride, 'valid', 'NHWC'),
    );
    return tf.concat(outputs, 3);
  }
}

/**
 * Inserts dilation - 1 zeros between kernel taps along H and W (HWIO): [kH, kW, I, O] ->
 * [d (kH - 1) + 1, ...]. Built from pad, reshape and slice, which all have gradients.
 */
function dilateKernel(kernel: tf.Tensor4D, dilation: [number, number]): tf.Tensor4D {
  let result: tf.Tensor = kernel;
  for (const axis of [0, 1] as const) {
    const rate = dilation[axis];
    if (rate === 1) continue;
    const shape = result.shape;
    const taps = shape[axis]!;
    const spread = tf.expandDims(result, axis + 1);
    const paddings: Array<[number, number]> = spread.shape.map(() => [0, 0]);
    paddings[axis + 1] = [0, rate - 1];
    const merged = [...shape];
    merged[axis] = taps * rate;
    const flat = tf.reshape(tf.pad(spread, paddings), merged);
    const size = [...shape];
    size[axis] = rate * (taps - 1) + 1;
    result = tf.slice(flat, [0, 0, 0, 0], size);
  }
  return result as tf.Tensor4D;
}

/** Keeps every stride-th row and column (from 0) with pad, reshape and slice, which all have gradients. */
function subsample(input: tf.Tensor4D, stride: [number, number]): tf.Tensor4D {
  if (stride[0] === 1 && stride[1] === 1) return input;
  const [batch, height, width, channels] = input.shape;
  const outHeight = Math.ceil(height / stride[0]);
  const outWidth = Math.ceil(width / stride[1]);
  const padded = tf.pad(input, [
    [0, 0],
    [0, outHeight * stride[0] - height],
    [0, outWidth * stride[1] - width],
    [0, 0],
  ]);
  // every stride-th row, then every stride-th column, each as a rank-3 slice (wasm slices rank-5 and
  // higher tensors element by element, ~100x slower than these)
  const rowGroups = tf.reshape(padded, [batch * outHeight, stride[0], outWidth * stride[1] * channels]);
  const rows = tf.slice(rowGroups, [0, 0, 0], [batch * outHeight, 1, outWidth * stride[1] * channels]);
  const columnGroups = tf.reshape(rows, [batch * outHeight * outWidth, stride[1], channels]);
  const picked = tf.slice(columnGroups, [0, 0, 0], [batch * outHeight * outWidth, 1, channels]);
  return tf.reshape(picked, [batch, outHeight, outWidth, channels]) as tf.Tensor4D;
}
