// Sharpness-Aware Minimization (Foret et al., "Sharpness-Aware Minimization for Efficiently Improving
// Generalization", ICLR 2021, arXiv:2010.01412) and its adaptive form ASAM (Kwon et al., ICML 2021,
// arXiv:2102.11600), following davda54/sam's sam.py: global gradient norm, e = ρ·g/(‖g‖+1e-12)
// (adaptive: e = ρ·w²·g/(‖|w|·g‖+1e-12)), second gradient at w + e, base step from w.
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from './optimizer-base.js';

export interface SAMOptions {
  /** The optimizer that takes the step with the sharpness-aware gradient (any tf.Optimizer). */
  base: tf.Optimizer;
  /** Neighbourhood radius ρ (default 0.05; ASAM papers use 0.5-2). */
  rho?: number;
  /** ASAM: scale the perturbation element-wise by |w| (default false). */
  adaptive?: boolean;
}

/** Core's `TrainingStepContext` (fit's multi-pass protocol, see `MultiPassOptimizer` in @mlzoo/core). */
interface TrainingStepContext {
  computeLoss: () => tf.Scalar;
  varList: tf.Variable[];
  checkLoss: (loss: tf.Scalar) => void;
}

const entriesOf = (gradients: tf.NamedTensorMap | NamedTensor[]): [string, tf.Tensor][] =>
  (Array.isArray(gradients)
    ? gradients.map((entry): [string, tf.Tensor] => [entry.name, entry.tensor])
    : Object.entries(gradients)
  ).filter(([, gradient]) => gradient != null);

/**
 * SAM as a tf.Optimizer. `minimize(f)` evaluates `f` twice (at w and at w + e) and hands the second
 * gradient to `base`; it returns the first loss. Core's `fit` drives it through `trainingStep` (the
 * same two passes, each loss checked before anything moves). For hand-written loops: `perturb(grads)`
 * moves to w + e, then compute the gradients again and call `applyGradients(grads2)`, which restores w
 * and steps the base optimizer. `applyGradients` without a preceding `perturb` throws: one gradient
 * cannot make a SAM step.
 */
export class SAM extends tf.Optimizer {
  static get className(): string {
    return 'SAM';
  }
  readonly base: tf.Optimizer;
  readonly rho: number;
  readonly adaptive: boolean;
  /** Perturbations currently added to the variables, by variable name. */
  private perturbation: Map<string, tf.Tensor> | undefined;

  constructor(options: SAMOptions) {
    super();
    if (!options || !(options.base instanceof tf.Optimizer))
      throw new Error('SAM: options.base must be a tf.Optimizer');
    this.base = options.base;
    this.rho = options.rho ?? 0.05;
    this.adaptive = options.adaptive ?? false;
    if (!(this.rho >= 0)) throw new Error(`SAM: rho must be non-negative, got ${this.rho}`);
  }

  /** True between `perturb` and `applyGradients`. */
  get perturbed(): boolean {
    return this.perturbation != null;
  }

  /** First pass: w ← w + e(w, g). The gradients are not consumed. */
  perturb(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    if (this.perturbation) throw new Error('SAM.perturb: already perturbed; call applyGradients first');
    const entries = entriesOf(variableGradients);
    const variables = entries.map(([name]) => {
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`SAM.perturb: no variable named '${name}'`);
      return variable;
    });
    const perturbation = new Map<string, tf.Tensor>();
    tf.tidy(() => {
      const scaled = entries.map(([, gradient], index) =>
        this.adaptive ? tf.mul(tf.abs(variables[index]!), gradient) : gradient,
      );
      const norm = tf.sqrt(tf.addN(scaled.map((tensor) => tf.sum(tf.square(tensor)))));
      const scale = tf.div(this.rho, tf.add(norm, 1e-12));
      entries.forEach(([name, gradient], index) => {
        const variable = variables[index]!;
        const e = tf.mul(this.adaptive ? tf.mul(tf.square(variable), gradient) : gradient, scale);
        variable.assign(tf.add(variable, e));
        perturbation.set(name, tf.keep(e));
      });
    });
    this.perturbation = perturbation;
  }

  /** Second pass: w ← w − e, then the base optimizer steps with these (sharpness-aware) gradients. */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    if (!this.perturbation) {
      throw new Error(
        "SAM.applyGradients: no perturbation in place. SAM needs the loss twice: use minimize(f) or core's fit (which calls trainingStep), or call perturb(grads) and recompute the gradients first",
      );
    }
    this.restore();
    this.base.applyGradients(variableGradients);
    this.incrementIterations();
  }

  /** Removes the perturbation without stepping (e.g. after a non-finite second loss). */
  restore(): void {
    if (!this.perturbation) return;
    tf.tidy(() => {
      for (const [name, e] of this.perturbation!) {
        const variable = tf.engine().registeredVariables[name]!;
        variable.assign(tf.sub(variable, e));
      }
    });
    tf.dispose([...this.perturbation.values()]);
    this.perturbation = undefined;
  }

  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    const loss = this.twoPassStep(f, varList, undefined);
    if (returnCost) return loss;
    loss.dispose();
    return null;
  }

  /**
   * Core's multi-pass protocol: `fit` calls this once per batch. Both passes run here; each loss goes
   * through `context.checkLoss` before it is used (the first before the perturbation, the second before
   * the base step), and when a check throws the perturbation is removed and the base optimizer is left
   * untouched. Returns the loss at w.
   */
  trainingStep(context: TrainingStepContext): tf.Scalar {
    return this.twoPassStep(context.computeLoss, context.varList, context.checkLoss);
  }

  private twoPassStep(
    f: () => tf.Scalar,
    varList: tf.Variable[] | undefined,
    checkLoss: ((loss: tf.Scalar) => void) | undefined,
  ): tf.Scalar {
    const first = tf.variableGrads(f, varList);
    try {
      checkLoss?.(first.value);
      this.perturb(first.grads);
    } catch (error) {
      first.value.dispose();
      throw error;
    } finally {
      tf.dispose(first.grads);
    }
    let second: { value: tf.Scalar; grads: tf.NamedTensorMap };
    try {
      second = tf.variableGrads(f, varList);
    } catch (error) {
      this.restore();
      first.value.dispose();
      throw error;
    }
    try {
      checkLoss?.(second.value);
    } catch (error) {
      this.restore();
      tf.dispose([first.value, second.value, ...Object.values(second.grads)]);
      throw error;
    }
    second.value.dispose();
    this.applyGradients(second.grads);
    tf.dispose(second.grads);
    return first.value;
  }

  override dispose(): void {
    this.restore();
    this.base.dispose();
    super.dispose();
  }

  override async getWeights(): Promise<NamedTensor[]> {
    return [await this.saveIterations(), ...(await this.base.getWeights())];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    await this.base.setWeights(await this.extractIterations(weightValues));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { rho: this.rho, adaptive: this.adaptive, base: this.base.getClassName() };
  }
}
