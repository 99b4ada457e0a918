// SGD with momentum, dampening, Nesterov momentum and (coupled) weight decay, with torch.optim.SGD's
// exact semantics (Sutskever et al., "On the importance of initialization and momentum in deep
// learning", ICML 2013, for the Nesterov form).
import * as tf from '@tensorflow/tfjs-core';
import { type OptimizerOptions, type SlotState, ZooOptimizer } from './optimizer-base.js';

export interface SGDOptions extends OptimizerOptions {
  /** Default 1e-2. */
  learningRate?: OptimizerOptions['learningRate'];
  /** Default 0 (plain SGD). */
  momentum?: number;
  /** Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0, as PyTorch). Default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient: g ← g + λ·w (default 0). */
  weightDecay?: number;
}

/**
 * g ← g + λw; b ← μ·b + (1−τ)·g (b = g at the first step); g ← g + μ·b (Nesterov) or b; w ← w − lr·g.
 */
export class SGD extends ZooOptimizer {
  static get className(): string {
    return 'SGD';
  }
  readonly momentum: number;
  readonly dampening: number;
  readonly nesterov: boolean;
  readonly weightDecay: number;

  constructor(options: SGDOptions = {}) {
    const momentum = options.momentum ?? 0;
    super('SGD', options, 1e-2, momentum !== 0 ? ['momentum_buffer'] : []);
    this.momentum = momentum;
    this.dampening = options.dampening ?? 0;
    this.nesterov = options.nesterov ?? false;
    this.weightDecay = options.weightDecay ?? 0;
    if (!(this.momentum >= 0)) throw new Error(`SGD: momentum must be non-negative, got ${this.momentum}`);
    if (!(this.weightDecay >= 0))
      throw new Error(`SGD: weightDecay must be non-negative, got ${this.weightDecay}`);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0))
      throw new Error('SGD: Nesterov momentum requires momentum > 0 and dampening 0');
  }

  protected updateVariable(
    variable: tf.Variable,
    gradient: tf.Tensor,
    slots: SlotState,
    learningRate: number,
    step: number,
  ): void {
    let direction = this.weightDecay !== 0 ? tf.add(gradient, tf.mul(variable, this.weightDecay)) : gradient;
    if (this.momentum !== 0) {
      const buffer = slots.momentum_buffer!;
      buffer.assign(
        step === 1 ? direction : tf.add(tf.mul(buffer, this.momentum), tf.mul(direction, 1 - this.dampening)),
      );
      direction = this.nesterov ? tf.add(direction, tf.mul(buffer, this.momentum)) : buffer;
    }
    variable.assign(tf.sub(variable, tf.mul(direction, learningRate)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      momentum: this.momentum,
      dampening: this.dampening,
      nesterov: this.nesterov,
      weightDecay: this.weightDecay,
    };
  }
}
