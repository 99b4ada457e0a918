// @mlzoo/core: backends, Module, safetensors I/O, seeded initializers, registry, training loop.

export {
  AUTO_BACKEND_ORDER,
  BACKEND_PACKAGES,
  type BackendName,
  type BackendRequest,
  type SetBackendOptions,
  setBackend,
  setBackendFromEnvironment,
} from './backend.js';
export * as init from './init.js';
export {
  binaryCrossEntropyWithLogits,
  type CrossEntropyOptions,
  crossEntropy,
  type LossFunction,
  type LossName,
  meanSquaredError,
  resolveLoss,
} from './losses.js';
export {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  resolveIntermediateIndices,
} from './model.js';
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
export { defaultRandom, manualSeed, Random } from './random.js';
export { tfjsRegistered } from './register-tfjs.js';
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
export {
  type DecodeOptions,
  decodeSafetensors,
  decodeSafetensorsWithMetadata,
  type EncodeOptions,
  encodeSafetensors,
  encodeSafetensorsAsync,
  type FetchBytesOptions,
  type FetchProgress,
  fetchBytes,
  type LoadFromUrlOptions,
  loadSafetensorsFromBuffer,
  loadSafetensorsFromUrl,
  readSafetensorsHeader,
  type SafetensorsDtype,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from './safetensors.js';
export { disposeAbandonedTape, isRecordingGradient } from './tfjs-internals.js';
export {
  type CheckpointOptions,
  type CheckpointState,
  type CheckpointStore,
  type Dataset,
  decodeCheckpoint,
  type EpochSummary,
  type EvaluateOptions,
  type EvaluationResult,
  encodeCheckpoint,
  evaluate,
  type FitOptions,
  type FitResult,
  fit,
  isMultiPassOptimizer,
  type MultiPassOptimizer,
  memoryCheckpoint,
  type NamedTensor,
  NonFiniteLossError,
  type TrainingProgress,
  type TrainingStepContext,
} from './training.js';
export { installWasmBatchMatMul } from './wasm-batch-matmul.js';
export { installWasmIdentity } from './wasm-identity.js';
export { installWasmKernelFixes } from './wasm-kernels.js';
export {
  defaultWasmThreadCount,
  MAX_DEFAULT_WASM_THREADS,
  wasmThreadCount,
  wasmThreadsFallbackReason,
} from './wasm-threads.js';
export {
  installNodeWebGPU,
  NODE_WEBGPU_PACKAGE,
  type NodeWebGPUInfo,
  type NodeWebGPUOptions,
  takeNodeWebGPUErrors,
} from './webgpu-node.js';
