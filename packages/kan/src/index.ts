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
