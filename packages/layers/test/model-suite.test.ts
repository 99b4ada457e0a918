// The shared zoo model suite (finite outputs, no leaks, gradients, state-dict round trip, parameter
// count, classifier surface) on MlpClassifier: a tiny config and the registered preset.
import { runModelSuite } from '@mlzoo/testing';
import { MLP_CLASSIFIER_PRESETS, MlpClassifier } from '../src/index.js';

runModelSuite({
  name: 'mlp_tiny',
  create: () =>
    new MlpClassifier({ imgSize: 8, inChans: 2, numClasses: 3, hiddenDims: [16, 8], dropRate: 0.1 }),
  inputShape: [8, 8, 2],
  numParameters: 8 * 8 * 2 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3,
});

const preset = MLP_CLASSIFIER_PRESETS.mlp_fashion_mnist!;
runModelSuite({
  name: 'mlp_fashion_mnist',
  create: () => new MlpClassifier(preset.config),
  inputShape: [28, 28, 1],
  numParameters: preset.numParameters,
});
