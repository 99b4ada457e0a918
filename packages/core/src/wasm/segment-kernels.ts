// UnsortedSegmentSum (the gradient of every gather, so of every embedding table) and a correct
// OneHot for float outputs, on wasm.
import type * as tf from '@tensorflow/tfjs-core';
import { type KernelArguments, sizeOf, withKernelCalls } from './kernel-calls.js';

/**
 * UnsortedSegmentSum as the native ScatterNd kernel, which sums rows with the same index. Ids outside
 * [0, numSegments) are dropped, as TensorFlow does (ScatterNd would write out of bounds).
 */
export function unsortedSegmentSumKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
  const idsRank = segmentIds.shape.length;
  const prefix = x.shape.slice(0, idsRank);
  if (prefix.some((dimension, axis) => dimension !== segmentIds.shape[axis])) {
    throw new Error(
      `mlzoo wasm UnsortedSegmentSum: segmentIds shape [${segmentIds.shape.join(', ')}] must be a prefix of x shape [${x.shape.join(', ')}]`,
    );
  }
  const rest = x.shape.slice(idsRank);
  const count = sizeOf(segmentIds.shape);
  const kernelBackend = backend as tf.KernelBackend;
  return withKernelCalls(kernelBackend, (calls) => {
    const outShape = [numSegments, ...rest];
    if (count === 0 || numSegments === 0) return calls.fill(outShape, 0, x.dtype);
    const ids = kernelBackend.readSync(segmentIds.dataId) as Int32Array | Float32Array;
    let rows = calls.reshape(x, [count, ...rest]);
    let indices: tf.TensorInfo;
    const valid: number[] = [];
    for (let index = 0; index < count; index++) {
      const id = ids[index]!;
      if (id >= 0 && id < numSegments) valid.push(index);
    }
    if (valid.length === count) {
      indices = calls.reshape(segmentIds.dtype === 'int32' ? segmentIds : calls.cast(segmentIds, 'int32'), [
        count,
        1,
      ]);
    } else {
      if (valid.length === 0) return calls.fill(outShape, 0, x.dtype);
      const kept = Int32Array.from(valid);
      rows = calls.run(
        'GatherV2',
        { x: rows, indices: calls.constant(kept, [kept.length]) },
        { axis: 0, batchDims: 0 },
      );
      indices = calls.constant(
        Int32Array.from(valid, (index) => ids[index]!),
        [valid.length, 1],
      );
    }
    return calls.run('ScatterNd', { indices, updates: rows }, { shape: outShape });
  });
}

/**
 * tfjs-backend-wasm 4.22's OneHot writes int32 values whatever the dtype asked for (float32 one-hots
 * came out as 1.4e-45, i.e. zeros) and takes integer on/off values. This computes the int32 0/1
 * one-hot natively, casts it, and scales it to the on/off values.
 */
export function oneHotKernel({ inputs, backend, attrs }: KernelArguments): tf.TensorInfo {
  const { indices } = inputs as { indices: tf.TensorInfo };
  const { depth, onValue, offValue, dtype } = attrs as unknown as tf.OneHotAttrs;
  return withKernelCalls(backend as tf.KernelBackend, (calls) => {
    const integral = Number.isInteger(onValue) && Number.isInteger(offValue);
    if (dtype === 'int32' && integral) {
      return calls.runOriginal('OneHot', { indices }, { depth, onValue, offValue, dtype });
    }
    const ones = calls.runOriginal('OneHot', { indices }, { depth, onValue: 1, offValue: 0, dtype: 'int32' });
    let result = calls.cast(ones, dtype === 'int32' ? 'float32' : dtype);
    if (onValue !== 1 || offValue !== 0) {
      result = calls.add(
        calls.multiply(result, calls.fill([], onValue - offValue)),
        calls.fill([], offValue),
      );
    }
    return dtype === 'int32' ? calls.cast(result, 'int32') : result;
  });
}
