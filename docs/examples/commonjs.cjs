// CommonJS (require) works as well as ESM: every package ships dist/index.cjs beside dist/index.js.
const tf = require('@tensorflow/tfjs-core');
const { decodeSafetensors, encodeSafetensors, setBackend } = require('@mlzoo/core');

async function main() {
  const backend = await setBackend('cpu'); // needs @tensorflow/tfjs-backend-cpu installed
  const bytes = tf.tidy(() => encodeSafetensors({ weight: tf.eye(2) }));
  const { weight } = decodeSafetensors(bytes);
  // tf.grad works in plain Node because @mlzoo/core registers tfjs's gradients
  const slope = tf.tidy(() =>
    tf
      .grad((x) => tf.sum(tf.square(x)))(weight)
      .arraySync(),
  );
  weight.dispose();
  return { backend, slope }; // slope: [[2, 0], [0, 2]]
}

module.exports = { main };
