// Convolution gradient kernels that tfjs-backend-wasm 4.22 lacks, built from its native kernels.
//
// - Conv2DBackpropFilter: im2col of x with one native Gather (indices of every tap of every output
//   position), then one XNNPACK matmul with dy: [Co, N] x [N, kH kW Ci].
// - DepthwiseConv2dNativeBackpropFilter: the same patches times dy (broadcast multiply), summed over
//   the N = batch x positions rows by a matmul with a row of ones; in chunks of rows to bound memory.
// - DepthwiseConv2dNativeBackpropInput: a depthwise convolution (XNNPACK) of dy, spread with zeros
//   between rows and columns when strided, with the spatially flipped filter.
// Only NHWC ('channelsLast'), as the wasm forward kernels.
import * as tf from '@tensorflow/tfjs-core';
import { type KernelArguments, type KernelCalls, withKernelCalls } from './kernel-calls.js';

type Pair = [number, number];

/** Patches hold at most this many floats at once (64 MiB); larger inputs go in batch chunks. */
let patchElementLimit = 1 << 24;

/** Sets the patch size limit (floats) that splits a batch into chunks; returns the previous one (tests). */
export function setPatchElementLimit(limit: number): number {
  const previous = patchElementLimit;
  patchElementLimit = limit;
  return previous;
}

interface PatchGeometry {
  filterHeight: number;
  filterWidth: number;
  stride: Pair;
  dilation: Pair;
  outHeight: number;
  outWidth: number;
  /** [top, bottom, left, right] zeros around x. */
  padding: [number, number, number, number];
}

