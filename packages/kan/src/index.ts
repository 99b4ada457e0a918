// @mlzoo/kan: the package's public API (named exports only; nothing registers on import).
export {
  BASIS_NAMES,
  type BasisName,
  type BasisSpec,
  basisValues,
  chebyshevBasis,
  fourierBasis,
  jacobiBasis,
  numBasisFunctions,
  rbfBasis,
} from './bases.js';
export {
  CONVKAN_PRESETS,
  ConvKANClassifier,
  type ConvKANClassifierConfig,
  createConvKANClassifier,
  KANConv2d,
  type KANConv2dOptions,
  Passthrough,
  registerConvKanModels,
  unfoldPatches,
} from './convkan.js';
export {
  type Attribution,
  BufferList,
  createKANClassifier,
  disposeTrace,
  KAN,
  KAN_PRESETS,
  KANClassifier,
  type KANClassifierConfig,
  type KANConfig,
  type KANLayerConfig,
  type KANTrace,
  kanParameterCount,
  type RegularizationOptions,
  registerKanModels,
  SymbolicKANLayer,
  unbiasedStd,
} from './kan.js';
export {
  type BaseActivationName,
  type EdgeActivations,
  KANLinear,
  type KANLinearOptions,
  kanLinearProblems,
} from './kan-linear.js';
export { type PlotOptions, plotActivations } from './plot.js';
export { SKAN, type SKANConfig, SKANLinear, type SKANLinearOptions, type SKANPhase } from './skan.js';
export {
  adaptiveGridRow,
  bsplineBasis,
  bsplineBasisRow,
  extendGrid,
  fitSplineCoefficients,
  numKnots,
  uniformGrid,
} from './spline.js';
export {
  type FitParamsOptions,
  fitSymbolicParams,
  SYMBOLIC_LIBRARY,
  type SymbolicFit,
  type SymbolicFunction,
  suggestSymbolic,
} from './symbolic.js';
export {
  createDataset,
  disposeDataset,
  type FitKANOptions,
  type FitKANResult,
  fitKAN,
  type KANDataset,
} from './train.js';
