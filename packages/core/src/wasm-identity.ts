// Identity without a copy on the wasm backend.
//
// tfjs records every tensor a gradient needs by cloning it (Engine.saveTensorsForBackwardMode), and
// clone runs the Identity kernel. tfjs-backend-wasm's Identity copies the bytes, so every training
// step copied each saved activation once more (530 copies on the ViT Fashion-MNIST step) and held
// twice the activation memory. The cpu backend shares the data instead, and wasm's own Reshape does
// too: this kernel does the same (one more reference to the same bytes). Kernels never write into
// their inputs, so sharing is safe; strings keep the original kernel.
import * as tf from '@tensorflow/tfjs-core';

interface ReferenceCountingBackend extends tf.KernelBackend {
  incRef(dataId: tf.DataId): void;
}

let installed = false;

/**
 * Registers the sharing Identity over wasm's copying one. Idempotent; returns false when the wasm
 * backend package is not loaded. `setBackend` calls it when it selects wasm.
 */
export function installWasmIdentity(): boolean {
  if (installed) return true;
  const original = tf.getKernel('Identity', 'wasm');
  if (!original) return false;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    kernelName: 'Identity',
    backendName: 'wasm',
    ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
    ...(original.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
    kernelFunc: (parameters) => {
      const x = parameters.inputs.x as tf.TensorInfo;
      if (x.dtype === 'string') return original.kernelFunc(parameters);
      (parameters.backend as ReferenceCountingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
    },
  });
  installed = true;
  return true;
}
