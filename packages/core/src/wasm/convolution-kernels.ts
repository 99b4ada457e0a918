// Convolution gradient kernels that tfjs-backend-wasm 4.22 lacks or has only as naive loops, built
// from its native kernels (XNNPACK matmul and convolutions, memcpy slices).
//
// - Conv2DBackpropFilter: for each of the kH x kW taps, the [N, Ci] slice of x it reads (N = batch x
//   output positions) times dy: dW[tap] = x_tap^T dy, one XNNPACK matmul per tap ([Co, N] x [N, Ci]
//   with dy transposed once). Below 8 input channels (patch embeddings of 1-3 channel images) the taps
//   are stacked into [kH kW Ci, N] and multiplied once, as per-tap products that thin are slow.
// - DepthwiseConv2dNativeBackpropFilter: one XNNPACK depthwise convolution of x, seen as one image of
//   B x C channels, with dy as its [OH, OW] filter, then a sum over the batch. Measured against a
//   per-tap multiply and sum (loaded machine, [32, 14, 14, 128]): 137 vs 424 ms for 3x3, 462 vs
//   2,593 ms for 7x7, 60 vs 246 ms for 3x3 stride 2 (the forward convolutions: 36, 354, 14 ms).
// - DepthwiseConv2dNativeBackpropInput and Conv2DBackpropInput: a (depthwise) convolution of dy, spread
//   with zeros between rows and columns when strided, with the spatially flipped filter (for the dense
//   conv, its in and out channels swapped). wasm's own Conv2DBackpropInput is a naive loop: 2.0 s for
//   a 3x3 32->64 conv on [32, 28, 28, 32], against 0.14 s for the forward convolution (loaded machine).
//
// Taps are read without a gather (wasm's Gather copies element by element: 1.5 s for 7M floats): the
// zero-padded image is split once into its stride x stride phases (one transpose), and each tap is then
// one rank-3 slice of a phase, copied in runs of OW x C floats.
// Only NHWC ('channelsLast'), as the wasm forward kernels.
import * as tf from '@tensorflow/tfjs-core';
import { type KernelArguments, type KernelCalls, withKernelCalls } from './kernel-calls.js';

type Pair = [number, number];

/** Below this many input channels, Conv2DBackpropFilter stacks the taps into one matmul. */
const STACKED_TAPS_BELOW_CHANNELS = 8;

interface TapGeometry {
  filterHeight: number;
  filterWidth: number;
  stride: Pair;
  dilation: Pair;
  outHeight: number;
  outWidth: number;
  /** [top, bottom, left, right] zeros around x. */
  padding: [number, number, number, number];
}

function geometry(info: tf.backend_util.Conv2DInfo): TapGeometry {
  return {
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    stride: [info.strideHeight, info.strideWidth],
    dilation: [info.dilationHeight, info.dilationWidth],
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    padding: [info.padInfo.top, info.padInfo.bottom, info.padInfo.left, info.padInfo.right],
  };
}

function requireChannelsLast(where: string, dataFormat: unknown): void {
  if (dataFormat != null && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(
      `mlzoo wasm ${where}: only NHWC data is supported, got dataFormat '${String(dataFormat)}'`,
    );
  }
}

/**
 * Calls `visit` with each tap of a convolution over x [B, H, W, C], in (tap row, tap column) order: the
 * [B * OH * OW, C] values x_padded[b, oh * sH + row * dH, ow * sW + column * dW, c]. Each tap is freed
 * after its visit.
 */
