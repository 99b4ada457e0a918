// Composing wasm kernels from other wasm kernels, inside a kernel function.
//
// A kernel function works on TensorInfos (no engine, no tape): it calls the backend's own kernel
// functions and must free every intermediate it makes. `KernelCalls` records each result and frees
// the ones not handed back with `keep`. Reshape shares its input's data (the backend counts the
// reference), so freeing a reshaped intermediate is always right.
import * as tf from '@tensorflow/tfjs-core';

type Attrs = Record<string, unknown>;

/** A kernel function as registered (`tf.getKernel(...).kernelFunc`). */
export type KernelFunction = tf.KernelConfig['kernelFunc'];

/** What a kernel function receives: inputs, backend and attributes. */
export type KernelArguments = Parameters<KernelFunction>[0];

/** Kernel functions captured before mlzoo replaced them, by kernel name. */
export const originalWasmKernels = new Map<string, KernelFunction>();

/** The wasm kernel `name`: the original when mlzoo wrapped it, else the registered one. */
export function wasmKernel(name: string): KernelFunction {
  const original = originalWasmKernels.get(name);
  if (original) return original;
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`mlzoo wasm kernels: the wasm backend has no '${name}' kernel`);
  return kernel.kernelFunc;
}

/**
 * Registers `kernelFunc` over the wasm kernel `kernelName`, keeping the original (for `wasmKernel` and
 * `runOriginal`) and its setup and dispose functions. Does nothing when wasm has no such kernel or it
 * was already replaced; returns whether the replacement is in place.
 */
export function replaceWasmKernel(kernelName: string, kernelFunc: KernelFunction): boolean {
  if (originalWasmKernels.has(kernelName)) return true;
  const original = tf.getKernel(kernelName, 'wasm');
  if (!original) return false;
  originalWasmKernels.set(kernelName, original.kernelFunc);
  tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    kernelName,
    backendName: 'wasm',
    ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
    ...(original.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
    kernelFunc,
  });
  return true;
}

export function sizeOf(shape: readonly number[]): number {
  let size = 1;
  for (const dimension of shape) size *= dimension;
  return size;
}

/** Calls wasm kernels on TensorInfos and frees, on `dispose`, every result not kept. */
export class KernelCalls {
  readonly backend: tf.KernelBackend;
  readonly #temporaries: tf.TensorInfo[] = [];

  constructor(backend: tf.KernelBackend) {
    this.backend = backend;
  }

  /** Runs the wasm kernel `name` (through mlzoo's replacement where one is registered). */
  run(name: string, inputs: tf.NamedTensorInfoMap, attrs: Attrs = {}): tf.TensorInfo {
    const kernel = tf.getKernel(name, 'wasm');
    if (!kernel) throw new Error(`mlzoo wasm kernels: the wasm backend has no '${name}' kernel`);
    return this.#track(kernel.kernelFunc({ inputs, backend: this.backend, attrs: attrs as tf.NamedAttrMap }));
  }

  /** Runs the kernel function the backend shipped for `name`, bypassing mlzoo's replacement. */
  runOriginal(name: string, inputs: tf.NamedTensorInfoMap, attrs: Attrs = {}): tf.TensorInfo {
    const kernel = wasmKernel(name);
    return this.#track(kernel({ inputs, backend: this.backend, attrs: attrs as tf.NamedAttrMap }));
  }

  /** Records `info`, made outside `run`, as an intermediate to free. */
  track(info: tf.TensorInfo): tf.TensorInfo {
    return this.#track(info);
  }

  #track(result: tf.TensorInfo | tf.TensorInfo[]): tf.TensorInfo {
    if (Array.isArray(result)) {
      this.#temporaries.push(...result);
      throw new Error('mlzoo wasm kernels: expected a kernel with one output');
    }
    this.#temporaries.push(result);
    return result;
  }

  /** A new tensor on the backend holding `values`. */
  constant(values: Float32Array | Int32Array, shape: readonly number[]): tf.TensorInfo {
    const dtype = values instanceof Int32Array ? 'int32' : 'float32';
    const dataId = this.backend.write(values, [...shape], dtype);
    const info: tf.TensorInfo = { dataId, shape: [...shape], dtype };
    this.#temporaries.push(info);
    return info;
  }

  fill(shape: readonly number[], value: number, dtype: tf.DataType = 'float32'): tf.TensorInfo {
    return this.run('Fill', {}, { shape: [...shape], value, dtype });
  }

  reshape(x: tf.TensorInfo, shape: readonly number[]): tf.TensorInfo {
    return this.runOriginal('Reshape', { x }, { shape: [...shape] });
  }

  transpose(x: tf.TensorInfo, perm: readonly number[]): tf.TensorInfo {
    return this.run('Transpose', { x }, { perm: [...perm] });
  }

  slice(x: tf.TensorInfo, begin: readonly number[], size: readonly number[]): tf.TensorInfo {
    return this.run('Slice', { x }, { begin: [...begin], size: [...size] });
  }

  pad(x: tf.TensorInfo, paddings: ReadonlyArray<readonly [number, number]>): tf.TensorInfo {
    return this.run('PadV2', { x }, { paddings: paddings.map((pair) => [...pair]), constantValue: 0 });
  }

  matMul(a: tf.TensorInfo, b: tf.TensorInfo, transposeA = false, transposeB = false): tf.TensorInfo {
    return this.run('BatchMatMul', { a, b }, { transposeA, transposeB });
  }

  concat(parts: tf.TensorInfo[], axis: number): tf.TensorInfo {
    return this.run('Concat', parts as unknown as tf.NamedTensorInfoMap, { axis });
  }

  add(a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
    return this.run('Add', { a, b });
  }

  multiply(a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
    return this.run('Multiply', { a, b });
  }

  sum(x: tf.TensorInfo, axis: number[], keepDims = false): tf.TensorInfo {
    return this.run('Sum', { x }, { axis, keepDims });
  }

  cast(x: tf.TensorInfo, dtype: tf.DataType): tf.TensorInfo {
    return this.run('Cast', { x }, { dtype });
  }

  /** Removes `info` from the intermediates, so it survives `dispose` (the kernel's output). */
  keep(info: tf.TensorInfo): tf.TensorInfo {
    const index = this.#temporaries.lastIndexOf(info);
    if (index >= 0) this.#temporaries.splice(index, 1);
    return info;
  }

  /** Frees `info` now (an intermediate no longer needed, to keep peak memory low). */
  release(info: tf.TensorInfo): void {
    const index = this.#temporaries.lastIndexOf(info);
    if (index < 0) return;
    this.#temporaries.splice(index, 1);
    this.backend.disposeData(info.dataId);
  }

  dispose(): void {
    for (const info of this.#temporaries.splice(0)) this.backend.disposeData(info.dataId);
  }
}

/** Runs `body` with a fresh `KernelCalls`, keeps what it returns and frees the rest. */
export function withKernelCalls(
  backend: tf.KernelBackend,
  body: (calls: KernelCalls) => tf.TensorInfo,
): tf.TensorInfo {
  const calls = new KernelCalls(backend);
  try {
    return calls.keep(body(calls));
  } finally {
    calls.dispose();
  }
}
