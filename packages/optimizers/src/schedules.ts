// Learning-rate schedules as plain functions of the step, and a wrapper that drives any tf.Optimizer
// with one. Formulas follow PyTorch's torch.optim.lr_scheduler (StepLR, LinearLR, OneCycleLR) and timm's
// CosineLRScheduler (linear warmup, then half-cosine to a floor).

import { isMultiPassOptimizer, type TrainingStepContext } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

/** Learning rate for the update about to run; `step` counts the updates already applied (0, 1, ...). */
export type LearningRateSchedule = (step: number) => number;

function check(where: string, name: string, value: number, integer = false): void {
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value)))
    throw new Error(`${where}: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
}

export interface CosineScheduleOptions {
  /** Peak learning rate, reached at the end of the warmup. */
  learningRate: number;
  /** Updates in the whole run: the cosine reaches `minLearningRate` there and stays. */
  totalSteps: number;
  /** Linear warmup length (default 0). */
  warmupSteps?: number;
  /** Warmup starts here (default 0). */
  warmupStartLearningRate?: number;
  /** Floor of the cosine (default 0). */
  minLearningRate?: number;
}

/** Linear warmup from `warmupStartLearningRate` to `learningRate`, then half a cosine down to `minLearningRate`. */
export function cosineWithWarmup(options: CosineScheduleOptions): LearningRateSchedule {
  const { learningRate, totalSteps } = options;
  const warmupSteps = options.warmupSteps ?? 0;
  const warmupStart = options.warmupStartLearningRate ?? 0;
  const floor = options.minLearningRate ?? 0;
  check('cosineWithWarmup', 'learningRate', learningRate);
  check('cosineWithWarmup', 'totalSteps', totalSteps, true);
  if (!Number.isInteger(warmupSteps) || warmupSteps < 0 || warmupSteps > totalSteps)
    throw new Error(
      `cosineWithWarmup: warmupSteps must be an integer in [0, totalSteps], got ${warmupSteps}`,
    );
  return (step) => {
    if (step < warmupSteps) return warmupStart + ((learningRate - warmupStart) * step) / warmupSteps;
    const span = totalSteps - warmupSteps;
    const progress = span === 0 ? 1 : Math.min(1, (step - warmupSteps) / span);
    return floor + 0.5 * (learningRate - floor) * (1 + Math.cos(Math.PI * progress));
  };
}

export interface StepScheduleOptions {
  learningRate: number;
  /** Multiply by `gamma` every `stepSize` updates. */
  stepSize: number;
  /** Default 0.1. */
  gamma?: number;
}

/** PyTorch StepLR: learningRate · gamma^floor(step / stepSize). */
export function stepDecay(options: StepScheduleOptions): LearningRateSchedule {
  const gamma = options.gamma ?? 0.1;
  check('stepDecay', 'learningRate', options.learningRate);
  check('stepDecay', 'stepSize', options.stepSize, true);
  return (step) => options.learningRate * gamma ** Math.floor(step / options.stepSize);
}

export interface LinearScheduleOptions {
  learningRate: number;
  /** Factor at step 0 (default 1/3, as PyTorch LinearLR). */
  startFactor?: number;
  /** Factor from `totalSteps` on (default 1). */
  endFactor?: number;
  totalSteps: number;
}

/** PyTorch LinearLR: the factor moves linearly from `startFactor` to `endFactor` over `totalSteps`. */
export function linearSchedule(options: LinearScheduleOptions): LearningRateSchedule {
  const start = options.startFactor ?? 1 / 3;
  const end = options.endFactor ?? 1;
  check('linearSchedule', 'learningRate', options.learningRate);
  check('linearSchedule', 'totalSteps', options.totalSteps, true);
  return (step) =>
    options.learningRate *
    (start + ((end - start) * Math.min(step, options.totalSteps)) / options.totalSteps);
}

export interface OneCycleScheduleOptions {
  maxLearningRate: number;
  totalSteps: number;
  /** Fraction of the steps spent rising (default 0.3). */
  pctStart?: number;
  /** Initial rate = max / divFactor (default 25). */
  divFactor?: number;
  /** Final rate = initial / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: 'cos' | 'linear';
}

/** PyTorch OneCycleLR (two phases, `three_phase=False`). */
export function oneCycle(options: OneCycleScheduleOptions): LearningRateSchedule {
  const { maxLearningRate, totalSteps } = options;
  check('oneCycle', 'maxLearningRate', maxLearningRate);
  check('oneCycle', 'totalSteps', totalSteps, true);
  const pctStart = options.pctStart ?? 0.3;
  if (!(pctStart > 0 && pctStart < 1))
    throw new Error(`oneCycle: pctStart must be in (0, 1), got ${pctStart}`);
  const initial = maxLearningRate / (options.divFactor ?? 25);
  const final = initial / (options.finalDivFactor ?? 1e4);
  const anneal =
    (options.annealStrategy ?? 'cos') === 'cos'
      ? (start: number, end: number, pct: number) => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1)
      : (start: number, end: number, pct: number) => (end - start) * pct + start;
  const phases = [
    { endStep: pctStart * totalSteps - 1, start: initial, end: maxLearningRate },
    { endStep: totalSteps - 1, start: maxLearningRate, end: final },
  ];
  return (step) => {
    let startStep = 0;
    for (const [index, phase] of phases.entries()) {
      if (step <= phase.endStep || index === phases.length - 1) {
        return anneal(phase.start, phase.end, (step - startStep) / (phase.endStep - startStep));
      }
      startStep = phase.endStep;
    }
    return final;
  };
}

/** Sets the learning rate of a tfjs optimizer (built-in or from this package) for the next update. */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  const target = optimizer as tf.Optimizer & {
    setLearningRate?: (value: number) => void;
    learningRate?: unknown;
  };
  const wrapper = optimizer as tf.Optimizer & { base?: unknown };
  if (typeof target.setLearningRate === 'function') target.setLearningRate(learningRate);
  else if ('learningRate' in target) target.learningRate = learningRate;
  // a wrapper that steps with another optimizer (SAM): the rate is its base optimizer's
  else if (wrapper.base instanceof tf.Optimizer) setLearningRate(wrapper.base, learningRate);
  else throw new Error(`setLearningRate: ${optimizer.getClassName()} has no learning rate to set`);
}

/**
 * Wraps any tf.Optimizer so each `applyGradients` first sets the learning rate from `schedule`
 * (evaluated at the number of updates already applied). Works with core's `fit` and with `minimize`.
 */
export class ScheduledOptimizer extends tf.Optimizer {
  static get className(): string {
    return 'ScheduledOptimizer';
  }
  /**
   * Present when the wrapped optimizer evaluates the loss several times per step (SAM, LBFGS): core's
   * `fit` then drives the step through it, with the scheduled rate set first.
   */
  readonly trainingStep?: (context: TrainingStepContext) => tf.Scalar;

  constructor(
    readonly optimizer: tf.Optimizer,
    readonly schedule: LearningRateSchedule,
  ) {
    super();
    if (isMultiPassOptimizer(optimizer)) {
      this.trainingStep = (context) => {
        setLearningRate(this.optimizer, this.schedule(this.iterations));
        const loss = optimizer.trainingStep(context);
        this.incrementIterations();
        return loss;
      };
    }
  }

  /** Multi-pass optimizers minimise with their own `minimize` (SAM evaluates `f` twice). */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    if (!isMultiPassOptimizer(this.optimizer)) return super.minimize(f, returnCost, varList);
    setLearningRate(this.optimizer, this.schedule(this.iterations));
    const cost = this.optimizer.minimize(f, returnCost, varList);
    this.incrementIterations();
    return cost;
  }

  /** The rate the next update will use. */
  get currentLearningRate(): number {
    return this.schedule(this.iterations);
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    setLearningRate(this.optimizer, this.schedule(this.iterations));
    this.optimizer.applyGradients(variableGradients);
    this.incrementIterations();
  }

  override dispose(): void {
    this.optimizer.dispose();
    super.dispose();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return [await this.saveIterations(), ...(await this.optimizer.getWeights())];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    await this.optimizer.setWeights(await this.extractIterations(weightValues));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { optimizer: this.optimizer.getClassName() };
  }
}

/** `new ScheduledOptimizer(optimizer, schedule)`. */
export function scheduled(optimizer: tf.Optimizer, schedule: LearningRateSchedule): ScheduledOptimizer {
  return new ScheduledOptimizer(optimizer, schedule);
}
