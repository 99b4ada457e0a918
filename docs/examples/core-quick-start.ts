import { decodeSafetensors, encodeSafetensors, init, Module, manualSeed, setBackend } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

class Scale extends Module {
  readonly weight = this.addParameter('weight', init.ones([3]));
  forward(x: tf.Tensor): tf.Tensor {
    return tf.mul(x, this.weight);
  }
}

export async function main() {
  const backend = await setBackend('auto', { quiet: true }); // webgpu, tfjs-node, wasm or cpu
  manualSeed(0);
  const model = new Scale();
  const bytes = tf.tidy(() => encodeSafetensors({ weight: tf.tensor1d([1, 2, 3]) })); // a .safetensors file
  const state = decodeSafetensors(bytes);
  model.loadStateDict(state); // by PyTorch names, in PyTorch layouts
  tf.dispose(Object.values(state));
  const values = tf.tidy(() => model.forward(tf.ones([2, 3])).arraySync()); // [[1, 2, 3], [1, 2, 3]]
  model.dispose();
  return { backend, values };
}
