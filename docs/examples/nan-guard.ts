// The non-finite loss guard: fit checks every loss before applying its update. A NaN or infinite loss
// throws NonFiniteLossError; that update is not applied and the last checkpoint is left as it was.
import { fit, memoryCheckpoint, NonFiniteLossError, Sequential } from '@mlzoo/core';
import { Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export async function main() {
  const model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 1 })]);
  // A bad row (a NaN from a broken file or a division by zero) in the second batch.
  const x = tf.tensor2d([
    [1, 2],
    [3, 4],
    [5, 6],
    [7, 8],
    [Number.NaN, 1],
    [2, 3],
    [4, 5],
    [6, 7],
  ]);
  const y = tf.tensor2d([[3], [7], [11], [15], [1], [5], [9], [13]]);
  const store = memoryCheckpoint();
  const optimizer = tf.train.sgd(0.001);
  let caught: NonFiniteLossError | undefined;
  try {
    await fit(
      model,
      { x, y },
      {
        optimizer,
        loss: 'mse',
        epochs: 2,
        batchSize: 4,
        shuffle: false,
        checkpoint: { store, everySteps: 1 },
      },
    );
  } catch (error) {
    if (!(error instanceof NonFiniteLossError)) throw error;
    caught = error;
  }
  const weightsFinite = tf.tidy(() => tf.all(tf.isFinite(model.parameters()[0]!)).dataSync()[0] === 1);
  const result = {
    message: caught?.message, // 'fit: loss became NaN at epoch 1, step 2 (global step 2); ...'
    step: caught?.step, // 2
    weightsFinite, // true: the bad update was never applied
    checkpointStep: store.state?.globalStep, // 1: the checkpoint after step 1 is intact
  };
  if (store.state) {
    tf.dispose([
      ...Object.values(store.state.model),
      ...store.state.optimizer.map((weight) => weight.tensor),
    ]);
  }
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return result;
}