export function forEachTap(
  calls: KernelCalls,
  x: tf.TensorInfo,
  taps: TapGeometry,
  visit: (tap: tf.TensorInfo, row: number, column: number) => void,
): void {
  const [batch, height, width, channels] = x.shape as [number, number, number, number];
  const [strideHeight, strideWidth] = taps.stride;
  const [top, , left] = taps.padding;
  // rows and columns past the last tap of the last output are never read; the padded size is rounded up
  // to a multiple of the stride so the image splits into phases
  const neededHeight = (taps.outHeight - 1) * strideHeight + (taps.filterHeight - 1) * taps.dilation[0] + 1;
  const neededWidth = (taps.outWidth - 1) * strideWidth + (taps.filterWidth - 1) * taps.dilation[1] + 1;
  const paddedHeight = Math.ceil(Math.max(neededHeight, top + height) / strideHeight) * strideHeight;
  const paddedWidth = Math.ceil(Math.max(neededWidth, left + width) / strideWidth) * strideWidth;
  const padBottom = paddedHeight - top - height;
  const padRight = paddedWidth - left - width;
  const padded =
    top + padBottom + left + padRight > 0
      ? calls.pad(x, [
          [0, 0],
          [top, padBottom],
          [left, padRight],
          [0, 0],
        ])
      : x;
  const phaseHeight = paddedHeight / strideHeight;
  const phaseWidth = paddedWidth / strideWidth;
  // [B, sH, sW, Hp / sH, Wp / sW, C]: phase (p, q) holds the rows p, p + sH, ... and columns q, q + sW, ...
  const phases =
    strideHeight * strideWidth > 1
      ? calls.transpose(
          calls.reshape(padded, [batch, phaseHeight, strideHeight, phaseWidth, strideWidth, channels]),
          [0, 2, 4, 1, 3, 5],
        )
      : calls.reshape(padded, [batch, 1, 1, phaseHeight, phaseWidth, channels]);
  if (padded !== x && phases.dataId !== padded.dataId) calls.release(padded);
  const phaseSize = phaseHeight * phaseWidth * channels;
  const phaseRows = calls.reshape(phases, [batch, strideHeight * strideWidth, phaseSize]);
  const phase = new Map<number, tf.TensorInfo>();
  for (let row = 0; row < taps.filterHeight; row++) {
    for (let column = 0; column < taps.filterWidth; column++) {
      const rowOffset = row * taps.dilation[0];
      const columnOffset = column * taps.dilation[1];
      const phaseIndex = (rowOffset % strideHeight) * strideWidth + (columnOffset % strideWidth);
      let image = phase.get(phaseIndex);
      if (!image) {
        image =
          strideHeight * strideWidth > 1
            ? calls.slice(phaseRows, [0, phaseIndex, 0], [batch, 1, phaseSize])
            : phaseRows;
        image = calls.reshape(image, [batch, phaseHeight, phaseWidth * channels]);
        phase.set(phaseIndex, image);
      }
      const tap = calls.slice(
        image,
        [0, Math.floor(rowOffset / strideHeight), Math.floor(columnOffset / strideWidth) * channels],
        [batch, taps.outHeight, taps.outWidth * channels],
      );
      visit(calls.reshape(tap, [batch * taps.outHeight * taps.outWidth, channels]), row, column);
      calls.release(tap);
    }
  }
  for (const image of phase.values()) calls.release(image);
}

export function conv2DBackpropFilterKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  requireChannelsLast('Conv2DBackpropFilter', dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const taps = geometry(info);
  const tapCount = taps.filterHeight * taps.filterWidth;
  const { inChannels, outChannels } = info;
  const rows = info.batchSize * info.outHeight * info.outWidth;
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    const gradient = calls.reshape(dy, [rows, outChannels]);
    const parts: tf.TensorInfo[] = [];
    if (inChannels < STACKED_TAPS_BELOW_CHANNELS) {
      forEachTap(calls, x, taps, (tap) => {
        parts.push(calls.transpose(tap, [1, 0]));
      });
      // [kH kW Ci, N] x [N, Co]: HWIO directly
      const stacked = calls.concat(parts, 0);
      return calls.reshape(calls.matMul(stacked, gradient), filterShape);
    }
    // [Co, N] x [N, Ci] per tap, then [kH kW, Co, Ci] -> [kH kW, Ci, Co]
    const transposed = calls.transpose(gradient, [1, 0]);
    forEachTap(calls, x, taps, (tap) => {
      parts.push(calls.matMul(transposed, tap));
    });
    const stacked = calls.concat(parts, 0);
    const perTap = calls.reshape(stacked, [tapCount, outChannels, inChannels]);
    return calls.reshape(calls.transpose(perTap, [0, 2, 1]), filterShape);
  });
}

