// Saving and loading a model's weights as a .safetensors file in Node. The write is atomic: a crash
// leaves the old file or the new one, never half of either.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed } from '@mlzoo/core';
import { loadSafetensorsFile, saveSafetensorsFile } from '@mlzoo/core/node';
import { MlpClassifier } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export async function main() {
  const directory = await mkdtemp(join(tmpdir(), 'mlzoo-docs-'));
  const path = join(directory, 'mlp.safetensors');
  try {
    manualSeed(1);
    const trained = new MlpClassifier({ imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [32] });
    const state = trained.stateDict();
    await saveSafetensorsFile(path, state, { architecture: 'mlp', hidden_dims: '32' });
    tf.dispose(Object.values(state));

    manualSeed(2); // different initial weights
    const restored = new MlpClassifier({ imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [32] });
    const { tensors, metadata } = await loadSafetensorsFile(path);
    restored.loadStateDict(tensors);
    tf.dispose(Object.values(tensors));

    const input = tf.randomUniform([4, 28, 28, 1]);
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(trained.forward(input), restored.forward(input)))));
    const maxDifference = (await difference.data())[0]; // 0: same weights, same outputs
    tf.dispose([input, difference]);
    trained.dispose();
    restored.dispose();
    return { keys: Object.keys(metadata), metadata, maxDifference };
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
}
