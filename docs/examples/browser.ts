// In a browser app (Vite, webpack, esbuild): import the backends you ship, pick one, and stream a
// safetensors file from a URL with progress. The same code runs in Node 20 (global fetch).
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { type FetchProgress, loadSafetensorsFromUrl, setBackend } from '@mlzoo/core';
import { MlpClassifier } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export async function main(url: string, options: { fetch?: typeof fetch } = {}) {
  // webgpu is tried only if its package was imported and navigator.gpu exists
  const backend = await setBackend('auto', { order: ['webgpu', 'wasm', 'cpu'], quiet: true });

  const progress: FetchProgress[] = [];
  const tensors = await loadSafetensorsFromUrl(url, {
    onProgress: (update) => progress.push(update), // { source, loadedBytes, totalBytes } for a progress bar
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const model = new MlpClassifier({ imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [32] });
  model.loadStateDict(tensors);
  tf.dispose(Object.values(tensors));

  const logits = tf.tidy(() => model.forward(tf.zeros([1, 28, 28, 1])));
  const shape = logits.shape;
  logits.dispose();
  model.dispose();
  return { backend, shape, loaded: progress.at(-1)?.loadedBytes };
}
