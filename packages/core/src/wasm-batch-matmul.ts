// Batched matrix products on the wasm backend at XNNPACK speed.
//
// tfjs-backend-wasm 4.22 sends a BatchMatMul to XNNPACK only when both operands have batch size 1
// and neither is transposed; every other product (attention's [B·H, N, D] x [B·H, D, N], a rank-3
// activation times a weight matrix, any transposed operand) runs a scalar triple loop in C++. On the
// ViT Fashion-MNIST train step the attention products alone took 21 of 30 seconds of kernel time.
// This kernel, registered over wasm's BatchMatMul, turns every such product into fast-path calls:
//   - transposed operands are transposed explicitly first (the backend's Transpose is fast);
//   - a batched left operand times one right matrix is one product of [B·M, K] x [K, N];
//   - batched times batched (equal batch shapes, or one side broadcast) is one fast-path call per
//     batch element on zero-copy views: the batch element's bytes inside the operands are registered
//     with the backend's C++ tensor map under fresh ids (no copy), multiplied, and unregistered.
// Products whose batch shapes broadcast in both directions keep the original kernel.
import * as tf from '@tensorflow/tfjs-core';
import { ELEMENTWISE_MAX_PRODUCT } from './wasm/batched-matmul.js';

interface WasmModule {
  cwrap(name: string, returnType: null, argumentTypes: string[]): (...args: unknown[]) => void;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

/** The parts of tfjs-backend-wasm's BackendWasm this kernel uses. */
interface WasmBackend extends tf.KernelBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } | undefined };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

type MatMulCall = (
  aId: number,
  aShape: Uint8Array,
  aRank: number,
  bId: number,
  bShape: Uint8Array,
  bRank: number,
  transposeA: boolean,
  transposeB: boolean,
  outId: number,
) => void;

const matMulCalls = new WeakMap<object, MatMulCall>();

function matMulCall(backend: WasmBackend): MatMulCall {
  let call = matMulCalls.get(backend.wasm);
  if (!call) {
    const types = ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number'];
    call = backend.wasm.cwrap('BatchMatMul', null, types) as MatMulCall;
    matMulCalls.set(backend.wasm, call);
  }
  return call;
}

const shapeBytes = (shape: number[]) => new Uint8Array(new Int32Array(shape).buffer);
const product = (values: number[]) => values.reduce((total, value) => total * value, 1);

/** Batch shapes with leading 1s removed, so [1, 8] and [8] compare equal. */
function trimmed(shape: number[]): number[] {
  let start = 0;
  while (start < shape.length && shape[start] === 1) start++;
  return shape.slice(start);
}

let installed = false;

/**
 * Registers the fast BatchMatMul over wasm's (see the file comment). Idempotent; returns false when the
 * wasm backend package is not loaded. `setBackend` calls it when it selects wasm.
 */
