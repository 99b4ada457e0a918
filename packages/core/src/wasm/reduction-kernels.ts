// Sum over leading axes on wasm, without a transpose.
//
// tfjs-backend-wasm 4.22 sums only innermost axes natively: for any other axis it first transposes the
// whole input so the reduced axes come last (a full copy at ~9 ns a float here), then sums rows. Every
// bias and LayerNorm gradient of a training step is such a sum (a [B·N, C] cotangent summed over its
// rows into [C]). This kernel sums the rows pairwise in place instead, with the backend's native
// (XNNPACK) Add on zero-copy heap views: the first half of the rows plus the second half into a
// scratch buffer, then halving inside the scratch until one row is left (an odd row out is added to
// the first row). That is log2(rows) native calls and no transpose; pairwise sums are also more
// accurate than one running sum. Sums that reduce the innermost axis, non-adjacent axes, axes with
// kept axes before them, and non-float32 inputs keep the original kernel. Measured: see `sumKernel`.
// The gradient of Sum is defined on the op, so it is unchanged.
import * as tf from '@tensorflow/tfjs-core';
import { heapOffset, nativeFunction, shapeBytes, type WasmViewBackend, withHeapViews } from './heap-views.js';
import { type KernelArguments, sizeOf, wasmKernel } from './kernel-calls.js';

const BINARY_ARGUMENTS = ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number'];
/** tfjs-backend-wasm's CppDType code for float32. */
const FLOAT32 = 0;

/**
 * `shape` reduced over `axes` as [outer, reduced, inner] when the reduced axes (size-1 axes ignored)
 * are adjacent and are not the innermost; undefined otherwise.
 */
export function collapseLeadingReduction(
  shape: readonly number[],
  axes: readonly number[],
): { outer: number; reduced: number; inner: number } | undefined {
  const reducedAxes = new Set(axes.filter((axis) => shape[axis] !== 1));
  if (reducedAxes.size === 0) return undefined;
  const sorted = [...reducedAxes].sort((first, second) => first - second);
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  for (let axis = first; axis <= last; axis++) {
    if (shape[axis] !== 1 && !reducedAxes.has(axis)) return undefined;
  }
  const inner = sizeOf(shape.slice(last + 1));
  if (inner === 1) return undefined;
  return { outer: sizeOf(shape.slice(0, first)), reduced: sizeOf(shape.slice(first, last + 1)), inner };
}

/**
 * The Sum mlzoo registers over wasm's (see the file comment): the same results for every axis and
 * `keepDims`; sums over leading axes add halves of the input natively instead of transposing it.
 * Measured in one run, alternating (2-core machine, load ~10, one wasm thread): [6400, 384] over axis
 * 0 took 2.9 ms against 39.7 for the original kernel; [6400, 256] 2.1 vs 22.6; [128, 50, 128] over
 * axes [0, 1] 1.1 vs 10.8.
 */
export function sumKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const x = inputs.x!;
  const { axis, keepDims = false } = (attrs ?? {}) as { axis: number | number[]; keepDims?: boolean };
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const collapsed = x.dtype === 'float32' ? collapseLeadingReduction(x.shape, axes) : undefined;
  if (collapsed?.outer !== 1 || sizeOf(x.shape) === 0) {
    return wasmKernel('Sum')({ inputs, backend, attrs }) as tf.TensorInfo;
  }
  const heap = backend as WasmViewBackend;
  const outShape = keepDims
    ? x.shape.map((size, index) => (axes.includes(index) ? 1 : size))
    : x.shape.filter((_, index) => !axes.includes(index));
  const { reduced: rows, inner: columns } = collapsed;
  const out = heap.makeOutput(outShape, 'float32');
  const half = Math.floor(rows / 2);
  const scratch = heap.makeOutput([half, columns], 'float32');
  try {
    const add = nativeFunction(heap, 'Add', BINARY_ARGUMENTS);
    const rowBytes = columns * 4;
    // target[0, count) = first[0, count) + second[0, count), in rows, at byte offsets
    const addRows = (target: number, first: number, second: number, count: number) => {
      const floats = count * columns;
      const shape = shapeBytes([floats]);
      const views = [
        { offset: first, floats },
        { offset: second, floats },
        { offset: target, floats },
      ];
      withHeapViews(heap, views, ([firstId, secondId, targetId]) =>
        add(firstId, shape, 1, secondId, shape, 1, FLOAT32, targetId),
      );
    };
    const input = heapOffset(heap, x, 'Sum');
    const buffer = heapOffset(heap, scratch, 'Sum');
    addRows(buffer, input, input + half * rowBytes, half);
    if (rows % 2 === 1) addRows(buffer, buffer, input + (rows - 1) * rowBytes, 1);
    for (let count = half; count > 1; ) {
      const next = Math.floor(count / 2);
      addRows(buffer, buffer, buffer + next * rowBytes, next);
      if (count % 2 === 1) addRows(buffer, buffer, buffer + (count - 1) * rowBytes, 1);
      count = next;
    }
    heap.typedArrayFromHeap(out).set(heap.typedArrayFromHeap(scratch).subarray(0, columns));
  } finally {
    heap.disposeData(scratch.dataId);
  }
  return out;
}
