// @mlzoo/layers: PyTorch/timm-compatible building blocks on TensorFlow.js.
export {
  Activation,
  type ActivationName,
  activationFunction,
  GEGLU,
  GELU,
  type GeluApproximate,
  GLU,
  type GluGate,
  gelu,
  glu,
  ReGLU,
  ReLU,
  relu,
  SiLU,
  SwiGLU,
  silu,
} from './activations.js';
export {
  MultiHeadAttention,
  type MultiHeadAttentionOptions,
  normalizeScores,
  SCORE_NORMS,
  type ScoreNorm,
  type ScoreNormOptions,
} from './attention.js';
export {
  type AttentionConfig,
  type AttentionForwardOptions,
  type AttentionModule,
  type AttentionType,
  type CreateAttentionOptions,
  createAttention,
  type MultiHeadAttentionConfig,
  type NalaformerAttentionConfig,
  type SoftAttentionConfig,
} from './attention-factory.js';
export { Conv2d, type Conv2dOptions, type ConvImplementation, type Size2d } from './conv.js';
export {
  Dropout,
  type DropoutOptions,
  DropPath,
  type DropPathOptions,
  dropout,
  dropPath,
} from './dropout.js';
export { Embedding, type EmbeddingOptions } from './embedding.js';
export { Identity } from './identity.js';
export { Linear, type LinearOptions } from './linear.js';
export {
  GluMlp,
  type GluMlpOptions,
  Mlp,
  type MlpOptions,
  SwiGluMlp,
  type SwiGluMlpOptions,
} from './mlp.js';
export {
  createMlpClassifier,
  MLP_CLASSIFIER_PRESETS,
  MlpClassifier,
  type MlpClassifierConfig,
  registerLayersModels,
} from './mlp-classifier.js';
export {
  NalaformerAttention,
  type NalaformerAttentionOptions,
  rotaryTables,
} from './nalaformer-attention.js';
export {
  BatchNorm,
  type BatchNormForwardOptions,
  type BatchNormOptions,
  LayerNorm,
  type LayerNormOptions,
  RMSNorm,
  type RMSNormOptions,
} from './normalization.js';
export { PatchEmbed, type PatchEmbedOptions } from './patch-embed.js';
export {
  LearnedPositionEmbedding,
  type LearnedPositionEmbeddingOptions,
  learnedPositionEmbeddingInit,
  type SincosOptions,
  SincosPositionEmbedding,
  type SincosPositionEmbeddingOptions,
  sincos2dPositionEmbedding,
} from './position-embedding.js';
export {
  gaussianKernel,
  newtonInverse,
  resolveTokenGrid,
  SoftAttention,
  SoftAttentionKernel,
  type SoftAttentionOptions,
  type TokenGrid,
  type TokenGridOptions,
} from './soft-attention.js';
