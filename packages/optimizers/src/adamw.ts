// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
// Regularization", ICLR 2019, arXiv:1711.05101), with torch.optim.AdamW's exact update order.
import * as tf from '@tensorflow/tfjs-core';
import { type OptimizerOptions, type SlotState, ZooOptimizer } from './optimizer-base.js';

export interface AdamWOptions extends OptimizerOptions {
  /** Default 1e-3. */
  learningRate?: OptimizerOptions['learningRate'];
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8 (PyTorch's, not tfjs's backend epsilon). */
  epsilon?: number;
  /** Decoupled decay λ: w ← w·(1 − lr·λ) before the Adam step (default 1e-2, as PyTorch). */
  weightDecay?: number;
  /** Keep the running maximum of v (AMSGrad, default false). */
  amsgrad?: boolean;
}

/**
 * w ← w·(1 − lr·λ); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
 * w ← w − lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε).
 */
export class AdamW extends ZooOptimizer {
  static get className(): string {
    return 'AdamW';
  }
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  readonly amsgrad: boolean;

  constructor(options: AdamWOptions = {}) {
    super('AdamW', options, 1e-3, options.amsgrad ? ['m', 'v', 'v_max'] : ['m', 'v']);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 1e-2;
    this.amsgrad = options.amsgrad ?? false;
    for (const [name, value] of [
      ['beta1', this.beta1],
      ['beta2', this.beta2],
    ] as const) {
      if (!(value >= 0 && value < 1)) throw new Error(`AdamW: ${name} must be in [0, 1), got ${value}`);
    }
    if (!(this.epsilon >= 0)) throw new Error(`AdamW: epsilon must be non-negative, got ${this.epsilon}`);
    if (!(this.weightDecay >= 0))
      throw new Error(`AdamW: weightDecay must be non-negative, got ${this.weightDecay}`);
  }

  protected updateVariable(
    variable: tf.Variable,
    gradient: tf.Tensor,
    slots: SlotState,
    learningRate: number,
    step: number,
  ): void {
    const m = slots.m!;
    const v = slots.v!;
    const decayed = this.weightDecay !== 0 ? tf.mul(variable, 1 - learningRate * this.weightDecay) : variable;
    m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(gradient, 1 - this.beta1)));
    v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(gradient), 1 - this.beta2)));
    const biasCorrection1 = 1 - this.beta1 ** step;
    const biasCorrection2 = 1 - this.beta2 ** step;
    let second: tf.Tensor = v;
    if (this.amsgrad) {
      slots.v_max!.assign(tf.maximum(slots.v_max!, v));
      second = slots.v_max!;
    }
    const denominator = tf.add(tf.div(tf.sqrt(second), Math.sqrt(biasCorrection2)), this.epsilon);
    variable.assign(tf.sub(decayed, tf.mul(tf.div(m, denominator), learningRate / biasCorrection1)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      beta1: this.beta1,
      beta2: this.beta2,
      epsilon: this.epsilon,
      weightDecay: this.weightDecay,
      amsgrad: this.amsgrad,
    };
  }
}
