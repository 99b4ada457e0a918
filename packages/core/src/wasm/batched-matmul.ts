// Batched matMul of many small matrices on wasm.
//
// tfjs-backend-wasm 4.22 pays a fixed cost per matrix of a batch (XNNPACK sets up an operator for each):
// [128, 17, 5] x [128, 5, 17] took 264 ms, 2 ms a matrix, and [32, 196, 32] x [32, 32, 49] 103 ms
// (loaded 2-core machine); attention's q k^T and attn v are such products. Below about a million
// multiply-adds per matrix it is faster to expand both operands to [batch, M, N, K] in the heap,
// multiply elementwise and sum the innermost axis: 12.6 ms for the first product above.
import type * as tf from '@tensorflow/tfjs-core';
import { expandInHeap } from './broadcast-kernels.js';
import { type KernelCalls, sizeOf } from './kernel-calls.js';
import type { WasmHeapBackend } from './layout-kernels.js';

/** Matrices with at most this many multiply-adds go through the elementwise product. */
const ELEMENTWISE_MAX_PRODUCT = 1 << 20;
/** Each chunk of the batch expands to at most this many floats per operand. */
const CHUNK_ELEMENTS = 1 << 22;

/** Whether `a` x `b` (plain, untransposed) should go through `elementwiseBatchMatMul`. */
export function prefersElementwise(a: tf.TensorInfo, b: tf.TensorInfo): boolean {
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  if (rankA < 3 || rankB < 3 || a.dtype !== 'float32' || b.dtype !== 'float32') return false;
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const sameBatch = batchA.length === batchB.length && batchA.every((size, axis) => size === batchB[axis]);
  if (!sameBatch || sizeOf(batchA) <= 1) return false;
  const [rows, inner] = a.shape.slice(-2) as [number, number];
  const columns = b.shape[rankB - 1]!;
  // a mismatch goes to the native kernel, which reports it
  if (b.shape[rankB - 2] !== inner) return false;
  return rows * inner * columns <= ELEMENTWISE_MAX_PRODUCT;
}

/** a [..., M, K] x b [..., K, N] with equal batch dimensions, as expand, multiply and sum. */
export function elementwiseBatchMatMul(
  calls: KernelCalls,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
): tf.TensorInfo {
  const heap = calls.backend as WasmHeapBackend;
  const batchShape = a.shape.slice(0, -2);
  const batch = sizeOf(batchShape);
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
  return calls.reshape(result, [...batchShape, rows, columns]);
}
