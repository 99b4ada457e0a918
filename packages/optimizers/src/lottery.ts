// Lottery-ticket iterative magnitude pruning (Frankle & Carbin, "The Lottery Ticket Hypothesis: Finding
// Sparse, Trainable Neural Networks", ICLR 2019, arXiv:1803.03635) with rewinding to early weights
// (Frankle, Dziugaite, Roy, Carbin, "Linear Mode Connectivity and the Lottery Ticket Hypothesis",
// ICML 2020, arXiv:1912.05611). Works on any core `Module` through its parameter names.
import type { Module } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export interface LotteryTicketOptions {
  /** Fraction of the still-unpruned weights removed per round (default 0.2, the paper's fully connected rate). */
  pruneRate?: number;
  /** Rank the magnitudes per tensor ('layer', the paper's default) or across all pruned tensors ('global'). */
  scope?: 'layer' | 'global';
  /** Which parameters are pruned (default: rank ≥ 2, i.e. weights, not biases or norm scales). */
  include?: (name: string, variable: tf.Variable) => boolean;
}

/**
 * Masks, pruning rounds and rewinding for one module. The weights at construction are θ0; call
 * `recordRewindPoint()` at an early step k to rewind to θk instead (late resetting).
 *
 * @example
 * ```ts
 * const ticket = new LotteryTicket(model, { pruneRate: 0.2 });
 * for (let round = 0; round < 5; round++) {
 *   await train(model, { afterStep: () => ticket.applyMasks() });  // pruned weights stay zero
 *   ticket.pruneRound();   // drop 20% of the surviving weights by magnitude
 *   ticket.rewind();       // survivors back to θ0 (or θk)
 * }
 * ```
 */
export class LotteryTicket {
  readonly pruneRate: number;
  readonly scope: 'layer' | 'global';
  /** Pruning rounds done. */
  rounds = 0;
  private readonly variables = new Map<string, tf.Variable>();
  private readonly masks = new Map<string, tf.Tensor>();
  private snapshot = new Map<string, tf.Tensor>();

  constructor(
    readonly module: Module,
    options: LotteryTicketOptions = {},
  ) {
    this.pruneRate = options.pruneRate ?? 0.2;
    this.scope = options.scope ?? 'layer';
    if (!(this.pruneRate > 0 && this.pruneRate < 1))
      throw new Error(`LotteryTicket: pruneRate must be in (0, 1), got ${this.pruneRate}`);
    if (this.scope !== 'layer' && this.scope !== 'global')
      throw new Error(`LotteryTicket: scope must be 'layer' or 'global', got '${String(this.scope)}'`);
    const include = options.include ?? ((_name: string, variable: tf.Variable) => variable.rank >= 2);
    for (const [name, variable] of module.namedParameters()) {
      if (!include(name, variable)) continue;
      this.variables.set(name, variable);
      this.masks.set(name, tf.onesLike(variable));
    }
    if (this.variables.size === 0)
      throw new Error(`LotteryTicket: ${module.location} has no parameters to prune`);
    this.recordRewindPoint();
  }

  /** Names of the pruned tensors. */
  get names(): string[] {
    return [...this.variables.keys()];
  }

  /** The current weights become the rewind target (θk); the constructor records θ0. */
  recordRewindPoint(): void {
    tf.dispose([...this.snapshot.values()]);
    this.snapshot = new Map([...this.variables].map(([name, variable]) => [name, tf.clone(variable)]));
  }

  /** The 0/1 mask of a pruned tensor (owned by the ticket). */
  mask(name: string): tf.Tensor {
    const mask = this.masks.get(name);
    if (!mask) throw new Error(`LotteryTicket: '${name}' is not pruned (pruned: ${this.names.join(', ')})`);
    return mask;
  }

  /** Masks of every pruned tensor by parameter name (owned by the ticket). */
  allMasks(): Record<string, tf.Tensor> {
    return Object.fromEntries(this.masks);
  }

  /** Removes `pruneRate` of the surviving weights with the smallest |w|; returns the new sparsity. */
  pruneRound(): number {
    const magnitudes = new Map<string, Float32Array>();
    const masks = new Map<string, Float32Array>();
    for (const [name, variable] of this.variables) {
      magnitudes.set(name, (variable.dataSync() as Float32Array).map(Math.abs));
      masks.set(name, Float32Array.from(this.masks.get(name)!.dataSync()));
    }
    const prune = (entries: { name: string; index: number; magnitude: number }[]) => {
      entries.sort((a, b) => a.magnitude - b.magnitude);
      const count = Math.round(this.pruneRate * entries.length);
      for (let k = 0; k < count; k++) masks.get(entries[k]!.name)![entries[k]!.index] = 0;
    };
    const survivors = (name: string) => {
      const mask = masks.get(name)!;
      const magnitude = magnitudes.get(name)!;
      const entries: { name: string; index: number; magnitude: number }[] = [];
      for (let index = 0; index < mask.length; index++)
        if (mask[index] !== 0) entries.push({ name, index, magnitude: magnitude[index]! });
      return entries;
    };
    if (this.scope === 'layer') for (const name of this.variables.keys()) prune(survivors(name));
    else prune([...this.variables.keys()].flatMap(survivors));
    for (const [name, variable] of this.variables) {
      this.masks.get(name)!.dispose();
      this.masks.set(name, tf.tensor(masks.get(name)!, variable.shape, 'float32'));
    }
    this.rounds++;
    this.applyMasks();
    return this.sparsity();
  }

  /** Survivors back to the rewind point (θ0 or θk); pruned weights to zero. */
  rewind(): void {
    tf.tidy(() => {
      for (const [name, variable] of this.variables) {
        variable.assign(tf.mul(this.snapshot.get(name)!, this.masks.get(name)!));
      }
    });
  }

  /** w ← w ⊙ mask: call after every optimizer step so pruned weights stay zero. */
  applyMasks(): void {
    tf.tidy(() => {
      for (const [name, variable] of this.variables) variable.assign(tf.mul(variable, this.masks.get(name)!));
    });
  }

  /**
   * Zeroes the gradients of pruned weights (gradients by parameter name, as core `fit`'s
   * `transformGradients` hook passes them): optimizer moments then never see pruned entries.
   */
  maskGradients(gradients: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
    const result: Record<string, tf.Tensor> = {};
    for (const [name, gradient] of Object.entries(gradients)) {
      const mask = this.masks.get(name);
      result[name] = mask ? tf.mul(gradient, mask) : gradient;
    }
    return result;
  }

  /** Fraction of the prunable weights that are pruned. */
  sparsity(): number {
    let total = 0;
    let kept = 0;
    for (const mask of this.masks.values()) {
      total += mask.size;
      for (const value of mask.dataSync()) kept += value;
    }
    return 1 - kept / total;
  }

  dispose(): void {
    tf.dispose([...this.masks.values(), ...this.snapshot.values()]);
    this.masks.clear();
    this.snapshot.clear();
  }
}
