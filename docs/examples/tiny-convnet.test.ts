// The shared model suite for a contributed model: one vitest test per invariant (parameter count,
// finite outputs on batch 1 and 2, no tensor leaks, a gradient for every parameter, safetensors
// round trip, the classifier surface).
import { runModelSuite } from '@mlzoo/testing';
import { TINY_CONVNET_PRESETS, TinyConvNet } from './tiny-convnet.js';

for (const [name, preset] of Object.entries(TINY_CONVNET_PRESETS)) {
  runModelSuite({
    name,
    create: () => new TinyConvNet(preset.config),
    inputShape: [28, 28, 1],
    numParameters: preset.numParameters,
  });
}
