// Fixes for the wasm backend, installed by setBackend when it selects wasm.
//
// BatchMatMul with transposeA or transposeB: tfjs-backend-wasm 4.22 skips XNNPACK's fast path for
// transposed operands. Measured on 2 cores: 110-175 ms for the [128, 784] x [128, 512] products of an
// MLP's backward pass, against 16-18 ms for an explicit Transpose followed by a plain BatchMatMul.
// Every Linear layer's gradient uses transposed products, so training ran ~5x slower than it should.
// The replacement transposes operands with the backend's own Transpose kernel and calls the original
// kernel without the flags; results are the same.
import * as tf from '@tensorflow/tfjs-core';

let matMulFixed = false;

/**
 * Re-registers wasm's BatchMatMul so transposed operands are transposed explicitly first. Idempotent;
 * returns false when the wasm backend package is not loaded. `setBackend('wasm' | 'auto')` calls it.
 */
export function installWasmKernelFixes(): boolean {
  if (matMulFixed) return true;
  const original = tf.getKernel('BatchMatMul', 'wasm');
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (!original || !transpose) return false;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({
    kernelName: 'BatchMatMul',
    backendName: 'wasm',
    ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
    ...(original.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { transposeA, transposeB } = (attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
      if (!transposeA && !transposeB) return original.kernelFunc({ inputs, backend, attrs });
      const swapLastTwo = (info: tf.TensorInfo) => {
        const rank = info.shape.length;
        const perm = [...Array.from({ length: rank - 2 }, (_, index) => index), rank - 1, rank - 2];
        return transpose.kernelFunc({ inputs: { x: info }, backend, attrs: { perm } }) as tf.TensorInfo;
      };
      const temporaries: tf.TensorInfo[] = [];
      let a = inputs.a!;
      let b = inputs.b!;
      if (transposeA) {
        a = swapLastTwo(a);
        temporaries.push(a);
      }
      if (transposeB) {
        b = swapLastTwo(b);
        temporaries.push(b);
      }
      try {
        return original.kernelFunc({
          inputs: { a, b },
          backend,
          attrs: { ...attrs, transposeA: false, transposeB: false },
        });
      } finally {
        for (const temporary of temporaries) (backend as tf.KernelBackend).disposeData(temporary.dataId);
      }
    },
  });
  matMulFixed = true;
  return true;
}
