// Fixes and additions for the wasm backend, installed by setBackend when it selects wasm.
//
// BatchMatMul: tfjs-backend-wasm 4.22 uses XNNPACK only for unbatched, untransposed products and a
// scalar loop for everything else; ./wasm/batched-matmul.ts sends every product through XNNPACK
// (transposed operands, batches, broadcasts, batches of tiny matrices elementwise).
//
// The kernels in ./wasm/ add what training needs and 4.22 lacks (UnsortedSegmentSum, the conv and
// depthwise backprops), and replace kernels that are slow or wrong: Conv2DBackpropInput (a naive loop),
// Transpose of rank > 4, Slice and PadV2 (copies from the heap), broadcast binary ops and Tile (one
// native call per row), Sum over leading axes (a transpose first), and the float OneHot (zeros); each file says how and what it measured. Einsum
// is still missing on wasm.
import * as tf from '@tensorflow/tfjs-core';
import { batchMatMulKernel } from './wasm/batched-matmul.js';
import { BROADCAST_BINARY_KERNELS, broadcastingKernel, tileKernel } from './wasm/broadcast-kernels.js';
import {
  conv2DBackpropFilterKernel,
  conv2DBackpropInputKernel,
  depthwiseConv2dNativeBackpropFilterKernel,
  depthwiseConv2dNativeBackpropInputKernel,
} from './wasm/convolution-kernels.js';
import { type KernelFunction, replaceWasmKernel } from './wasm/kernel-calls.js';
import { padKernel, sliceKernel, transposeKernel } from './wasm/layout-kernels.js';
import { sumKernel } from './wasm/reduction-kernels.js';
import { oneHotKernel, unsortedSegmentSumKernel } from './wasm/segment-kernels.js';

let installed = false;

/** Kernels wasm lacks, added; an existing registration (a later tfjs) is left alone. */
const ADDED_KERNELS: ReadonlyArray<[string, KernelFunction]> = [
  ['UnsortedSegmentSum', unsortedSegmentSumKernel],
  ['Conv2DBackpropFilter', conv2DBackpropFilterKernel],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseConv2dNativeBackpropInputKernel],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseConv2dNativeBackpropFilterKernel],
];

/** Kernels wasm has, replaced by a wrapper that calls the original where it is right and fast. */
const REPLACED_KERNELS: ReadonlyArray<[string, KernelFunction]> = [
  ['BatchMatMul', batchMatMulKernel],
  ['Sum', sumKernel],
  ['Transpose', transposeKernel],
  ['Slice', sliceKernel],
  ['OneHot', oneHotKernel],
  ['Conv2DBackpropInput', conv2DBackpropInputKernel],
  ['Tile', tileKernel],
  ['PadV2', padKernel],
  ...BROADCAST_BINARY_KERNELS.map((name): [string, KernelFunction] => [name, broadcastingKernel(name)]),
];

/**
 * Registers the kernels of ./wasm/: BatchMatMul through XNNPACK for every product, the conv and
 * depthwise backprops, UnsortedSegmentSum, Transpose, Slice, PadV2, broadcast binary ops, Tile, Sum
 * and OneHot. Idempotent; returns false when the wasm backend package is not loaded.
 * `setBackend('wasm' | 'auto')` calls it.
 */
export function installWasmKernelFixes(): boolean {
  if (installed) return true;
  if (!tf.getKernel('BatchMatMul', 'wasm') || !tf.getKernel('Transpose', 'wasm')) return false;
  for (const [kernelName, kernelFunc] of ADDED_KERNELS) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
  for (const [kernelName, kernelFunc] of REPLACED_KERNELS) replaceWasmKernel(kernelName, kernelFunc);
  installed = true;
  return true;
}
