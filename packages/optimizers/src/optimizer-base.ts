// The base of every first-order optimizer in this package: a tf.Optimizer whose state lives in
// per-variable slots named '<variable>/<slot>', with the package's shared options (learning-rate
// schedule, global-norm clipping, ⊥Grad, gradient noise) applied in one place.
import * as tf from '@tensorflow/tfjs-core';
import {
  addGradientNoise,
  type GradientNoiseOptions,
  globalNorm,
  perpendicularGradient,
} from './gradient-transforms.js';
import type { LearningRateSchedule } from './schedules.js';

export type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

export interface OptimizerOptions {
  /** A number or a schedule of the step (see `cosineWithWarmup`, `oneCycle`, ...). */
  learningRate?: number | LearningRateSchedule;
  /** Clip the gradients to this global L2 norm before anything else (PyTorch's clip_grad_norm_). */
  clipGradNorm?: number;
  /** Replace each gradient by its part perpendicular to the weights, rescaled to its norm (⊥Grad). */
  perpendicularGradient?: boolean;
  /** Add annealed Gaussian noise N(0, η/(1+t)^γ) to the gradients (after clipping and ⊥Grad). */
  gradientNoise?: GradientNoiseOptions | boolean;
}

/** A variable's optimizer state: slot name to variable. */
export type SlotState = Record<string, tf.Variable>;

export abstract class ZooOptimizer extends tf.Optimizer {
  protected schedule: LearningRateSchedule;
  readonly clipGradNorm: number | undefined;
  readonly perpendicular: boolean;
  readonly gradientNoise: GradientNoiseOptions | undefined;
  /** Variable name -> its slots, in the order variables were first seen (the getWeights order). */
  protected readonly slots = new Map<string, SlotState>();
  /** State from setWeights for variables not seen yet, in saved order. */
  private readonly restored = new Map<string, SlotState>();

  constructor(
    protected readonly where: string,
    options: OptimizerOptions,
    defaultLearningRate: number,
    private readonly slotNames: readonly string[],
  ) {
    super();
    const learningRate = options.learningRate ?? defaultLearningRate;
    if (typeof learningRate === 'number') {
      if (!(learningRate >= 0) || !Number.isFinite(learningRate))
        throw new Error(`${where}: learningRate must be a non-negative number, got ${learningRate}`);
      this.schedule = () => learningRate;
    } else if (typeof learningRate === 'function') {
      this.schedule = learningRate;
    } else {
      throw new Error(`${where}: learningRate must be a number or a schedule function`);
    }
    if (options.clipGradNorm != null && !(options.clipGradNorm > 0))
      throw new Error(`${where}: clipGradNorm must be positive, got ${options.clipGradNorm}`);
    this.clipGradNorm = options.clipGradNorm;
    this.perpendicular = options.perpendicularGradient ?? false;
    this.gradientNoise =
      options.gradientNoise === true ? {} : options.gradientNoise ? { ...options.gradientNoise } : undefined;
  }

  /** The learning rate the next update uses. */
  get learningRate(): number {
    return this.schedule(this.iterations);
  }

  /** Replaces the learning rate (a number or a schedule) from the next update on. */
  setLearningRate(learningRate: number | LearningRateSchedule): void {
    this.schedule = typeof learningRate === 'number' ? () => learningRate : learningRate;
  }

  /** Called once per update with every gradient (after the shared transforms): e.g. LAMB's clipping. */
  protected prepare(gradients: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
    return gradients;
  }

  /** One variable's update, inside a tidy. `step` is 1-based (PyTorch's `state['step']`). */
  protected abstract updateVariable(
    variable: tf.Variable,
    gradient: tf.Tensor,
    slots: SlotState,
    learningRate: number,
    step: number,
  ): void;

