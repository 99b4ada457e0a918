// Transpose and Slice for tensors of rank 5 and more on wasm.
//
// tfjs-backend-wasm 4.22 has fast code for rank <= 4 only: its C++ Transpose and its JS Slice fall back
// to an element-by-element loop above that (measured: a rank-5 transpose of 1.6M floats 114 ms, the
// rank-4 one 0.6 ms). Attention blocks and window partitions transpose rank-5 and rank-6 tensors.
// Transpose first merges axes that stay adjacent, which brings nearly every case to rank <= 4; a
// permutation that stays above rank 4 is done as a few rank-4 transposes, each moving one axis:
// [pre, mid, X, post] -> [pre, X, mid, post]. Slice is replaced at every rank (see sliceKernel).
import * as tf from '@tensorflow/tfjs-core';
import {
  type KernelArguments,
  type KernelCalls,
  sizeOf,
  wasmKernel,
  withKernelCalls,
} from './kernel-calls.js';

/**
 * The smallest transpose equal to transposing `shape` by `perm`: size-1 axes dropped, and input axes
 * that stay adjacent and in order in the output merged into one.
 */
export function collapseTranspose(
  shape: readonly number[],
  perm: readonly number[],
): { shape: number[]; perm: number[] } {
  const kept = shape.map((_, axis) => axis).filter((axis) => shape[axis] !== 1);
  const renumbered = new Map(kept.map((axis, index) => [axis, index]));
  const keptShape = kept.map((axis) => shape[axis]!);
  const keptPerm = perm.filter((axis) => shape[axis] !== 1).map((axis) => renumbered.get(axis)!);
  // runs of consecutive input axes, in output order
  const runs: number[][] = [];
  for (const axis of keptPerm) {
    const last = runs[runs.length - 1];
    if (last && last[last.length - 1]! + 1 === axis) last.push(axis);
    else runs.push([axis]);
  }
  const inputOrder = [...runs].sort((first, second) => first[0]! - second[0]!);
  return {
    shape: inputOrder.map((run) => sizeOf(run.map((axis) => keptShape[axis]!))),
    perm: runs.map((run) => inputOrder.indexOf(run)),
  };
}

/** Transposes `x` by `perm` with rank <= 4 transposes only. */
export function transposeAnyRank(
  calls: KernelCalls,
  x: tf.TensorInfo,
  perm: readonly number[],
): tf.TensorInfo {
  const outShape = perm.map((axis) => x.shape[axis]!);
  let current = calls.reshape(x, x.shape);
  let remaining = [...perm];
  // each pass either finishes (rank <= 4 after merging) or puts one more axis in its final place
  for (;;) {
    const collapsed = collapseTranspose(current.shape, remaining);
    const input = calls.reshape(current, collapsed.shape);
    if (collapsed.perm.length <= 4) {
      const moved = calls.runOriginal('Transpose', { x: input }, { perm: collapsed.perm });
      return calls.reshape(moved, outShape);
    }
    const target = collapsed.perm.findIndex((axis, index) => axis !== index);
    const axis = collapsed.perm[target]!;
    const sizes = collapsed.shape;
    const pre = sizeOf(sizes.slice(0, target));
    const mid = sizeOf(sizes.slice(target, axis));
    const post = sizeOf(sizes.slice(axis + 1));
    const moved = calls.runOriginal(
      'Transpose',
      { x: calls.reshape(input, [pre, mid, sizes[axis]!, post]) },
      { perm: [0, 2, 1, 3] },
    );
    // axes of `moved`, as axes of the collapsed input: [0..target), axis, [target..axis), (axis..]
    const order = [
      ...sizes.slice(0, target).map((_, index) => index),
      axis,
      ...sizes.slice(target, axis).map((_, index) => target + index),
      ...sizes.slice(axis + 1).map((_, index) => axis + 1 + index),
    ];
    current = calls.reshape(
      moved,
      order.map((inputAxis) => sizes[inputAxis]!),
    );
    remaining = collapsed.perm.map((inputAxis) => order.indexOf(inputAxis));
  }
}

/**
 * The smallest slice equal to slicing `shape` at `begin` with `size`: size-1 axes dropped and each
 * axis taken whole merged into the axis before it.
 */
export function collapseSlice(
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): { shape: number[]; begin: number[]; size: number[] } {
  const result = { shape: [] as number[], begin: [] as number[], size: [] as number[] };
  shape.forEach((dimension, axis) => {
    if (dimension === 1) return;
    const whole = begin[axis] === 0 && size[axis] === dimension;
    const last = result.shape.length - 1;
    if (whole && last >= 0) {
      result.shape[last]! *= dimension;
      result.begin[last]! *= dimension;
      result.size[last]! *= dimension;
    } else {
      result.shape.push(dimension);
      result.begin.push(begin[axis]!);
      result.size.push(size[axis]!);
    }
  });
  if (result.shape.length === 0) return { shape: [1], begin: [0], size: [1] };
  return result;
}

/** The wasm backend's heap access (public methods of BackendWasm, absent from KernelBackend's type). */
export interface WasmHeapBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/** Runs shorter than this are copied value by value (a typed-array `set` costs more per call). */
const SHORT_RUN = 16;

