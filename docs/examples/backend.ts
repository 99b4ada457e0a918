// Choosing a backend. 'auto' tries webgpu (where navigator.gpu exists), then @tensorflow/tfjs-node,
// then wasm, then cpu, using the first whose package is installed, and says which it picked.
import { type BackendName, setBackend, setBackendFromEnvironment } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export async function main() {
  const chosen: BackendName = await setBackend('auto'); // 'wasm' in Node with @tensorflow/tfjs-backend-wasm
  const sum = tf.tidy(() => tf.sum(tf.tensor1d([1, 2, 3])));
  const total = (await sum.data())[0]; // 6, on whichever backend was chosen
  sum.dispose();

  // A fixed choice; throws a sentence naming the package to install when it is missing.
  const cpu = await setBackend('cpu');

  // What the CLI and the test suite do: MLZOO_BACKEND=wasm|cpu|webgpu|tensorflow|auto (auto when unset).
  const fromEnvironment = await setBackendFromEnvironment({ quiet: true });

  return { chosen, total, cpu, fromEnvironment };
}
