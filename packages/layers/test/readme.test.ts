// The README's quick start, run as written (imports through the package entry).
import { manualSeed } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { LayerNorm, Mlp, MultiHeadAttention, PatchEmbed } from '../src/index.js';

it('README quick start runs', () => {
  const before = tf.memory().numTensors;
  manualSeed(0);
  const patchEmbed = new PatchEmbed({ imgSize: 28, patchSize: 7, inChans: 1, embedDim: 32 });
  const norm = new LayerNorm({ normalizedShape: 32, eps: 1e-6 });
  const attention = new MultiHeadAttention({ dim: 32, numHeads: 4, qkvBias: true, scoreNorm: 'sigmoid' });
  const mlp = new Mlp({ inFeatures: 32, hiddenFeatures: 64 });

  const tokens = tf.tidy(() => {
    const images = tf.zeros([2, 28, 28, 1]);
    let x = patchEmbed.forward(images);
    x = tf.add(x, attention.forward(norm.forward(x)));
    return tf.add(x, mlp.forward(x));
  });
  expect(tokens.shape).toEqual([2, 16, 32]);
  expect(attention.stateDictShapes()['qkv.weight']).toEqual([96, 32]);
  tokens.dispose();
  for (const module of [patchEmbed, norm, attention, mlp]) module.dispose();
  expect(tf.memory().numTensors).toBe(before);
});
