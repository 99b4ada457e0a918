// Batched matMul of many tiny matrices on wasm.
//
// tfjs-backend-wasm 4.22 runs a batched product in a scalar loop; setBackend installs the per-matrix
// XNNPACK path of ../wasm-batch-matmul.ts in front of this kernel. Each XNNPACK call costs a fixed
// setup (an operator per matrix), so for tiny matrices it is faster to expand both operands to
// [batch, M, N, K] in the heap, multiply elementwise and sum the innermost axis. Measured in one run on
// the 2-core machine (load ~6, one wasm thread), per-matrix XNNPACK vs elementwise: [128,17,5]x[128,5,17]
// 6.6-10.6 vs 5.9-6.8 ms; [512,16,8]x[512,8,16] 6.0-6.5 vs 5.3-6.2 ms; attention's
// [256,50,32]x[256,32,50] 9.1-9.4 vs 53 ms; [64,196,32]x[64,32,196] 28-32 vs 193 ms. So only matrices
// of at most 4,096 multiply-adds go elementwise. (With two wasm threads on a busy machine every
// XNNPACK call also waits for the pool's second thread: [128,17,5]x[128,5,17] took 92 ms.)
import type * as tf from '@tensorflow/tfjs-core';
import { expandInHeap } from './broadcast-kernels.js';
import { type KernelCalls, sizeOf } from './kernel-calls.js';
import type { WasmHeapBackend } from './layout-kernels.js';

/** Matrices with at most this many multiply-adds go through the elementwise product. */
export const ELEMENTWISE_MAX_PRODUCT = 1 << 12;
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