/**
 * Copies the slice of `x` at `begin` with `size` (normalized) straight from the wasm heap: the axes are
 * collapsed first, then each contiguous run of the innermost sliced axis is one `set`.
 */
export function copySlice(
  backend: WasmHeapBackend,
  x: tf.TensorInfo,
  begin: readonly number[],
  size: readonly number[],
): tf.TensorInfo {
  const out = backend.makeOutput([...size], x.dtype);
  if (sizeOf(size) === 0) return out;
  const collapsed = collapseSlice(x.shape, begin, size);
  // views taken after makeOutput, which may grow (and so move) the heap
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  const rank = collapsed.shape.length;
  const strides = new Array<number>(rank);
  let stride = 1;
  for (let axis = rank - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= collapsed.shape[axis]!;
  }
  const run = collapsed.size[rank - 1]!;
  const outer = collapsed.size.slice(0, -1);
  const counters = outer.map(() => 0);
  let offset = collapsed.begin.reduce((total, start, axis) => total + start * strides[axis]!, 0);
  const runs = sizeOf(outer);
  let targetOffset = 0;
  for (let index = 0; index < runs; index++) {
    if (run < SHORT_RUN) {
      for (let element = 0; element < run; element++)
        target[targetOffset + element] = source[offset + element]!;
    } else {
      target.set(source.subarray(offset, offset + run), targetOffset);
    }
    targetOffset += run;
    for (let axis = outer.length - 1; axis >= 0; axis--) {
      counters[axis]!++;
      offset += strides[axis]!;
      if (counters[axis]! < outer[axis]!) break;
      offset -= counters[axis]! * strides[axis]!;
      counters[axis] = 0;
    }
  }
  return out;
}

export function transposeKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const x = inputs.x!;
  const perm = (attrs as unknown as tf.TransposeAttrs).perm;
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    if (x.shape.length <= 4 || x.dtype === 'string') return calls.runOriginal('Transpose', { x }, { perm });
    return transposeAnyRank(calls, x, perm);
  });
}

/**
 * Slice from views of the wasm heap. The backend's own Slice first copies the whole input out of the
 * heap (`readSync`) for every slice, and loops element by element above rank 4.
 */
export function sliceKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const x = inputs.x!;
  const { begin, size } = attrs as unknown as tf.SliceAttrs;
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    return wasmKernel('Slice')({ inputs, backend, attrs }) as tf.TensorInfo;
  }
  const [normalizedBegin, normalizedSize] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size) as [
    number[],
    number[],
  ];
  return copySlice(backend as WasmHeapBackend, x, normalizedBegin, normalizedSize);
}

/**
 * PadV2 in the wasm heap: the output filled with the constant, then each contiguous run of the input
 * copied in (axes without padding merged into the axis before them). wasm's own PadV2 cost ~8 ms a call
 * even for [1, 16] inputs on a loaded 2-core machine; a train step of MS-MLP spent 60% of its time there.
 */
export function padKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const x = inputs.x!;
  const { paddings, constantValue } = attrs as unknown as tf.PadV2Attrs;
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    return wasmKernel('PadV2')({ inputs, backend, attrs }) as tf.TensorInfo;
  }
  const heap = backend as WasmHeapBackend;
  const outShape = x.shape.map((size, axis) => paddings[axis]![0] + size + paddings[axis]![1]);
  const out = heap.makeOutput(outShape, x.dtype);
  const target = heap.typedArrayFromHeap(out);
  target.fill(constantValue);
  if (sizeOf(x.shape) === 0) return out;
  // merged axes: input size, output size, padding before
  const sizes: number[] = [];
  const outSizes: number[] = [];
  const before: number[] = [];
  x.shape.forEach((size, axis) => {
    const [head, tail] = paddings[axis]!;
    const last = sizes.length - 1;
    if (head === 0 && tail === 0 && last >= 0) {
      sizes[last]! *= size;
      outSizes[last]! *= size;
      before[last]! *= size;
    } else if (!(size === 1 && head === 0 && tail === 0)) {
      sizes.push(size);
      outSizes.push(head + size + tail);
      before.push(head);
    }
  });
  const source = heap.typedArrayFromHeap(x);
  if (sizes.length === 0) {
    target.set(source);
    return out;
  }
  const rank = sizes.length;
  const strides = new Array<number>(rank);
  let stride = 1;
  for (let axis = rank - 1; axis >= 0; axis--) {
    strides[axis] = stride;
    stride *= outSizes[axis]!;
  }
  const run = sizes[rank - 1]!;
  const outer = sizes.slice(0, -1);
  const counters = outer.map(() => 0);
  let offset = before.reduce((total, head, axis) => total + head * strides[axis]!, 0);
  const runs = sizeOf(outer);
  let sourceOffset = 0;
  for (let index = 0; index < runs; index++) {
    if (run < SHORT_RUN) {
      for (let element = 0; element < run; element++)
        target[offset + element] = source[sourceOffset + element]!;
    } else {
      target.set(source.subarray(sourceOffset, sourceOffset + run), offset);
    }
    sourceOffset += run;
    for (let axis = outer.length - 1; axis >= 0; axis--) {
      counters[axis]!++;
      offset += strides[axis]!;
      if (counters[axis]! < outer[axis]!) break;
      offset -= counters[axis]! * strides[axis]!;
      counters[axis] = 0;
    }
  }
  return out;
}
