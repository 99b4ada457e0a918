// The golden test: PyTorch's state dict loads by key and the tfjs model reproduces PyTorch's logits.
// The fixture comes from tiny_convnet_golden.py; rerun it when the architecture changes.
import { readFileSync } from 'node:fs';
import { decodeSafetensors } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { TINY_CONVNET_PRESETS, TinyConvNet } from './tiny-convnet.js';

it('tiny_convnet matches PyTorch', async () => {
  const bytes = readFileSync(new URL('./fixtures/tiny_convnet.safetensors', import.meta.url));
  const tensors = decodeSafetensors(new Uint8Array(bytes));
  const params = Object.fromEntries(
    Object.entries(tensors)
      .filter(([name]) => name.startsWith('params.'))
      .map(([name, tensor]) => [name.slice('params.'.length), tensor]),
  );
  const model = new TinyConvNet(TINY_CONVNET_PRESETS.tiny_convnet!.config);
  model.loadStateDict(params); // strict: every key matches
  const difference = tf.tidy(
    () => tf.max(tf.abs(tf.sub(model.forward(tensors.input!), tensors.output!))).dataSync()[0]!,
  );
  expect(difference).toBeLessThan(1e-5);
  model.dispose();
  tf.dispose(Object.values(tensors));
});
