// @mlzoo/core: backends, Module, safetensors I/O, seeded initializers, registry, training loop.
export { tfjsRegistered } from './register-tfjs.js';
export {
  AUTO_BACKEND_ORDER,
  BACKEND_PACKAGES,
  type BackendName,
  type BackendRequest,
  type SetBackendOptions,
  setBackend,
  setBackendFromEnvironment,
} from './backend.js';
export { defaultRandom, manualSeed, Random } from './random.js';
export * as init from './init.js';
export {
  type BufferOptions,
  type ForwardOptions,
  formatShape,
  HWIO_TO_OIHW,
  type LoadStateDictOptions,
  type LoadStateDictResult,
  Module,
  ModuleList,
  type ParameterOptions,
  permutedLayout,
  Sequential,
  type StateLayout,
  type TensorModule,
  TRANSPOSED_2D,
} from './module.js';
export {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  resolveIntermediateIndices,
} from './model.js';
export {
  createModel,
  getModelInfo,
  listModels,
  type ModelFactory,
  type ModelInfo,
  type ModelPreset,
  registerModel,
  unregisterModel,
} from './registry.js';
