// State dicts use PyTorch's names and layouts, so a checkpoint written by PyTorch loads by key.
// Here the "PyTorch" state dict is written out by hand: nn.Linear(3, 2) keeps its weight as [out, in].
import { Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export async function main() {
  const linear = new Linear({ inFeatures: 3, outFeatures: 2 });

  // torch.nn.Linear(3, 2).state_dict(): weight [2, 3], bias [2]
  const pytorchState = {
    weight: tf.tensor2d([
      [1, 0, -1],
      [0.5, 0.5, 0.5],
    ]),
    bias: tf.tensor1d([0, 1]),
  };
  const { missingKeys, unexpectedKeys } = linear.loadStateDict(pytorchState);
  tf.dispose(Object.values(pytorchState));

  // y = x W^T + b, exactly as PyTorch computes it
  const values = tf.tidy(() => linear.forward(tf.tensor2d([[1, 2, 3]])).arraySync() as number[][]); // [[-2, 4]]

  // Round trip: stateDict() gives PyTorch layouts back (new tensors: dispose them).
  const state = linear.stateDict();
  const roundTripShapes = Object.fromEntries(Object.entries(state).map(([name, t]) => [name, t.shape]));
  const storedShape = linear.weight.shape; // [3, 2]: stored [in, out] for tfjs matMul
  tf.dispose(Object.values(state));

  // Strict loading (the default) names what is missing; a wrong shape is always an error.
  const transposed = tf.zeros([3, 2]);
  let strictError = '';
  try {
    linear.loadStateDict({ weight: transposed });
  } catch (error) {
    strictError = (error as Error).message; // 'Linear: state dict does not match the model (missing keys: bias)'
  } finally {
    transposed.dispose();
  }

  linear.dispose();
  return { missingKeys, unexpectedKeys, values, roundTripShapes, storedShape, strictError };
}
