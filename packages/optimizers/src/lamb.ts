// LAMB (You et al., "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes",
// ICLR 2020, arXiv:1904.00962), the NVLAMB variant as in timm's timm/optim/lamb.py (single-tensor path).
import * as tf from '@tensorflow/tfjs-core';
import { globalNorm } from './gradient-transforms.js';
import { type OptimizerOptions, type SlotState, ZooOptimizer } from './optimizer-base.js';

export interface LambOptions extends OptimizerOptions {
  /** Default 1e-3. */
  learningRate?: OptimizerOptions['learningRate'];
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-6. */
  epsilon?: number;
  /** Default 0.01: added to the Adam direction (or decoupled, see `decoupledDecay`). */
  weightDecay?: number;
  /** Divide the gradients by max(1, globalNorm / maxGradNorm) (default 1; null turns it off). */
  maxGradNorm?: number | null;
  /** Clamp the trust ratio to at most 1 (LAMBC, default false). */
  trustClip?: boolean;
  /** Apply the trust ratio also where weightDecay is 0 (default false). */
  alwaysAdapt?: boolean;
  /** w ← w·(1 − lr·λ) instead of adding λw to the update (default false). */
  decoupledDecay?: boolean;
  /** Bias-correct the moments (default true). */
  biasCorrection?: boolean;
}

/**
 * m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; u = m̂/(√v̂ + ε) + λw;
 * r = ‖w‖/‖u‖ (1 when either is 0); w ← w − lr·r·u.
 */
export class Lamb extends ZooOptimizer {
  static get className(): string {
    return 'Lamb';
  }
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number | null;
  readonly trustClip: boolean;
  readonly alwaysAdapt: boolean;
  readonly decoupledDecay: boolean;
  readonly biasCorrection: boolean;

  constructor(options: LambOptions = {}) {
    super('Lamb', options, 1e-3, ['exp_avg', 'exp_avg_sq']);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-6;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.maxGradNorm = options.maxGradNorm === undefined ? 1 : options.maxGradNorm;
    this.trustClip = options.trustClip ?? false;
    this.alwaysAdapt = options.alwaysAdapt ?? false;
    this.decoupledDecay = options.decoupledDecay ?? false;
    this.biasCorrection = options.biasCorrection ?? true;
    for (const [name, value] of [
      ['beta1', this.beta1],
      ['beta2', this.beta2],
    ] as const) {
      if (!(value >= 0 && value < 1)) throw new Error(`Lamb: ${name} must be in [0, 1), got ${value}`);
    }
    if (this.maxGradNorm !== null && !(this.maxGradNorm > 0))
      throw new Error(`Lamb: maxGradNorm must be positive or null, got ${this.maxGradNorm}`);
  }

  protected override prepare(gradients: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
    if (this.maxGradNorm === null || gradients.size === 0) return gradients;
    const divisor = tf.maximum(tf.div(globalNorm([...gradients.values()]), this.maxGradNorm), 1);
    return new Map([...gradients].map(([name, gradient]) => [name, tf.div(gradient, divisor)]));
  }

  protected updateVariable(
    variable: tf.Variable,
    gradient: tf.Tensor,
    slots: SlotState,
    learningRate: number,
    step: number,
  ): void {
    const m = slots.exp_avg!;
    const v = slots.exp_avg_sq!;
    m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(gradient, 1 - this.beta1)));
    v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(gradient), 1 - this.beta2)));
    const biasCorrection1 = this.biasCorrection ? 1 - this.beta1 ** step : 1;
    const biasCorrection2 = this.biasCorrection ? 1 - this.beta2 ** step : 1;
    const denominator = tf.add(tf.div(tf.sqrt(v), Math.sqrt(biasCorrection2)), this.epsilon);
    let update = tf.div(tf.div(m, biasCorrection1), denominator);
    let weight: tf.Tensor = variable;
    if (this.weightDecay !== 0) {
      if (this.decoupledDecay) weight = tf.mul(variable, 1 - learningRate * this.weightDecay);
      else update = tf.add(update, tf.mul(variable, this.weightDecay));
    }
    if (this.weightDecay !== 0 || this.alwaysAdapt) {
      const weightNorm = tf.norm(weight);
      const updateNorm = tf.norm(update);
      let ratio = tf.where(
        tf.greater(weightNorm, 0),
        tf.where(tf.greater(updateNorm, 0), tf.div(weightNorm, updateNorm), tf.onesLike(weightNorm)),
        tf.onesLike(weightNorm),
      );
      if (this.trustClip) ratio = tf.minimum(ratio, 1);
      update = tf.mul(update, ratio);
    }
    variable.assign(tf.sub(weight, tf.mul(update, learningRate)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
      maxGradNorm: this.maxGradNorm,
      trustClip: this.trustClip,
      alwaysAdapt: this.alwaysAdapt,
      decoupledDecay: this.decoupledDecay,
      biasCorrection: this.biasCorrection,
    };
  }
}
