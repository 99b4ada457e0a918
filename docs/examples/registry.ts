// Create-by-name, as timm's create_model. Nothing registers on import: a package exports a function
// that registers its presets, and you call it.
import { createModel, getModelInfo, listModels, registerModel } from '@mlzoo/core';
import { MlpClassifier, type MlpClassifierConfig, registerLayersModels } from '@mlzoo/layers';

/** A factory builds the model from a full config (the preset's, with overrides applied). */
function createSmallMlp(config: MlpClassifierConfig): MlpClassifier {
  return new MlpClassifier(config);
}

export async function main() {
  registerLayersModels(); // registers 'mlp_fashion_mnist'

  // Your own preset: a name, a factory and pure data.
  const config: MlpClassifierConfig = { imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [64] };
  registerModel('mlp_small', createSmallMlp, {
    config,
    numParameters: 784 * 64 + 64 + 64 * 10 + 10,
    description: 'MLP 784-64-10',
  });

  const names = listModels('mlp_*'); // ['mlp_fashion_mnist', 'mlp_small']
  const info = getModelInfo('mlp_fashion_mnist');

  // Overrides replace preset config fields.
  const model = createModel<MlpClassifier>('mlp_small', { numClasses: 5 });
  const result = { names, presetParameters: info.preset.numParameters, numClasses: model.numClasses };
  model.dispose();

  let unknownError = '';
  try {
    createModel('mlp_huge');
  } catch (error) {
    unknownError = (error as Error).message; // names similar models
  }
  return { ...result, unknownError };
}
