// Lion (Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023, arXiv:2302.06675),
// following timm's timm/optim/lion.py.
import * as tf from '@tensorflow/tfjs-core';
import { type OptimizerOptions, type SlotState, ZooOptimizer } from './optimizer-base.js';

export interface LionOptions extends OptimizerOptions {
  /** Default 1e-4 (use 3-10x smaller than AdamW's). */
  learningRate?: OptimizerOptions['learningRate'];
  /** Interpolation for the update direction (default 0.9). */
  beta1?: number;
  /** Momentum decay (default 0.99). */
  beta2?: number;
  /** Decoupled decay (default 0). */
  weightDecay?: number;
}

/** w ← w·(1 − lr·λ); w ← w − lr·sign(β1·m + (1−β1)·g); m ← β2·m + (1−β2)·g. */
export class Lion extends ZooOptimizer {
  static get className(): string {
    return 'Lion';
  }
  readonly beta1: number;
  readonly beta2: number;
  readonly weightDecay: number;

  constructor(options: LionOptions = {}) {
    super('Lion', options, 1e-4, ['exp_avg']);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.99;
    this.weightDecay = options.weightDecay ?? 0;
    for (const [name, value] of [
      ['beta1', this.beta1],
      ['beta2', this.beta2],
    ] as const) {
      if (!(value >= 0 && value < 1)) throw new Error(`Lion: ${name} must be in [0, 1), got ${value}`);
    }
  }

  protected updateVariable(
    variable: tf.Variable,
    gradient: tf.Tensor,
    slots: SlotState,
    learningRate: number,
  ): void {
    const m = slots.exp_avg!;
    const decayed = this.weightDecay !== 0 ? tf.mul(variable, 1 - learningRate * this.weightDecay) : variable;
    const update = tf.sign(tf.add(tf.mul(m, this.beta1), tf.mul(gradient, 1 - this.beta1)));
    variable.assign(tf.sub(decayed, tf.mul(update, learningRate)));
    m.assign(tf.add(tf.mul(m, this.beta2), tf.mul(gradient, 1 - this.beta2)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { beta1: this.beta1, beta2: this.beta2, weightDecay: this.weightDecay };
  }
}
