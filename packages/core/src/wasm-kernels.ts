// Fixes and additions for the wasm backend, installed by setBackend when it selects wasm.
//
// BatchMatMul with transposeA or transposeB: tfjs-backend-wasm 4.22 skips XNNPACK's fast path for
// transposed operands. Measured on 2 cores: 110-175 ms for the [128, 784] x [128, 512] products of an
// MLP's backward pass, against 16-18 ms for an explicit Transpose followed by a plain BatchMatMul.
// Every Linear layer's gradient uses transposed products, so training ran ~5x slower than it should.
// The replacement transposes operands with the backend's own Transpose kernel and calls the original
// kernel without the flags; results are the same. Batches of small matrices go elementwise instead
// (see ./wasm/batched-matmul.ts).
//
// The kernels in ./wasm/ add what training needs and 4.22 lacks (UnsortedSegmentSum, the conv and
// depthwise backprops), and replace kernels that are slow or wrong: Conv2DBackpropInput (a naive loop),
// Transpose of rank > 4, Slice and PadV2 (copies from the heap), broadcast binary ops and Tile (one
// native call per row), and the float OneHot (zeros); each file says how and what it measured. Einsum
// is still missing on wasm.
import * as tf from '@tensorflow/tfjs-core';
import { elementwiseBatchMatMul, prefersElementwise } from './wasm/batched-matmul.js';
import { BROADCAST_BINARY_KERNELS, broadcastingKernel, tileKernel } from './wasm/broadcast-kernels.js';
import {
  conv2DBackpropFilterKernel,
  conv2DBackpropInputKernel,
  depthwiseConv2dNativeBackpropFilterKernel,
  depthwiseConv2dNativeBackpropInputKernel,
} from './wasm/convolution-kernels.js';
import { type KernelFunction, originalWasmKernels, withKernelCalls } from './wasm/kernel-calls.js';
import { padKernel, sliceKernel, transposeKernel } from './wasm/layout-kernels.js';
import { oneHotKernel, unsortedSegmentSumKernel } from './wasm/segment-kernels.js';

let matMulFixed = false;

/** Kernels wasm lacks, added; an existing registration (a later tfjs) is left alone. */
const ADDED_KERNELS: ReadonlyArray<[string, KernelFunction]> = [
  ['UnsortedSegmentSum', unsortedSegmentSumKernel],
  ['Conv2DBackpropFilter', conv2DBackpropFilterKernel],
  ['DepthwiseConv2dNativeBackpropInput', depthwiseConv2dNativeBackpropInputKernel],
  ['DepthwiseConv2dNativeBackpropFilter', depthwiseConv2dNativeBackpropFilterKernel],
];

/** Kernels wasm has, replaced by a wrapper that calls the original where it is right and fast. */
const REPLACED_KERNELS: ReadonlyArray<[string, KernelFunction]> = [
  ['Transpose', transposeKernel],
  ['Slice', sliceKernel],
  ['OneHot', oneHotKernel],
  ['Conv2DBackpropInput', conv2DBackpropInputKernel],
  ['Tile', tileKernel],
  ['PadV2', padKernel],
  ...BROADCAST_BINARY_KERNELS.map((name): [string, KernelFunction] => [name, broadcastingKernel(name)]),
];

function installKernels(): void {
  for (const [kernelName, kernelFunc] of ADDED_KERNELS) {
    if (tf.getKernel(kernelName, 'wasm')) continue;
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc });
  }
  for (const [kernelName, kernelFunc] of REPLACED_KERNELS) {
    const original = tf.getKernel(kernelName, 'wasm');
    if (!original || originalWasmKernels.has(kernelName)) continue;
    originalWasmKernels.set(kernelName, original.kernelFunc);
    tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
      ...(original.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
      kernelFunc,
    });
  }
}

/**
 * Re-registers wasm's BatchMatMul so transposed operands are transposed explicitly first, and registers
 * the kernels of ./wasm/ (conv and depthwise backprops, UnsortedSegmentSum, Transpose, Slice, PadV2,
 * broadcast binary ops, Tile, OneHot). Idempotent; returns false when the wasm backend package is not loaded.
 * `setBackend('wasm' | 'auto')` calls it.
 */
export function installWasmKernelFixes(): boolean {
  if (matMulFixed) return true;
  const original = tf.getKernel('BatchMatMul', 'wasm');
  if (!original || !tf.getKernel('Transpose', 'wasm')) return false;
  installKernels();
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
    ...(original.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
    kernelFunc: ({ inputs, backend, attrs }) =>
      withKernelCalls(backend as tf.KernelBackend, (calls) => {
        const { transposeA, transposeB } = (attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
        const swapLastTwo = (info: tf.TensorInfo) => {
          const rank = info.shape.length;
          return calls.transpose(info, [
            ...Array.from({ length: rank - 2 }, (_, index) => index),
            rank - 1,
            rank - 2,
          ]);
        };
        const a = transposeA ? swapLastTwo(inputs.a!) : inputs.a!;
        const b = transposeB ? swapLastTwo(inputs.b!) : inputs.b!;
        if (prefersElementwise(a, b)) return elementwiseBatchMatMul(calls, a, b);
        return calls.track(
          original.kernelFunc({
            inputs: { a, b },
            backend,
            attrs: { ...attrs, transposeA: false, transposeB: false },
          }) as tf.TensorInfo,
        );
      }),
  });
  matMulFixed = true;
  return true;
}