export function depthwiseConv2dNativeBackpropFilterKernel({
  inputs,
  backend,
  attrs,
}: KernelArguments): tf.TensorInfo {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const [filterHeight, filterWidth, , multiplier] = filterShape;
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    // dW[r, c, ch, m] = sum_{b, oh, ow} x_padded[b, oh sH + r dH, ow sW + c dW, ch] dy[b, oh, ow, ch M + m]:
    // a depthwise convolution of the image [1, H, W, B C] with the filter dy [OH, OW, B C, M], its
    // dilation the forward stride and its stride the forward dilation, then a sum over the batch.
    const image = calls.reshape(calls.transpose(x, [1, 2, 0, 3]), [
      1,
      inHeight,
      inWidth,
      batchSize * inChannels,
    ]);
    const filter = calls.reshape(calls.transpose(dy, [1, 2, 0, 3]), [
      outHeight,
      outWidth,
      batchSize * inChannels,
      multiplier,
    ]);
    // the padded image must end right after the last tap of the last output
    const extentHeight = (outHeight - 1) * info.strideHeight + (filterHeight - 1) * info.dilationHeight + 1;
    const extentWidth = (outWidth - 1) * info.strideWidth + (filterWidth - 1) * info.dilationWidth + 1;
    const { top, left } = info.padInfo;
    const { input, padding } = cropForConvolution(calls, image, [
      top,
      extentHeight - top - inHeight,
      left,
      extentWidth - left - inWidth,
    ]);
    const [padTop, padBottom, padLeft, padRight] = padding;
    const perImage = calls.run(
      'DepthwiseConv2dNative',
      { x: input, filter },
      {
        strides: [info.dilationHeight, info.dilationWidth],
        dilations: [info.strideHeight, info.strideWidth],
        pad: [
          [0, 0],
          [padTop, padBottom],
          [padLeft, padRight],
          [0, 0],
        ],
        dataFormat: 'NHWC',
      },
    );
    const summed = calls.sum(
      calls.reshape(perImage, [filterHeight * filterWidth, batchSize, inChannels * multiplier]),
      [1],
    );
    return calls.reshape(summed, filterShape);
  });
}

/**
 * Crops (negative amounts) then pads `x` [B, H, W, C] on H and W; returns the explicit padding left for
 * a convolution to apply.
 */
function cropForConvolution(
  calls: KernelCalls,
  x: tf.TensorInfo,
  [top, bottom, left, right]: [number, number, number, number],
): { input: tf.TensorInfo; padding: [number, number, number, number] } {
  if (top >= 0 && bottom >= 0 && left >= 0 && right >= 0)
    return { input: x, padding: [top, bottom, left, right] };
  const [batch, height, width, channels] = x.shape as [number, number, number, number];
  const cropTop = Math.max(0, -top);
  const cropLeft = Math.max(0, -left);
  const keptHeight = height - cropTop - Math.max(0, -bottom);
  const keptWidth = width - cropLeft - Math.max(0, -right);
  const cropped = calls.slice(x, [0, cropTop, cropLeft, 0], [batch, keptHeight, keptWidth, channels]);
  return {
    input: cropped,
    padding: [Math.max(0, top), Math.max(0, bottom), Math.max(0, left), Math.max(0, right)],
  };
}

/**
 * Inserts stride - 1 zero rows (columns) after every row (column) of `x` [B, H, W, C]:
 * [B, H * sH, W * sW, C], with reshapes and rank-3 pads.
 */