function geometry(info: tf.backend_util.Conv2DInfo): PatchGeometry {
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
 * im2col: [B, H, W, C] -> [B, OH * OW * kH * kW, C], rows in (oh, ow, tap row, tap column) order, as
 * one native Gather on the zero-padded image seen as [B, Hp * Wp, C].
 */
export function gatherPatches(calls: KernelCalls, x: tf.TensorInfo, patch: PatchGeometry): tf.TensorInfo {
  const [batch, height, width, channels] = x.shape as [number, number, number, number];
  const [top, bottom, left, right] = patch.padding;
  // rows and columns past the last tap of the last output are never read: pad no further
  const neededHeight =
    (patch.outHeight - 1) * patch.stride[0] + (patch.filterHeight - 1) * patch.dilation[0] + 1;
  const neededWidth =
    (patch.outWidth - 1) * patch.stride[1] + (patch.filterWidth - 1) * patch.dilation[1] + 1;
  const padBottom = Math.max(0, Math.min(bottom, neededHeight - top - height));
  const padRight = Math.max(0, Math.min(right, neededWidth - left - width));
  const padded =
    top + padBottom + left + padRight > 0
      ? calls.pad(x, [
          [0, 0],
          [top, padBottom],
          [left, padRight],
          [0, 0],
        ])
      : x;
  const paddedWidth = width + left + padRight;
  const paddedHeight = height + top + padBottom;
  const taps = patch.filterHeight * patch.filterWidth;
  const indices = new Int32Array(patch.outHeight * patch.outWidth * taps);
  let position = 0;
  for (let outRow = 0; outRow < patch.outHeight; outRow++) {
    for (let outColumn = 0; outColumn < patch.outWidth; outColumn++) {
      for (let tapRow = 0; tapRow < patch.filterHeight; tapRow++) {
        const row = outRow * patch.stride[0] + tapRow * patch.dilation[0];
        for (let tapColumn = 0; tapColumn < patch.filterWidth; tapColumn++) {
          const column = outColumn * patch.stride[1] + tapColumn * patch.dilation[1];
          indices[position++] = row * paddedWidth + column;
        }
      }
    }
  }
  const flat = calls.reshape(padded, [batch, paddedHeight * paddedWidth, channels]);
  const patches = calls.run(
    'GatherV2',
    { x: flat, indices: calls.constant(indices, [indices.length]) },
    { axis: 1, batchDims: 0 },
  );
  if (padded !== x) calls.release(padded);
  return patches;
}

/** Batch ranges [start, count) whose patches stay under patchElementLimit floats. */
function batchChunks(batch: number, elementsPerImage: number): Array<[number, number]> {
  const perChunk = Math.max(1, Math.floor(patchElementLimit / Math.max(1, elementsPerImage)));
  const chunks: Array<[number, number]> = [];
  for (let start = 0; start < batch; start += perChunk)
    chunks.push([start, Math.min(perChunk, batch - start)]);
  return chunks;
}

function batchSlice(calls: KernelCalls, x: tf.TensorInfo, [start, count]: [number, number]): tf.TensorInfo {
  if (start === 0 && count === x.shape[0]) return x;
  const [, ...rest] = x.shape;
  return calls.slice(x, [start, ...rest.map(() => 0)], [count, ...rest]);
}

/** Sums `parts` into one tensor, freeing them as it goes. */
function accumulate(calls: KernelCalls, total: tf.TensorInfo | null, part: tf.TensorInfo): tf.TensorInfo {
  if (!total) return part;
  const sum = calls.add(total, part);
  calls.release(total);
  calls.release(part);
  return sum;
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
  const patch = geometry(info);
  const taps = patch.filterHeight * patch.filterWidth;
  const inChannels = info.inChannels;
  const outChannels = info.outChannels;
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    let total: tf.TensorInfo | null = null;
    const perImage = patch.outHeight * patch.outWidth * taps * inChannels;
    for (const chunk of batchChunks(x.shape[0]!, perImage)) {
      const rows = chunk[1] * patch.outHeight * patch.outWidth;
      const patches = calls.reshape(gatherPatches(calls, batchSlice(calls, x, chunk), patch), [
        rows,
        taps * inChannels,
      ]);
      const gradient = calls.reshape(batchSlice(calls, dy, chunk), [rows, outChannels]);
      // dW = patches^T dy. Transposing dy (rows x Co) and the small product costs less than transposing
      // the patches (rows x kH kW Ci) whenever Co (rows + kH kW Ci) < rows kH kW Ci, nearly always.
      let product: tf.TensorInfo;
      if (outChannels * (rows + taps * inChannels) < rows * taps * inChannels) {
        const transposed = calls.matMul(calls.transpose(gradient, [1, 0]), patches);
        product = calls.transpose(transposed, [1, 0]);
      } else {
        product = calls.matMul(calls.transpose(patches, [1, 0]), gradient);
      }
      total = accumulate(calls, total, product);
    }
    return calls.reshape(total!, filterShape);
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
  const patch = geometry(info);
  const taps = patch.filterHeight * patch.filterWidth;
  const channels = info.inChannels;
  const multiplier = filterShape[3];
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    let total: tf.TensorInfo | null = null;
    // the product [rows, taps, C, M] is the largest intermediate
    const perImage = patch.outHeight * patch.outWidth * taps * channels * multiplier;
    for (const chunk of batchChunks(x.shape[0]!, perImage)) {
      const rows = chunk[1] * patch.outHeight * patch.outWidth;
      const patches = gatherPatches(calls, batchSlice(calls, x, chunk), patch);
      const gradient = batchSlice(calls, dy, chunk);
      const products =
        multiplier === 1
          ? calls.multiply(
              calls.reshape(patches, [rows, taps, channels]),
              calls.reshape(gradient, [rows, 1, channels]),
            )
          : calls.multiply(
              calls.reshape(patches, [rows, taps, channels, 1]),
              calls.reshape(gradient, [rows, 1, channels, multiplier]),
            );
      calls.release(patches);
      // sum over rows: [1, rows] x [rows, taps C M], one XNNPACK pass
      const summed = calls.matMul(
        calls.fill([1, rows], 1),
        calls.reshape(products, [rows, taps * channels * multiplier]),
      );
      calls.release(products);
      total = accumulate(calls, total, summed);
    }
    return calls.reshape(total!, filterShape);
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
    // dx[i] = sum_t z[i + top - t d] f[t], z = dy spread by the stride: a correlation of z, padded by
    // (k - 1) d - top before, with the flipped filter.
    const spread = spreadByStride(calls, dy, [info.strideHeight, info.strideWidth]);
    const extentHeight = (filterHeight - 1) * info.dilationHeight;
    const extentWidth = (filterWidth - 1) * info.dilationWidth;
    const top = extentHeight - info.padInfo.top;
    const left = extentWidth - info.padInfo.left;
    const bottom = info.inHeight + extentHeight - top - spread.shape[1]!;
    const right = info.inWidth + extentWidth - left - spread.shape[2]!;
    const { input, padding } = cropForConvolution(calls, spread, [top, bottom, left, right]);
    const flipped = calls.reshape(calls.run('Reverse', { x: filter }, { dims: [0, 1] }), [
      filterHeight,
      filterWidth,
      channels * multiplier,
      1,
    ]);
    const [padTop, padBottom, padLeft, padRight] = padding;
    const convolved = calls.run(
      'DepthwiseConv2dNative',
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
    if (multiplier === 1) return convolved;
    const [batch, height, width] = convolved.shape as [number, number, number];
    return calls.sum(calls.reshape(convolved, [batch, height, width, channels, multiplier]), [4]);
  });
}
