// BatchMatMul on wasm: every product at XNNPACK speed, in one kernel.
//
// tfjs-backend-wasm 4.22 sends a BatchMatMul to XNNPACK's fully-connected operator only when both
// operands have batch size 1 and neither is transposed; every other product (attention's
// [B·H, N, D] x [B·H, D, N], a rank-3 activation times a weight matrix, any transposed operand) runs a
// scalar triple loop in C++ (measured: 110-175 ms for the [128, 784]^T x [128, 512] products of an
// MLP's backward pass against 16-18 ms through the fast path; on the ViT train step the attention
// products alone took 21 of 30 seconds of kernel time). This kernel turns every product into
// fast-path calls:
//   - a transposed operand is transposed explicitly, with the backend's Transpose kernel. XNNPACK could
//     take the right operand as [N, K] natively, but tfjs always creates the operator with
//     XNN_FLAG_TRANSPOSE_WEIGHTS (weights as [K, N]) and exports no other entry, so no transpose is free;
//   - a weight gradient a^T b (2-D, transposeA) whose b is much wider than a is computed as (b^T a)^T:
//     XNNPACK packs its right operand into its own layout on every new tensor (a weight matrix that
//     stays the same tensor is packed once and cached), and packing a wide [K, N] costs more than
//     transposing it (see `swapsOperands`);
//   - a batched left operand times one right matrix is one product of [B·M, K] x [K, N];
//   - batched times batched (equal batch shapes, or the left side broadcast) is one fast-path call per
//     batch element on zero-copy views: the batch element's bytes inside the operands are registered
//     with the backend's C++ tensor map under fresh ids (no copy), multiplied, and unregistered;
//   - batches of tiny matrices are multiplied elementwise instead: each XNNPACK call costs a fixed
//     setup (an operator per matrix), so both operands are expanded to [batch, M, N, K] in the heap,
//     multiplied and summed over the innermost axis. Measured in one run on the 2-core machine (load
//     ~6, one wasm thread), per-matrix XNNPACK vs elementwise: [128,17,5]x[128,5,17] 6.6-10.6 vs
//     5.9-6.8 ms; [512,16,8]x[512,8,16] 6.0-6.5 vs 5.3-6.2 ms; attention's [256,50,32]x[256,32,50]
//     9.1-9.4 vs 53 ms; [64,196,32]x[64,32,196] 28-32 vs 193 ms. So only matrices of at most 4,096
//     multiply-adds go elementwise. (With two wasm threads on a busy machine every XNNPACK call also
//     waits for the pool's second thread: [128,17,5]x[128,5,17] took 92 ms.)
// Products whose batch shapes broadcast in both directions, and non-float32 operands, keep the
// original kernel.
import * as tf from '@tensorflow/tfjs-core';
import { expandInHeap } from './broadcast-kernels.js';
import { heapOffset, nativeFunction, shapeBytes, type WasmViewBackend, withHeapViews } from './heap-views.js';
import {
  type KernelArguments,
  type KernelCalls,
  sizeOf,
  wasmKernel,
  withKernelCalls,
} from './kernel-calls.js';
import type { WasmHeapBackend } from './layout-kernels.js';

/** Matrices with at most this many multiply-adds go through the elementwise product. */
export const ELEMENTWISE_MAX_PRODUCT = 1 << 12;
/** Each chunk of the batch expands to at most this many floats per operand. */
const CHUNK_ELEMENTS = 1 << 22;
/** Right operands smaller than this many floats are cheap to pack: the operand order stays as asked. */
const SWAP_MIN_RIGHT_SIZE = 1 << 16;

const MATMUL_ARGUMENTS = [
  'number',
  'array',
  'number',
  'number',
  'array',
  'number',
  'number',
  'number',
  'number',
];

/** Batch shapes with leading 1s removed, so [1, 8] and [8] compare equal. */
function trimmed(shape: readonly number[]): number[] {
  let start = 0;
  while (start < shape.length && shape[start] === 1) start++;
  return shape.slice(start);
}

function swapLastTwo(calls: KernelCalls, info: tf.TensorInfo): tf.TensorInfo {
  const rank = info.shape.length;
  return calls.transpose(info, [...Array.from({ length: rank - 2 }, (_, axis) => axis), rank - 1, rank - 2]);
}

/**
 * Whether a^T b is computed as (b^T a)^T: for single matrices a [K, M] and b [K, N] with N >= 2M.
 * Either way one operand is transposed and the other packed by XNNPACK; packing costs more per float
 * than transposing, and more than linearly in the packed matrix's width. Measured in one run (2-core
 * machine, load ~5, one wasm thread, fresh tensors as in a train step): [6400,128]^T x [6400,384] took
 * 93 ms as asked (transpose a 7, product with packing 86) against 85 swapped (transpose b 22, product
 * 62); [6400,128]^T x [6400,256] 65 vs 63; [6400,256]^T x [6400,128] 59 as asked vs 72 swapped.
 */
function swapsOperands(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): boolean {
  if (!transposeA || transposeB) return false;
  if (sizeOf(a.shape.slice(0, -2)) > 1 || sizeOf(b.shape.slice(0, -2)) > 1) return false;
  const rows = a.shape[a.shape.length - 1]!;
  const columns = b.shape[b.shape.length - 1]!;
  return columns >= 2 * rows && sizeOf(b.shape) >= SWAP_MIN_RIGHT_SIZE;
}

/**
 * The BatchMatMul kernel mlzoo registers over wasm's (see the file comment): the same results as the
 * original for every transpose flag, batch shape and broadcast.
 */
