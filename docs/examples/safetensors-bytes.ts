// safetensors in memory: encode tensors and string metadata to bytes, read the header, decode.
import { decodeSafetensorsWithMetadata, encodeSafetensors, readSafetensorsHeader } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export async function main() {
  const tensors = {
    'fc1.weight': tf.randomNormal([16, 784]),
    'fc1.bias': tf.zeros([16]),
    steps: tf.tensor1d([1, 2, 3], 'int32'),
  };
  const bytes = encodeSafetensors(tensors, { format: 'pt' });
  // Store floats as BF16 to halve the file:
  const halfBytes = encodeSafetensors(tensors, undefined, { floatDtype: 'BF16' });
  tf.dispose(Object.values(tensors));

  // The header alone (no tensors made): names, dtypes, shapes and byte ranges.
  const header = readSafetensorsHeader(bytes);
  const dtypes = Object.fromEntries([...header.tensors].map(([name, entry]) => [name, entry.dtype]));

  const decoded = decodeSafetensorsWithMetadata(bytes);
  const shapes = Object.fromEntries(Object.entries(decoded.tensors).map(([name, t]) => [name, t.shape]));
  tf.dispose(Object.values(decoded.tensors));

  // Files from outside are validated before any tensor is made; a damaged file is refused with a sentence.
  let truncatedError = '';
  try {
    decodeSafetensorsWithMetadata(bytes.subarray(0, bytes.length - 4));
  } catch (error) {
    truncatedError = (error as Error).message;
  }

  return {
    shapes, // { 'fc1.weight': [16, 784], 'fc1.bias': [16], steps: [3] }
    dtypes, // { 'fc1.weight': 'F32', 'fc1.bias': 'F32', steps: 'I32' }
    metadata: decoded.metadata, // { format: 'pt' }
    sizes: { f32: bytes.length, bf16: halfBytes.length },
    truncatedError,
  };
}
