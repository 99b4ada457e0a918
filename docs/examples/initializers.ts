// Seeded initializers: values are drawn in JavaScript, so the same seed gives the same weights on
// cpu, wasm and webgpu. manualSeed seeds the default generator, as torch.manual_seed does.
import { init, manualSeed, Random } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export async function main() {
  manualSeed(42);
  const first = init.truncNormal([256, 64], { std: 0.02 }); // timm's trunc_normal_(std=.02)
  manualSeed(42);
  const second = init.truncNormal([256, 64], { std: 0.02 });
  const identical = tf.tidy(() => tf.equal(first, second).all().dataSync()[0] === 1);

  // An explicit generator, independent of the default one.
  const kaiming = init.kaimingNormal([128, 64], { random: new Random(7), nonlinearity: 'relu' });
  const std = tf.tidy(() => Math.sqrt(tf.moments(kaiming).variance.dataSync()[0]!)); // ~ sqrt(2 / 64)

  // PyTorch's nn.Linear default: U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
  const weight = init.torchDefaultWeight([10, 100], { random: new Random(0) });
  const bound = tf.tidy(() => tf.max(tf.abs(weight)).dataSync()[0]!); // below 1 / sqrt(100)

  const fans = init.torchFans([64, 3, 3, 3]); // conv [out, in, kh, kw]: fanIn 27, fanOut 576
  tf.dispose([first, second, kaiming, weight]);
  return { identical, std, bound, fans };
}
