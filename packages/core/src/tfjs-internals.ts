// The one place mlzoo reads tfjs-core's engine state (stable in the pinned, frozen 4.22 line).
import * as tf from '@tensorflow/tfjs-core';

interface EngineState {
  gradientDepth: number;
  activeTape: Array<{ saved?: tf.Tensor[] }> | null;
}

function engineState(): EngineState {
  return (tf.engine() as unknown as { state: EngineState }).state;
}

/** Whether tfjs is recording a gradient tape right now (inside tf.grad / tf.variableGrads). */
export function isRecordingGradient(): boolean {
  return engineState().activeTape != null;
}

/**
 * tfjs 4.22 leaves the tensors saved on the gradient tape allocated when the function inside
 * `tf.variableGrads` throws (e.g. a shape error in a model's forward). Disposes them.
 */
export function disposeAbandonedTape(): void {
  const state = engineState();
  if (state.gradientDepth !== 0 || !state.activeTape) return;
  for (const node of state.activeTape) for (const tensor of node.saved ?? []) tensor.dispose();
  state.activeTape = null;
}
