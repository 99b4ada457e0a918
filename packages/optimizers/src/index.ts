// @mlzoo/optimizers: the package's public API (named exports only; nothing registers on import).
export { AdamW, type AdamWOptions } from './adamw.js';
export { WeightEma, type WeightEmaOptions } from './ema.js';
export {
  addGradientNoise,
  clipByGlobalNorm,
  type GradientNoiseOptions,
  globalNorm,
  perpendicularGradient,
} from './gradient-transforms.js';
export { Lamb, type LambOptions } from './lamb.js';
export { LBFGS, type LBFGSOptions } from './lbfgs.js';
export { Lion, type LionOptions } from './lion.js';
export { LotteryTicket, type LotteryTicketOptions } from './lottery.js';
export { type NamedTensor, type OptimizerOptions, type SlotState, ZooOptimizer } from './optimizer-base.js';
export { SAM, type SAMOptions } from './sam.js';
export {
  type CosineScheduleOptions,
  cosineWithWarmup,
  type LearningRateSchedule,
  type LinearScheduleOptions,
  linearSchedule,
  type OneCycleScheduleOptions,
  oneCycle,
  ScheduledOptimizer,
  type StepScheduleOptions,
  scheduled,
  setLearningRate,
  stepDecay,
} from './schedules.js';
export { SGD, type SGDOptions } from './sgd.js';
export {
  evaluateLoss,
  type HessianEigenvalueOptions,
  type HessianEigenvalueResult,
  type HessianVectorOptions,
  hessianTopEigenvalue,
  hessianVectorProduct,
  lossChunks,
  type SharpnessLoss,
  type WeightedLoss,
} from './sharpness.js';
export { logStablemax, stablemax, stablemaxCrossEntropy, stablemaxTransform } from './stablemax.js';