function spreadByStride(
  calls: KernelCalls,
  x: tf.TensorInfo,
  [strideHeight, strideWidth]: Pair,
): tf.TensorInfo {
  const [batch, height, width, channels] = x.shape as [number, number, number, number];
  let result = x;
  if (strideHeight > 1) {
    const rows = calls.pad(calls.reshape(result, [batch * height, 1, width * channels]), [
      [0, 0],
      [0, strideHeight - 1],
      [0, 0],
    ]);
    result = calls.reshape(rows, [batch, height * strideHeight, width, channels]);
  }
  if (strideWidth > 1) {
    const currentHeight = result.shape[1]!;
    const columns = calls.pad(calls.reshape(result, [batch * currentHeight * width, 1, channels]), [
      [0, 0],
      [0, strideWidth - 1],
      [0, 0],
    ]);
    result = calls.reshape(columns, [batch, currentHeight, width * strideWidth, channels]);
  }
  return result;
}

/**
 * dx of a convolution from dy: dx[i] = sum_t z[i + top - t d] f[t], z = dy spread by the stride, is a
 * stride-1 correlation of z, padded by (k - 1) d - top before, with the flipped filter `flipped`
 * (already in the layout `kernelName` takes).
 */
function convolveBack(
  calls: KernelCalls,
  dy: tf.TensorInfo,
  flipped: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  kernelName: 'Conv2D' | 'DepthwiseConv2dNative',
): tf.TensorInfo {
  const spread = spreadByStride(calls, dy, [info.strideHeight, info.strideWidth]);
  const extentHeight = (info.filterHeight - 1) * info.dilationHeight;
  const extentWidth = (info.filterWidth - 1) * info.dilationWidth;
  const top = extentHeight - info.padInfo.top;
  const left = extentWidth - info.padInfo.left;
  const bottom = info.inHeight + extentHeight - top - spread.shape[1]!;
  const right = info.inWidth + extentWidth - left - spread.shape[2]!;
  const { input, padding } = cropForConvolution(calls, spread, [top, bottom, left, right]);
  const [padTop, padBottom, padLeft, padRight] = padding;
  return calls.run(
    kernelName,
    { x: input, filter: flipped },
    {
      strides: [1, 1],
      dilations: [info.dilationHeight, info.dilationWidth],
      pad: [
        [0, 0],
        [padTop, padBottom],
        [padLeft, padRight],
        [0, 0],
      ],
      dataFormat: 'NHWC',
    },
  );
}

export function depthwiseConv2dNativeBackpropInputKernel({
  inputs,
  backend,
  attrs,
}: KernelArguments): tf.TensorInfo {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  const [filterHeight, filterWidth, channels, multiplier] = filter.shape as [number, number, number, number];
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    // every one of the C M channels of dy convolved with its own flipped filter, then summed over M
    const flipped = calls.reshape(calls.run('Reverse', { x: filter }, { dims: [0, 1] }), [
      filterHeight,
      filterWidth,
      channels * multiplier,
      1,
    ]);
    const convolved = convolveBack(calls, dy, flipped, info, 'DepthwiseConv2dNative');
    if (multiplier === 1) return convolved;
    const [batch, height, width] = convolved.shape as [number, number, number];
    return calls.sum(calls.reshape(convolved, [batch, height, width, channels, multiplier]), [4]);
  });
}

export function conv2DBackpropInputKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
    attrs as unknown as tf.Conv2DBackpropInputAttrs;
  requireChannelsLast('Conv2DBackpropInput', dataFormat);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    // HWIO [kH, kW, Ci, Co] -> flipped [kH, kW, Co, Ci]
    const swapped = calls.transpose(filter, [0, 1, 3, 2]);
    const flipped = calls.run('Reverse', { x: swapped }, { dims: [0, 1] });
    return convolveBack(calls, dy, flipped, info, 'Conv2D');
  });
}