  private slotsFor(name: string, variable: tf.Variable): SlotState {
    let state = this.slots.get(name);
    if (state) return state;
    // restored by setWeights: by name, else by position (variables get other names in a new process)
    const restoredName = this.restored.has(name) ? name : this.restored.keys().next().value;
    if (restoredName != null) {
      state = this.restored.get(restoredName)!;
      this.restored.delete(restoredName);
      for (const [slot, value] of Object.entries(state)) {
        if (!tf.util.arraysEqual(value.shape, variable.shape)) {
          throw new Error(
            `${this.where}: restored state '${restoredName}/${slot}' has shape [${value.shape}] but variable '${name}' has [${variable.shape}]`,
          );
        }
      }
    } else {
      state = {};
      for (const slot of this.slotNames) state[slot] = tf.tidy(() => tf.zerosLike(variable).variable(false));
    }
    this.slots.set(name, state);
    return state;
  }

  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, tf.Tensor][] = (
      Array.isArray(variableGradients)
        ? variableGradients.map((entry): [string, tf.Tensor] => [entry.name, entry.tensor])
        : Object.entries(variableGradients)
    ).filter(([, gradient]) => gradient != null);
    const step = this.iterations;
    const learningRate = this.schedule(step);
    tf.tidy(() => {
      let gradients = new Map(entries);
      const variables = new Map<string, tf.Variable>();
      for (const name of gradients.keys()) {
        const variable = tf.engine().registeredVariables[name];
        if (!variable) throw new Error(`${this.where}: no variable named '${name}' (disposed?)`);
        variables.set(name, variable);
      }
      if (this.clipGradNorm != null) {
        const scale = tf.minimum(
          1,
          tf.div(this.clipGradNorm, tf.add(globalNorm([...gradients.values()]), 1e-6)),
        );
        gradients = new Map([...gradients].map(([name, gradient]) => [name, tf.mul(gradient, scale)]));
      }
      if (this.perpendicular) {
        gradients = new Map(
          [...gradients].map(([name, gradient]) => [
            name,
            perpendicularGradient(variables.get(name)!, gradient),
          ]),
        );
      }
      if (this.gradientNoise) {
        const noise = this.gradientNoise;
        gradients = new Map(
          [...gradients].map(([name, gradient], index) => [
            name,
            addGradientNoise(gradient, step, noise, index),
          ]),
        );
      }
      gradients = this.prepare(gradients);
      for (const [name, gradient] of gradients) {
        const variable = variables.get(name)!;
        this.updateVariable(variable, gradient, this.slotsFor(name, variable), learningRate, step + 1);
      }
    });
    this.incrementIterations();
  }

  override dispose(): void {
    for (const state of [...this.slots.values(), ...this.restored.values()]) tf.dispose(Object.values(state));
    this.slots.clear();
    this.restored.clear();
    super.dispose();
  }

  /** 'iter' (a new tensor, as tfjs) then every slot as '<variable>/<slot>' (the optimizer's own variables). */
  override async getWeights(): Promise<NamedTensor[]> {
    const weights: NamedTensor[] = [await this.saveIterations()];
    for (const [name, state] of this.slots) {
      for (const slot of this.slotNames) weights.push({ name: `${name}/${slot}`, tensor: state[slot]! });
    }
    return weights;
  }

  /**
   * Restores from `getWeights`' list (copies the values; the caller keeps its tensors). State for a
   * variable this optimizer has not updated yet binds on its first update: by variable name, otherwise
   * by position in the saved order (as tfjs's own optimizers restore), with a shape check.
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    for (const state of this.restored.values()) tf.dispose(Object.values(state));
    this.restored.clear();
    for (const { name, tensor } of rest) {
      const cut = name.lastIndexOf('/');
      const slot = name.slice(cut + 1);
      const variableName = name.slice(0, cut);
      if (cut < 0 || !this.slotNames.includes(slot))
        throw new Error(
          `${this.where}.setWeights: unexpected weight '${name}' (slots are ${this.slotNames.join(', ')})`,
        );
      const existing = this.slots.get(variableName)?.[slot];
      if (existing) {
        if (!tf.util.arraysEqual(existing.shape, tensor.shape))
          throw new Error(
            `${this.where}.setWeights: '${name}' has shape [${tensor.shape}], the optimizer's state has [${existing.shape}]`,
          );
        existing.assign(tensor);
        continue;
      }
      let state = this.restored.get(variableName);
      if (!state) {
        state = {};
        this.restored.set(variableName, state);
      }
      state[slot]?.dispose();
      state[slot] = tf.tidy(() => tf.clone(tensor).variable(false));
    }
  }
}
