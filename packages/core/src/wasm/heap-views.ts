// Zero-copy views into the wasm heap, for calling the backend's C++ kernels on parts of tensors.
//
// tfjs-backend-wasm's C++ kernels take tensor ids, which name (size, memory offset) entries in the
// module's tensor map. Registering a fresh id for a range of an existing tensor's bytes lets a native
// kernel read or write that range in place; unregistering frees nothing (the bytes belong to the
// tensor). The ids come from the backend's own counter, so they never collide with its tensors.
import type * as tf from '@tensorflow/tfjs-core';
import type { WasmHeapBackend } from './layout-kernels.js';

interface WasmModule {
  cwrap(name: string, returnType: null, argumentTypes: string[]): (...args: unknown[]) => void;
  tfjs: {
    registerTensor(id: number, size: number, memoryOffset: number): void;
    disposeData(id: number): void;
  };
}

/** The parts of tfjs-backend-wasm's BackendWasm that heap views use. */
export interface WasmViewBackend extends WasmHeapBackend {
  wasm: WasmModule;
  dataIdMap: { get(dataId: tf.DataId): { id: number; memoryOffset: number } | undefined };
  dataIdNextNumber: number;
}

/** Where `info`'s bytes start in the wasm heap; `kernel` names the caller in the error. */
export function heapOffset(backend: WasmViewBackend, info: tf.TensorInfo, kernel: string): number {
  const memory = backend.dataIdMap.get(info.dataId);
  if (!memory) throw new Error(`${kernel} (wasm): a tensor of shape [${info.shape}] has no wasm memory`);
  return memory.memoryOffset;
}

/**
 * Runs `body` with ids naming `floats` float32 values at each byte offset in `offsets`, then
 * unregisters them.
 */
export function withHeapViews<T>(
  backend: WasmViewBackend,
  views: ReadonlyArray<{ offset: number; floats: number }>,
  body: (ids: number[]) => T,
): T {
  const { registerTensor, disposeData } = backend.wasm.tfjs;
  const ids: number[] = [];
  try {
    for (const { offset, floats } of views) {
      const id = backend.dataIdNextNumber++;
      registerTensor(id, floats, offset);
      ids.push(id);
    }
    return body(ids);
  } finally {
    for (const id of ids) disposeData(id);
  }
}

const nativeFunctions = new WeakMap<object, Map<string, (...args: unknown[]) => void>>();

/** The module's exported C++ kernel `name`, wrapped once per module with `argumentTypes`. */
export function nativeFunction(
  backend: WasmViewBackend,
  name: string,
  argumentTypes: string[],
): (...args: unknown[]) => void {
  let functions = nativeFunctions.get(backend.wasm);
  if (!functions) {
    functions = new Map();
    nativeFunctions.set(backend.wasm, functions);
  }
  let wrapped = functions.get(name);
  if (!wrapped) {
    wrapped = backend.wasm.cwrap(name, null, argumentTypes);
    functions.set(name, wrapped);
  }
  return wrapped;
}

/** A shape as the byte array the C++ kernels take. */
export const shapeBytes = (shape: readonly number[]) => new Uint8Array(new Int32Array(shape).buffer);