export function batchMatMulKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const { transposeA = false, transposeB = false } = (attrs ?? {}) as {
    transposeA?: boolean;
    transposeB?: boolean;
  };
  const a = inputs.a!;
  const b = inputs.b!;
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  const innerA = a.shape[transposeA ? rankA - 2 : rankA - 1];
  const innerB = b.shape[transposeB ? rankB - 1 : rankB - 2];
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || rankA < 2 || rankB < 2 || innerA !== innerB) {
    // the original kernel raises tfjs's own errors (dtype, inner shapes)
    return wasmKernel('BatchMatMul')({ inputs, backend, attrs }) as tf.TensorInfo;
  }
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    if (swapsOperands(a, b, transposeA, transposeB)) {
      // (a^T b)^T = b^T a
      return swapLastTwo(calls, plainProduct(calls, swapLastTwo(calls, b), a));
    }
    const left = transposeA ? swapLastTwo(calls, a) : a;
    const right = transposeB ? swapLastTwo(calls, b) : b;
    return plainProduct(calls, left, right);
  });
}

/** a [..., M, K] x b [..., K, N], neither transposed, by the fastest route for its batch shapes. */
function plainProduct(calls: KernelCalls, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  const plain = { transposeA: false, transposeB: false };
  const [rows, inner] = a.shape.slice(-2) as [number, number];
  const columns = b.shape[b.shape.length - 1]!;
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchA = sizeOf(batchShapeA);
  const batchB = sizeOf(batchShapeB);
  if (batchA <= 1 && batchB <= 1) return calls.runOriginal('BatchMatMul', { a, b }, plain);
  const outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
  const outShape = [...outBatchShape, rows, columns];
  if (batchB === 1) {
    // [..., M, K] x [K, N]: one product over all rows of a
    const flat = calls.runOriginal(
      'BatchMatMul',
      { a: calls.reshape(a, [batchA * rows, inner]), b: calls.reshape(b, [inner, columns]) },
      plain,
    );
    return calls.reshape(flat, outShape);
  }
  const sameBatch = batchA === batchB && trimmed(batchShapeA).join() === trimmed(batchShapeB).join();
  if (sameBatch && rows * inner * columns <= ELEMENTWISE_MAX_PRODUCT) {
    return elementwiseProduct(calls, a, b, batchA, outShape);
  }
  // two-way broadcasts go to the original kernel
  if (!sameBatch && batchA !== 1) return calls.runOriginal('BatchMatMul', { a, b }, plain);
  return viewsProduct(calls, a, b, batchA, batchB, outShape);
}

/** a [..., M, K] x b [..., K, N] with equal batch sizes, as expand, multiply and sum. */
function elementwiseProduct(
  calls: KernelCalls,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  batch: number,
  outShape: number[],
): tf.TensorInfo {
  const heap = calls.backend as WasmHeapBackend;
  const [rows, inner] = a.shape.slice(-2) as [number, number];
  const columns = b.shape[b.shape.length - 1]!;
  const left = calls.reshape(a, [batch, rows, 1, inner]);
  // b^T: [batch, 1, N, K], so the sum runs over the innermost axis
  const right = calls.reshape(calls.transpose(calls.reshape(b, [batch, inner, columns]), [0, 2, 1]), [
    batch,
    1,
    columns,
    inner,
  ]);
  const perMatrix = rows * columns * inner;
  const chunk = Math.max(1, Math.floor(CHUNK_ELEMENTS / perMatrix));
  const parts: tf.TensorInfo[] = [];
  for (let start = 0; start < batch; start += chunk) {
    const count = Math.min(chunk, batch - start);
    const pick = (x: tf.TensorInfo) =>
      count === batch ? x : calls.slice(x, [start, 0, 0, 0], [count, ...x.shape.slice(1)]);
    const shape = [count, rows, columns, inner];
    const expandedLeft = calls.track(expandInHeap(heap, pick(left), shape));
    const expandedRight = calls.track(expandInHeap(heap, pick(right), shape));
    const products = calls.multiply(expandedLeft, expandedRight);
    calls.release(expandedLeft);
    calls.release(expandedRight);
    parts.push(calls.sum(products, [3]));
    calls.release(products);
  }
  const result = parts.length === 1 ? parts[0]! : calls.concat(parts, 0);
  return calls.reshape(result, outShape);
}

/** One fast-path product per batch element, on views of the operands' memory (see the file comment). */
function viewsProduct(
  calls: KernelCalls,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  batchA: number,
  batchB: number,
  outShape: number[],
): tf.TensorInfo {
  const backend = calls.backend as WasmViewBackend;
  const [rows, inner] = a.shape.slice(-2) as [number, number];
  const columns = b.shape[b.shape.length - 1]!;
  const out = calls.track(backend.makeOutput(outShape, 'float32'));
  const aOffset = heapOffset(backend, a, 'BatchMatMul');
  const bOffset = heapOffset(backend, b, 'BatchMatMul');
  const outOffset = heapOffset(backend, out, 'BatchMatMul');
  const matMul = nativeFunction(backend, 'BatchMatMul', MATMUL_ARGUMENTS);
  const aShape = shapeBytes([1, rows, inner]);
  const bShape = shapeBytes([1, inner, columns]);
  const batch = Math.max(batchA, batchB);
  for (let index = 0; index < batch; index++) {
    const views = [
      { offset: aOffset + (batchA === 1 ? 0 : index * rows * inner * 4), floats: rows * inner },
      { offset: bOffset + (batchB === 1 ? 0 : index * inner * columns * 4), floats: inner * columns },
      { offset: outOffset + index * rows * columns * 4, floats: rows * columns },
    ];
    withHeapViews(backend, views, ([aId, bId, outId]) =>
      matMul(aId, aShape, 3, bId, bShape, 3, false, false, outId),
    );
  }
  return out;
}
