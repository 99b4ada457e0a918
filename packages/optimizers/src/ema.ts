// Exponential moving average of a model's weights (Polyak averaging), as timm's ModelEmaV2/V3:
// ema ← d·ema + (1 − d)·w after each optimizer step, evaluated instead of (or beside) the raw weights.
import type { Module } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export interface WeightEmaOptions {
  /** Decay d (default 0.9998, timm's). */
  decay?: number;
  /**
   * Warm the decay up as min(d, (1 + t) / (10 + t)) with t the update count (TensorFlow's
   * ExponentialMovingAverage with num_updates), so early averages are not dominated by the start
   * (default false).
   */
  warmup?: boolean;
  /** Average the float buffers too (BatchNorm statistics; default true, as timm's ModelEmaV2). */
  includeBuffers?: boolean;
}

/**
 * Shadow copies of a module's parameters (and float buffers) by state-dict name.
 *
 * @example
 * ```ts
 * const ema = new WeightEma(model, { decay: 0.999 });
 * // after every optimizer step:
 * ema.update();
 * // evaluate with the averaged weights, then put the trained ones back:
 * ema.swap(); evaluate(model); ema.swap();
 * ```
 */
export class WeightEma {
  readonly decay: number;
  readonly warmup: boolean;
  /** Updates applied so far. */
  updates = 0;
  private readonly shadow = new Map<string, tf.Variable>();
  private readonly averaged = new Map<string, tf.Variable>();

  constructor(
    readonly module: Module,
    options: WeightEmaOptions = {},
  ) {
    this.decay = options.decay ?? 0.9998;
    this.warmup = options.warmup ?? false;
    if (!(this.decay >= 0 && this.decay <= 1))
      throw new Error(`WeightEma: decay must be in [0, 1], got ${this.decay}`);
    const sources = new Map(module.namedParameters());
    if (options.includeBuffers ?? true) {
      for (const [name, buffer] of module.namedBuffers())
        if (buffer.dtype === 'float32') sources.set(name, buffer);
    }
    for (const [name, variable] of sources) {
      this.averaged.set(name, variable);
      this.shadow.set(
        name,
        tf.tidy(() => tf.clone(variable).variable(false)),
      );
    }
  }

  /** The decay the next update uses. */
  get currentDecay(): number {
    return this.warmup ? Math.min(this.decay, (1 + this.updates) / (10 + this.updates)) : this.decay;
  }

  /** ema ← d·ema + (1 − d)·w for every averaged tensor. */
  update(): void {
    const decay = this.currentDecay;
    tf.tidy(() => {
      for (const [name, variable] of this.averaged) {
        const shadow = this.shadow.get(name)!;
        shadow.assign(tf.add(tf.mul(shadow, decay), tf.mul(variable, 1 - decay)));
      }
    });
    this.updates++;
  }

  /** The averaged weights by state-dict name (new tensors, in the module's own layouts). */
  averages(): Record<string, tf.Tensor> {
    const result: Record<string, tf.Tensor> = {};
    for (const [name, shadow] of this.shadow) result[name] = tf.clone(shadow);
    return result;
  }

  /** Writes the averages into the module (the raw weights are lost; see `swap`). */
  copyTo(module: Module = this.module): void {
    const targets = new Map([...module.namedParameters(), ...module.namedBuffers()]);
    for (const [name, shadow] of this.shadow) {
      const target = targets.get(name);
      if (!target) throw new Error(`WeightEma.copyTo: ${module.location} has no tensor '${name}'`);
      target.assign(shadow);
    }
  }

  /** Exchanges the module's weights and the averages; calling it twice restores both. */
  swap(): void {
    tf.tidy(() => {
      for (const [name, variable] of this.averaged) {
        const shadow = this.shadow.get(name)!;
        const current = tf.clone(variable);
        variable.assign(shadow);
        shadow.assign(current);
      }
    });
  }

  dispose(): void {
    tf.dispose([...this.shadow.values()]);
    this.shadow.clear();
  }
}
