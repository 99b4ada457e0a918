// Transpose and Slice for tensors of rank 5 and more on wasm.
//
// tfjs-backend-wasm 4.22 has fast code for rank <= 4 only: its C++ Transpose and its JS Slice fall back
// to an element-by-element loop above that (measured: a rank-5 transpose of 1.6M floats 114 ms, the
// rank-4 one 0.6 ms). Attention blocks and window partitions transpose rank-5 and rank-6 tensors.
// These wrappers first merge axes that stay adjacent (and, for a slice, axes taken whole), which
// brings nearly every case to rank <= 4; a permutation that stays above rank 4 is done as a few
// rank-4 transposes, each moving one axis: [pre, mid, X, post] -> [pre, X, mid, post].
import * as tf from '@tensorflow/tfjs-core';
import { type KernelArguments, type KernelCalls, sizeOf, withKernelCalls } from './kernel-calls.js';

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

/** Slices `x` with rank <= 4 slices only (normalized `begin` and `size`). */
export function sliceAnyRank(
  calls: KernelCalls,
  x: tf.TensorInfo,
  begin: readonly number[],
  size: readonly number[],
): tf.TensorInfo {
  let current = x;
  const done = x.shape.map(() => false);
  for (;;) {
    const partial = x.shape
      .map((_, axis) => axis)
      .filter((axis) => !done[axis] && !(begin[axis] === 0 && size[axis] === x.shape[axis]));
    // at most three partial axes per slice: merged with the whole ones, rank <= 4
    const now = new Set(partial.slice(0, 3));
    const stepBegin = current.shape.map((_, axis) => (now.has(axis) ? begin[axis]! : 0));
    const stepSize = current.shape.map((dimension, axis) => (now.has(axis) ? size[axis]! : dimension));
    const collapsed = collapseSlice(current.shape, stepBegin, stepSize);
    const sliced = calls.runOriginal(
      'Slice',
      { x: calls.reshape(current, collapsed.shape) },
      { begin: collapsed.begin, size: collapsed.size },
    );
    current = calls.reshape(sliced, stepSize);
    for (const axis of now) done[axis] = true;
    if (partial.length <= 3) return current;
  }
}

export function transposeKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const x = inputs.x!;
  const perm = (attrs as unknown as tf.TransposeAttrs).perm;
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    if (x.shape.length <= 4 || x.dtype === 'string') return calls.runOriginal('Transpose', { x }, { perm });
    return transposeAnyRank(calls, x, perm);
  });
}

export function sliceKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const x = inputs.x!;
  const { begin, size } = attrs as unknown as tf.SliceAttrs;
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    if (x.shape.length <= 4 || x.dtype === 'string')
      return calls.runOriginal('Slice', { x }, { begin, size });
    const [normalizedBegin, normalizedSize] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size) as [
      number[],
      number[],
    ];
    return sliceAnyRank(calls, x, normalizedBegin, normalizedSize);
  });
}