export function installWasmBatchMatMul(): boolean {
  if (installed) return true;
  const original = tf.getKernel('BatchMatMul', 'wasm');
  const transposeKernel = tf.getKernel('Transpose', 'wasm');
  const reshapeKernel = tf.getKernel('Reshape', 'wasm');
  if (!original || !transposeKernel || !reshapeKernel) return false;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
    ...(original.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
    kernelFunc: ({ inputs, backend: kernelBackend, attrs }) => {
      const backend = kernelBackend as WasmBackend;
      const { transposeA = false, transposeB = false } = (attrs ?? {}) as {
        transposeA?: boolean;
        transposeB?: boolean;
      };
      let a = inputs.a as tf.TensorInfo;
      let b = inputs.b as tf.TensorInfo;
      const plain = { ...attrs, transposeA: false, transposeB: false };
      if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) {
        return original.kernelFunc({ inputs, backend, attrs });
      }
      const temporaries: tf.TensorInfo[] = [];
      const keep = (info: tf.TensorInfo) => {
        temporaries.push(info);
        return info;
      };
      const swapLastTwo = (info: tf.TensorInfo) => {
        const rank = info.shape.length;
        const perm = [...Array.from({ length: rank - 2 }, (_, index) => index), rank - 1, rank - 2];
        return keep(
          transposeKernel.kernelFunc({ inputs: { x: info }, backend, attrs: { perm } }) as tf.TensorInfo,
        );
      };
      const reshape = (info: tf.TensorInfo, shape: number[]) =>
        keep(reshapeKernel.kernelFunc({ inputs: { x: info }, backend, attrs: { shape } }) as tf.TensorInfo);
      try {
        if (transposeA) a = swapLastTwo(a);
        if (transposeB) b = swapLastTwo(b);
        const [rows, inner] = a.shape.slice(-2) as [number, number];
        const [innerB, columns] = b.shape.slice(-2) as [number, number];
        if (inner !== innerB) {
          // the original kernel raises tfjs's own shape error
          return original.kernelFunc({ inputs: { a, b }, backend, attrs: plain });
        }
        const batchShapeA = a.shape.slice(0, -2);
        const batchShapeB = b.shape.slice(0, -2);
        const batchA = product(batchShapeA);
        const batchB = product(batchShapeB);
        if (batchA <= 1 && batchB <= 1) {
          return original.kernelFunc({ inputs: { a, b }, backend, attrs: plain });
        }
        const outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
        const outShape = [...outBatchShape, rows, columns];
        if (batchB === 1) {
          // [..., M, K] x [K, N]: one product over all rows of a
          const flat = original.kernelFunc({
            inputs: { a: reshape(a, [batchA * rows, inner]), b: reshape(b, [inner, columns]) },
            backend,
            attrs: plain,
          }) as tf.TensorInfo;
          keep(flat);
          const result = reshapeKernel.kernelFunc({
            inputs: { x: flat },
            backend,
            attrs: { shape: outShape },
          });
          return result as tf.TensorInfo;
        }
        const sameBatch = batchA === batchB && trimmed(batchShapeA).join() === trimmed(batchShapeB).join();
        // two-way broadcasts, and tiny matrices (the elementwise product of ./wasm/batched-matmul.ts
        // beats a per-matrix XNNPACK call there), go to the kernel underneath
        const tiny = rows * inner * columns <= ELEMENTWISE_MAX_PRODUCT;
        if ((!sameBatch && batchA !== 1) || (sameBatch && tiny)) {
          return original.kernelFunc({ inputs: { a, b }, backend, attrs: plain });
        }
        return viewsProduct(backend, a, b, batchA, batchB, rows, inner, columns, outShape);
      } finally {
        for (const temporary of temporaries) backend.disposeData(temporary.dataId);
      }
    },
  });
  installed = true;
  return true;
}

/** One fast-path product per batch element, on views of the operands' memory (see the file comment). */
function viewsProduct(
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  batchA: number,
  batchB: number,
  rows: number,
  inner: number,
  columns: number,
  outShape: number[],
): tf.TensorInfo {
  const out = backend.makeOutput(outShape, 'float32');
  const aMemory = backend.dataIdMap.get(a.dataId);
  const bMemory = backend.dataIdMap.get(b.dataId);
  const outMemory = backend.dataIdMap.get(out.dataId);
  if (!aMemory || !bMemory || !outMemory) {
    throw new Error('BatchMatMul (wasm): an operand has no wasm memory');
  }
  const call = matMulCall(backend);
  const { registerTensor, disposeData } = backend.wasm.tfjs;
  const aShape = shapeBytes([1, rows, inner]);
  const bShape = shapeBytes([1, inner, columns]);
  const aStride = rows * inner * 4;
  const bStride = inner * columns * 4;
  const outStride = rows * columns * 4;
  const batch = Math.max(batchA, batchB);
  for (let index = 0; index < batch; index++) {
    const aId = backend.dataIdNextNumber++;
    const bId = backend.dataIdNextNumber++;
    const outId = backend.dataIdNextNumber++;
    registerTensor(aId, rows * inner, aMemory.memoryOffset + (batchA === 1 ? 0 : index * aStride));
    registerTensor(bId, inner * columns, bMemory.memoryOffset + (batchB === 1 ? 0 : index * bStride));
    registerTensor(outId, rows * columns, outMemory.memoryOffset + index * outStride);
    try {
      call(aId, aShape, 3, bId, bShape, 3, false, false, outId);
    } finally {
      // unregistering frees nothing: the views' bytes belong to a, b and out
      disposeData(aId);
      disposeData(bId);
      disposeData(outId);
    }
  }
  return out;
}
