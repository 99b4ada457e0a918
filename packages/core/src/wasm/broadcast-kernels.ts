// Binary kernels (Add, Multiply, ...) with broadcasting, on wasm.
//
// tfjs-backend-wasm 4.22 runs a broadcast binary op as one native call per innermost row of the output:
// ~3 us each, so [6272, 8] * [8] took 19.5 ms against 0.07 ms for [6272, 8] * [6272, 8] (20 calls each,
// 2 cores). Every LayerNorm/BatchNorm scale and shift, bias add and per-channel product broadcasts. The
// wrapper expands each broadcast operand to the output shape straight in the wasm heap (a typed-array
// `set` or `fill` per run, and doubling `copyWithin` for repeated blocks), then calls the native kernel
// on equal shapes. Equal shapes and scalars go straight to the native kernel.
import * as tf from '@tensorflow/tfjs-core';
import {
  type KernelArguments,
  type KernelFunction,
  sizeOf,
  wasmKernel,
  withKernelCalls,
} from './kernel-calls.js';
import type { WasmHeapBackend } from './layout-kernels.js';

/** The binary kernels that wasm implements with the slow broadcast. */
export const BROADCAST_BINARY_KERNELS = [
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Maximum',
  'Minimum',
  'SquaredDifference',
  'Pow',
  'FloorDiv',
  'Equal',
  'NotEqual',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'LogicalAnd',
  'LogicalOr',
] as const;

/** Runs shorter than this are copied value by value (a typed-array call costs more). */
const SHORT_RUN = 16;

/** Copies `x` broadcast to `shape` (numpy rules, `x` of equal or lower rank) into a new heap tensor. */
export function expandInHeap(
  backend: WasmHeapBackend,
  x: tf.TensorInfo,
  shape: readonly number[],
): tf.TensorInfo {
  const out = backend.makeOutput([...shape], x.dtype);
  if (sizeOf(shape) === 0) return out;
  const padded = [...shape.slice(0, shape.length - x.shape.length).map(() => 1), ...x.shape];
  // merge neighbouring axes of the same kind: copied (x has the full size) or repeated (x has size 1)
  const sizes: number[] = [];
  const repeated: boolean[] = [];
  shape.forEach((size, axis) => {
    if (size === 1) return;
    const isRepeated = padded[axis] === 1;
    const last = sizes.length - 1;
    if (last >= 0 && repeated[last] === isRepeated) sizes[last]! *= size;
    else {
      sizes.push(size);
      repeated.push(isRepeated);
    }
  });
  const source = backend.typedArrayFromHeap(x);
  const target = backend.typedArrayFromHeap(out);
  if (sizes.length === 0) {
    target[0] = source[0]!;
    return out;
  }
  // elements of the output block below each axis, and of the source block
  const targetBlock = new Array<number>(sizes.length);
  const sourceBlock = new Array<number>(sizes.length);
  let targetSize = 1;
  let sourceSize = 1;
  for (let axis = sizes.length - 1; axis >= 0; axis--) {
    targetBlock[axis] = targetSize;
    sourceBlock[axis] = sourceSize;
    targetSize *= sizes[axis]!;
    if (!repeated[axis]) sourceSize *= sizes[axis]!;
  }
  const last = sizes.length - 1;
  const fillBlock = (axis: number, sourceOffset: number, targetOffset: number): void => {
    const size = sizes[axis]!;
    if (axis === last) {
      if (size < SHORT_RUN) {
        for (let index = 0; index < size; index++) {
          target[targetOffset + index] = source[repeated[axis] ? sourceOffset : sourceOffset + index]!;
        }
      } else if (repeated[axis]) target.fill(source[sourceOffset]!, targetOffset, targetOffset + size);
      else target.set(source.subarray(sourceOffset, sourceOffset + size), targetOffset);
      return;
    }
    const block = targetBlock[axis]!;
    if (repeated[axis]) {
      fillBlock(axis + 1, sourceOffset, targetOffset);
      // double the filled part until the axis is full
      let filled = 1;
      while (filled < size) {
        const count = Math.min(filled, size - filled);
        target.copyWithin(targetOffset + filled * block, targetOffset, targetOffset + count * block);
        filled += count;
      }
      return;
    }
    for (let index = 0; index < size; index++) {
      fillBlock(axis + 1, sourceOffset + index * sourceBlock[axis]!, targetOffset + index * block);
    }
  };
  fillBlock(0, 0, 0);
  return out;
}

function sameShape(first: readonly number[], second: readonly number[]): boolean {
  return first.length === second.length && first.every((size, axis) => size === second[axis]);
}

/** A binary kernel that expands broadcast operands before calling the native one. */
export function broadcastingKernel(kernelName: string): KernelFunction {
  return ({ inputs, backend, attrs }: KernelArguments) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const original = wasmKernel(kernelName);
    const native = () => original({ inputs, backend, attrs }) as tf.TensorInfo;
    if (sameShape(a.shape, b.shape) || a.dtype === 'string' || a.dtype === 'complex64') return native();
    const sizeA = sizeOf(a.shape);
    const sizeB = sizeOf(b.shape);
    if (sizeA === 1 || sizeB === 1) return native();
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    return withKernelCalls(backend as tf.KernelBackend, (calls) => {
      const heap = backend as WasmHeapBackend;
      const expand = (x: tf.TensorInfo) => {
        if (sameShape(x.shape, shape)) return x;
        const expanded = expandInHeap(heap, x, shape);
        calls.track(expanded);
        return expanded;
      };
      return calls.track(
        original({ inputs: { a: expand(a), b: expand(b) }, backend, attrs }) as tf.TensorInfo,
      );
    });
  };
}

/**
 * Tile as a broadcast: x [d0, d1, ...] seen as [1, d0, 1, d1, ...] expanded to [r0, d0, r1, d1, ...].
 * wasm's own Tile took 90 ms to tile [1, 8] to [6272, 8].
 */
export function tileKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const { x } = inputs as { x: tf.TensorInfo };
  const { reps } = attrs as unknown as tf.TileAttrs;
  if (x.dtype === 'string' || x.dtype === 'complex64') {
    return wasmKernel('Tile')({ inputs, backend, attrs }) as tf.TensorInfo;
  }
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    const interleaved = calls.reshape(
      x,
      x.shape.flatMap((size) => [1, size]),
    );
    const expanded = calls.track(
      expandInHeap(
        backend as WasmHeapBackend,
        interleaved,
        x.shape.flatMap((size, axis) => [reps[axis]!, size]),
      ),
    );
    return calls.reshape(
      expanded,
      x.shape.map((size, axis) => size * reps[axis]!),
    );
  });
}
