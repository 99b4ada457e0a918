// L-BFGS with an optional strong-Wolfe line search, a port of torch.optim.LBFGS (PyTorch 1.13,
// torch/optim/lbfgs.py, itself after Mark Schmidt's minFunc).
//
// Nocedal, "Updating Quasi-Newton Matrices with Limited Storage", Mathematics of Computation 1980;
// Nocedal & Wright, "Numerical Optimization" (2006), Algorithms 3.5/3.6 (line search) and 7.4 (two-loop).
//
// The vector algebra (two-loop recursion, line search) runs in float64 on JavaScript arrays; the loss
// and its gradient come from tfjs (float32 on the usual backends). This suits the problems L-BFGS is
// used for (full-batch fits of small models such as KANs), where the parameter vector is small.
import * as tf from '@tensorflow/tfjs-core';

type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

export interface LBFGSOptions {
  /** Step-length multiplier (torch `lr`, default 1). */
  learningRate?: number;
  /** Iterations per `minimize` call (torch `max_iter`, default 20). */
  maxIterations?: number;
  /** Function evaluations per `minimize` call (torch `max_eval`, default floor(maxIterations * 5 / 4)). */
  maxEvaluations?: number;
  /** Stop when max |gradient| falls to this (torch `tolerance_grad`, default 1e-7). */
  toleranceGrad?: number;
  /** Stop when the loss or the step changes less than this (torch `tolerance_change`, default 1e-9). */
  toleranceChange?: number;
  /**
   * A curvature pair (s, y) enters the history only when yᵀs exceeds this (default 1e-10, torch's fixed
   * threshold; pykan's LBFGS makes it an option, `tolerance_ys`, and its `fit` uses 1e-32).
   */
  toleranceYs?: number;
  /** Curvature pairs kept (torch `history_size`, default 100). */
  historySize?: number;
  /**
   * 'strong-wolfe' (default here; torch's `line_search_fn='strong_wolfe'`) or 'none' (fixed step
   * `learningRate`, torch's default `None`).
   */
  lineSearch?: 'strong-wolfe' | 'none';
}

/** Core's `TrainingStepContext` (fit's multi-pass protocol, see `MultiPassOptimizer` in @mlzoo/core). */
interface TrainingStepContext {
  computeLoss: () => tf.Scalar;
  varList: tf.Variable[];
  checkLoss: (loss: tf.Scalar) => void;
}

interface Evaluation {
  loss: number;
  gradient: Float64Array;
}

const dot = (a: Float64Array, b: Float64Array) => {
  let total = 0;
  for (let index = 0; index < a.length; index++) total += a[index]! * b[index]!;
  return total;
};
const maxAbs = (a: Float64Array) => {
  let max = 0;
  for (const value of a) max = Math.max(max, Math.abs(value));
  return max;
};
const sumAbs = (a: Float64Array) => {
  let total = 0;
  for (const value of a) total += Math.abs(value);
  return total;
};

/** torch's `_cubic_interpolate`: minimiser of the cubic through two points with their slopes. */
function cubicInterpolate(
  x1: number,
  f1: number,
  g1: number,
  x2: number,
  f2: number,
  g2: number,
  bounds?: [number, number],
): number {
  const [minBound, maxBound] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2Square = d1 * d1 - g1 * g2;
  if (d2Square >= 0) {
    const d2 = Math.sqrt(d2Square);
    const minPosition =
      x1 <= x2
        ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return Math.min(Math.max(minPosition, minBound), maxBound);
  }
  return (minBound + maxBound) / 2;
}

/** torch's `_strong_wolfe`: step length t along d satisfying the strong Wolfe conditions. */
function strongWolfe(
  evaluate: (t: number) => Evaluation,
  startT: number,
  direction: Float64Array,
  loss: number,
  gradient: Float64Array,
  gtd: number,
  c1 = 1e-4,
  c2 = 0.9,
  toleranceChange = 1e-9,
  maxLineSearch = 25,
): { loss: number; gradient: Float64Array; t: number; evaluations: number } {
  let t = startT;
  const directionNorm = maxAbs(direction);
  let { loss: newLoss, gradient: newGradient } = evaluate(t);
  let evaluations = 1;
  let newGtd = dot(newGradient, direction);
  let previousT = 0;
  let previousLoss = loss;
  let previousGradient = gradient;
  let previousGtd = gtd;
  let done = false;
  let iteration = 0;
  let bracket: number[] = [];
  let bracketLoss: number[] = [];
  let bracketGradient: Float64Array[] = [];
  let bracketGtd: number[] = [];
  while (iteration < maxLineSearch) {
    if (newLoss > loss + c1 * t * gtd || (iteration > 1 && newLoss >= previousLoss)) {
      bracket = [previousT, t];
      bracketLoss = [previousLoss, newLoss];
      bracketGradient = [previousGradient, newGradient];
      bracketGtd = [previousGtd, newGtd];
      break;
    }
    if (Math.abs(newGtd) <= -c2 * gtd) {
      bracket = [t];
      bracketLoss = [newLoss];
      bracketGradient = [newGradient];
      done = true;
      break;
    }
    if (newGtd >= 0) {
      bracket = [previousT, t];
      bracketLoss = [previousLoss, newLoss];
      bracketGradient = [previousGradient, newGradient];
      bracketGtd = [previousGtd, newGtd];
      break;
    }
    const minStep = t + 0.01 * (t - previousT);
    const maxStep = t * 10;
    const current = t;
    t = cubicInterpolate(previousT, previousLoss, previousGtd, t, newLoss, newGtd, [minStep, maxStep]);
    previousT = current;
    previousLoss = newLoss;
    previousGradient = newGradient;
    previousGtd = newGtd;
    ({ loss: newLoss, gradient: newGradient } = evaluate(t));
    evaluations++;
    newGtd = dot(newGradient, direction);
    iteration++;
  }
  if (iteration === maxLineSearch) {
    bracket = [0, t];
    bracketLoss = [loss, newLoss];
    bracketGradient = [gradient, newGradient];
    // torch leaves bracket_gtd unset here; the zoom below then reads the values of the last bracket
    bracketGtd = [gtd, newGtd];
  }
  let insufficientProgress = false;
  let [low, high] = bracketLoss[0]! <= bracketLoss[bracketLoss.length - 1]! ? [0, 1] : [1, 0];
  while (!done && iteration < maxLineSearch) {
    if (Math.abs(bracket[1]! - bracket[0]!) * directionNorm < toleranceChange) break;
    t = cubicInterpolate(
      bracket[0]!,
      bracketLoss[0]!,
      bracketGtd[0]!,
      bracket[1]!,
      bracketLoss[1]!,
      bracketGtd[1]!,
    );
    const upper = Math.max(...bracket);
    const lower = Math.min(...bracket);
    const epsilon = 0.1 * (upper - lower);
    if (Math.min(upper - t, t - lower) < epsilon) {
      if (insufficientProgress || t >= upper || t <= lower) {
        t = Math.abs(t - upper) < Math.abs(t - lower) ? upper - epsilon : lower + epsilon;
        insufficientProgress = false;
      } else {
        insufficientProgress = true;
      }
    } else {
      insufficientProgress = false;
    }
    ({ loss: newLoss, gradient: newGradient } = evaluate(t));
    evaluations++;
    newGtd = dot(newGradient, direction);
    iteration++;
    if (newLoss > loss + c1 * t * gtd || newLoss >= bracketLoss[low]!) {
      bracket[high] = t;
      bracketLoss[high] = newLoss;
      bracketGradient[high] = newGradient;
      bracketGtd[high] = newGtd;
      [low, high] = bracketLoss[0]! <= bracketLoss[1]! ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(newGtd) <= -c2 * gtd) {
        done = true;
      } else if (newGtd * (bracket[high]! - bracket[low]!) >= 0) {
        bracket[high] = bracket[low]!;
        bracketLoss[high] = bracketLoss[low]!;
        bracketGradient[high] = bracketGradient[low]!;
        bracketGtd[high] = bracketGtd[low]!;
      }
      bracket[low] = t;
      bracketLoss[low] = newLoss;
      bracketGradient[low] = newGradient;
      bracketGtd[low] = newGtd;
    }
  }
  return { loss: bracketLoss[low]!, gradient: bracketGradient[low]!, t: bracket[low]!, evaluations };
}

/** Float64 values stored bit-exactly in an int32 tensor (two words per value). */
function float64ToTensor(values: Float64Array | number[], shape: number[]): tf.Tensor {
  const copy = Float64Array.from(values);
  return tf.tensor(new Int32Array(copy.buffer), [...shape, 2], 'int32');
}
function tensorToFloat64(tensor: tf.Tensor): Float64Array {
  const words = Int32Array.from(tensor.dataSync() as Int32Array);
  return new Float64Array(words.buffer);
}

/**
 * L-BFGS as a `tf.Optimizer`. `minimize(f)` re-evaluates `f` as torch's closure does: up to
 * `maxIterations` iterations, each with a strong-Wolfe line search, and returns the loss before the
 * first iteration (as torch's `step(closure)`). `applyGradients(grads)` runs one iteration with the fixed
 * step `learningRate` and no line search (torch with `max_iter=1`, `line_search_fn=None`), for loops
 * that only have one gradient. Core's `fit` calls `trainingStep`, which is `minimize` on the batch's
 * loss with every evaluation checked: one `fit` step is one `minimize(f)` call.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { LBFGS } from '@mlzoo/optimizers';
 * const w = tf.variable(tf.tensor1d([-1.5, 2]));
 * const rosenbrock = () => {
 *   const [x, y] = tf.split(w, 2);
 *   return tf.sum(tf.add(tf.square(tf.sub(1, x!)), tf.mul(100, tf.square(tf.sub(y!, tf.square(x!)))))) as tf.Scalar;
 * };
 * const optimizer = new LBFGS({ maxIterations: 100 });
 * optimizer.minimize(rosenbrock); // w is now close to [1, 1]
 * ```
 */
export class LBFGS extends tf.Optimizer {
  static get className(): string {
    return 'LBFGS';
  }
  readonly learningRate: number;
  readonly maxIterations: number;
  readonly maxEvaluations: number;
  readonly toleranceGrad: number;
  readonly toleranceChange: number;
  readonly toleranceYs: number;
  readonly historySize: number;
  readonly lineSearch: 'strong-wolfe' | 'none';

  private variableNames: string[] | undefined;
  private direction: Float64Array | undefined;
  private stepLength = 0;
  private oldDirections: Float64Array[] = [];
  private oldSteps: Float64Array[] = [];
  private rho: number[] = [];
  private hessianDiagonal = 1;
  private previousGradient: Float64Array | undefined;
  private previousLoss = Number.NaN;
  /** Total iterations over all calls (torch `state['n_iter']`). */
  private totalIterations = 0;
  /** Total function evaluations over all calls (torch `state['func_evals']`). */
  functionEvaluations = 0;
  private savedWeights: tf.Tensor[] = [];

  constructor(options: LBFGSOptions = {}) {
    super();
    this.learningRate = options.learningRate ?? 1;
    this.maxIterations = options.maxIterations ?? 20;
    this.maxEvaluations = options.maxEvaluations ?? Math.floor((this.maxIterations * 5) / 4);
    this.toleranceGrad = options.toleranceGrad ?? 1e-7;
    this.toleranceChange = options.toleranceChange ?? 1e-9;
    this.toleranceYs = options.toleranceYs ?? 1e-10;
    this.historySize = options.historySize ?? 100;
    this.lineSearch = options.lineSearch ?? 'strong-wolfe';
    const positive = (name: string, value: number, integer: boolean) => {
      if (!(value > 0) || (integer && !Number.isInteger(value)))
        throw new Error(`LBFGS: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}`);
    };
    positive('learningRate', this.learningRate, false);
    positive('maxIterations', this.maxIterations, true);
    positive('maxEvaluations', this.maxEvaluations, true);
    positive('historySize', this.historySize, true);
    if (!(this.toleranceGrad >= 0) || !(this.toleranceChange >= 0) || !(this.toleranceYs >= 0))
      throw new Error('LBFGS: toleranceGrad, toleranceChange and toleranceYs must be non-negative');
    if (this.lineSearch !== 'strong-wolfe' && this.lineSearch !== 'none')
      throw new Error(`LBFGS: lineSearch must be 'strong-wolfe' or 'none', got '${String(this.lineSearch)}'`);
  }

  private resolveVariables(names: string[]): tf.Variable[] {
    if (this.variableNames == null) this.variableNames = names;
    else if (
      names.length !== this.variableNames.length ||
      names.some((name, index) => name !== this.variableNames![index])
    ) {
      throw new Error(
        `LBFGS: the variables changed between calls (had ${this.variableNames.length}: ${this.variableNames.slice(0, 3).join(', ')}...; got ${names.length}); L-BFGS keeps one flat history, create a new LBFGS for other variables`,
      );
    }
    return names.map((name) => {
      const variable = tf.engine().registeredVariables[name];
      if (!variable) throw new Error(`LBFGS: variable '${name}' is not registered (disposed?)`);
      return variable;
    });
  }

  private readParameters(variables: tf.Variable[]): Float64Array {
    const total = variables.reduce((sum, variable) => sum + variable.size, 0);
    const flat = new Float64Array(total);
    let offset = 0;
    for (const variable of variables) {
      flat.set(variable.dataSync() as Float32Array, offset);
      offset += variable.size;
    }
    return flat;
  }

  /** Writes the flat vector into the variables; returns it rounded to what the variables now hold. */
  private writeParameters(variables: tf.Variable[], flat: Float64Array): Float64Array {
    let offset = 0;
    for (const variable of variables) {
      const values = new Float32Array(flat.subarray(offset, offset + variable.size));
      tf.tidy(() => variable.assign(tf.tensor(values, variable.shape, variable.dtype)));
      offset += variable.size;
    }
    return Float64Array.from(new Float32Array(flat));
  }

  private flatten(variables: tf.Variable[], gradients: Record<string, tf.Tensor | undefined>): Float64Array {
    const total = variables.reduce((sum, variable) => sum + variable.size, 0);
    const flat = new Float64Array(total);
    let offset = 0;
    for (const variable of variables) {
      const gradient = gradients[variable.name];
      if (gradient) flat.set(gradient.dataSync() as Float32Array, offset);
      offset += variable.size;
    }
    return flat;
  }

  /**
   * Runs up to `maxIterations` L-BFGS iterations on the loss `f` (re-evaluated as needed) and returns
   * the loss at the starting point when `returnCost` is true.
   */
  override minimize(f: () => tf.Scalar, returnCost = false, varList?: tf.Variable[]): tf.Scalar | null {
    return this.run(f, returnCost, varList, undefined);
  }

  /**
   * Core's multi-pass protocol: `fit` calls this once per batch. It runs what `minimize` runs (up to
   * `maxIterations` iterations with the line search), passing every evaluation's loss through
   * `context.checkLoss` before using it. When a check throws, the variables go back to where the step
   * began and the history to what it was, and the error propagates. Returns the loss at the start.
   */
  trainingStep(context: TrainingStepContext): tf.Scalar {
    const { varList } = context;
    const saved = {
      variableNames: this.variableNames,
      direction: this.direction,
      stepLength: this.stepLength,
      oldDirections: this.oldDirections.slice(),
      oldSteps: this.oldSteps.slice(),
      rho: this.rho.slice(),
      hessianDiagonal: this.hessianDiagonal,
      previousGradient: this.previousGradient,
      previousLoss: this.previousLoss,
      totalIterations: this.totalIterations,
      functionEvaluations: this.functionEvaluations,
    };
    // tf.clone shares the data: no copy, and an exact way back
    const start = varList.map((variable) => tf.clone(variable));
    try {
      return this.run(context.computeLoss, true, varList, context.checkLoss)!;
    } catch (error) {
      varList.forEach((variable, index) => {
        variable.assign(start[index]!);
      });
      Object.assign(this, saved);
      throw error;
    } finally {
      tf.dispose(start);
    }
  }

  private run(
    f: () => tf.Scalar,
    returnCost: boolean,
    varList: tf.Variable[] | undefined,
    checkLoss: ((loss: tf.Scalar) => void) | undefined,
  ): tf.Scalar | null {
    let variables: tf.Variable[] | undefined = varList;
    const evaluateAtCurrent = (keep: boolean): { evaluation: Evaluation; value?: tf.Scalar } => {
      const { value, grads } = tf.variableGrads(f, variables);
      try {
        checkLoss?.(value);
      } catch (error) {
        tf.dispose([value, ...Object.values(grads)]);
        throw error;
      }
      if (!variables) variables = this.resolveVariables(Object.keys(grads));
      const evaluation = { loss: value.dataSync()[0]!, gradient: this.flatten(variables, grads) };
      tf.dispose(grads);
      if (keep) return { evaluation, value };
      value.dispose();
      return { evaluation };
    };
    if (varList) this.resolveVariables(varList.map((variable) => variable.name));
    const first = evaluateAtCurrent(returnCost);
    const resolved = variables as unknown as tf.Variable[];
    const evaluateAlong = (start: Float64Array, t: number, direction: Float64Array): Evaluation => {
      const point = new Float64Array(start.length);
      for (let index = 0; index < start.length; index++) point[index] = start[index]! + t * direction[index]!;
      this.writeParameters(resolved, point);
      const { evaluation } = evaluateAtCurrent(false);
      this.writeParameters(resolved, start);
      return evaluation;
    };
    try {
      this.iterate(resolved, first.evaluation, this.maxIterations, this.lineSearch, evaluateAlong, () => {
        return evaluateAtCurrent(false).evaluation;
      });
    } catch (error) {
      first.value?.dispose();
      throw error;
    }
    this.incrementIterations();
    return first.value ?? null;
  }

  /**
   * One L-BFGS iteration from the given gradients with step `learningRate` (no line search; the first
   * iteration's step is min(1, 1/‖g‖₁)·learningRate, as in torch).
   */
  override applyGradients(variableGradients: tf.NamedTensorMap | NamedTensor[]): void {
    const entries: [string, tf.Tensor][] = Array.isArray(variableGradients)
      ? variableGradients.map((entry) => [entry.name, entry.tensor])
      : Object.entries(variableGradients);
    const variables = this.resolveVariables(entries.map(([name]) => name));
    const gradient = this.flatten(variables, Object.fromEntries(entries));
    this.iterate(variables, { loss: Number.NaN, gradient }, 1, 'none', undefined, undefined);
    this.incrementIterations();
  }

  private iterate(
    variables: tf.Variable[],
    start: Evaluation,
    maxIterations: number,
    lineSearch: 'strong-wolfe' | 'none',
    evaluateAlong: ((start: Float64Array, t: number, direction: Float64Array) => Evaluation) | undefined,
    reevaluate: (() => Evaluation) | undefined,
  ): void {
    let { loss, gradient } = start;
    this.functionEvaluations++;
    let currentEvaluations = 1;
    if (maxAbs(gradient) <= this.toleranceGrad) return;
    let parameters = this.readParameters(variables);
    let iteration = 0;
    while (iteration < maxIterations) {
      iteration++;
      this.totalIterations++;
      let direction: Float64Array;
      if (this.totalIterations === 1 || this.direction == null || this.previousGradient == null) {
        direction = gradient.map((value) => -value);
        this.oldDirections = [];
        this.oldSteps = [];
        this.rho = [];
        this.hessianDiagonal = 1;
      } else {
        const y = gradient.map((value, index) => value - this.previousGradient![index]!);
        const s = this.direction.map((value) => value * this.stepLength);
        const ys = dot(y, s);
        if (ys > this.toleranceYs) {
          if (this.oldDirections.length === this.historySize) {
            this.oldDirections.shift();
            this.oldSteps.shift();
            this.rho.shift();
          }
          this.oldDirections.push(y);
          this.oldSteps.push(s);
          this.rho.push(1 / ys);
          this.hessianDiagonal = ys / dot(y, y);
        }
        const count = this.oldDirections.length;
        const alpha = new Array<number>(count).fill(0);
        const q = gradient.map((value) => -value);
        for (let index = count - 1; index >= 0; index--) {
          alpha[index] = dot(this.oldSteps[index]!, q) * this.rho[index]!;
          const oldDirection = this.oldDirections[index]!;
          for (let k = 0; k < q.length; k++) q[k]! -= alpha[index]! * oldDirection[k]!;
        }
        direction = q.map((value) => value * this.hessianDiagonal);
        for (let index = 0; index < count; index++) {
          const beta = dot(this.oldDirections[index]!, direction) * this.rho[index]!;
          const oldStep = this.oldSteps[index]!;
          for (let k = 0; k < direction.length; k++) direction[k]! += (alpha[index]! - beta) * oldStep[k]!;
        }
      }
      this.direction = direction;
      this.previousGradient = Float64Array.from(gradient);
      this.previousLoss = loss;
      this.stepLength =
        this.totalIterations === 1
          ? Math.min(1, 1 / sumAbs(gradient)) * this.learningRate
          : this.learningRate;
      const gtd = dot(gradient, direction);
      if (gtd > -this.toleranceChange) break;
      let evaluations = 0;
      let optimal = false;
      if (lineSearch === 'strong-wolfe' && evaluateAlong) {
        const origin = parameters;
        const result = strongWolfe(
          (t) => evaluateAlong(origin, t, direction),
          this.stepLength,
          direction,
          loss,
          gradient,
          gtd,
        );
        loss = result.loss;
        gradient = result.gradient;
        this.stepLength = result.t;
        evaluations = result.evaluations;
        parameters = this.writeParameters(
          variables,
          origin.map((value, index) => value + this.stepLength * direction[index]!),
        );
        optimal = maxAbs(gradient) <= this.toleranceGrad;
      } else {
        parameters = this.writeParameters(
          variables,
          parameters.map((value, index) => value + this.stepLength * direction[index]!),
        );
        if (iteration !== maxIterations && reevaluate) {
          ({ loss, gradient } = reevaluate());
          optimal = maxAbs(gradient) <= this.toleranceGrad;
          evaluations = 1;
        }
      }
      currentEvaluations += evaluations;
      this.functionEvaluations += evaluations;
      if (iteration === maxIterations) break;
      if (currentEvaluations >= this.maxEvaluations) break;
      if (optimal) break;
      if (maxAbs(direction) * Math.abs(this.stepLength) <= this.toleranceChange) break;
      if (Math.abs(loss - this.previousLoss) < this.toleranceChange) break;
    }
  }

  private releaseSaved(): void {
    tf.dispose(this.savedWeights);
    this.savedWeights = [];
  }

  override dispose(): void {
    this.releaseSaved();
    super.dispose();
  }

  /**
   * The iteration count ('iter', a new tensor as in tfjs) and the L-BFGS history. The history tensors
   * hold float64 values bit-exactly as int32 word pairs; they belong to the optimizer (freed on the
   * next getWeights or dispose), as tfjs optimizers' moment variables do.
   */
  override async getWeights(): Promise<NamedTensor[]> {
    this.releaseSaved();
    const length = this.previousGradient?.length ?? 0;
    const count = this.oldDirections.length;
    const stack = (vectors: Float64Array[]) => {
      const flat = new Float64Array(count * length);
      vectors.forEach((vector, index) => {
        flat.set(vector, index * length);
      });
      return float64ToTensor(flat, [count, length]);
    };
    const weights: NamedTensor[] = [
      {
        name: 'lbfgs/scalars',
        tensor: float64ToTensor(
          [
            this.totalIterations,
            this.functionEvaluations,
            this.stepLength,
            this.hessianDiagonal,
            this.previousLoss,
          ],
          [5],
        ),
      },
      {
        name: 'lbfgs/direction',
        tensor: float64ToTensor(this.direction ?? [], [this.direction?.length ?? 0]),
      },
      { name: 'lbfgs/previous_gradient', tensor: float64ToTensor(this.previousGradient ?? [], [length]) },
      { name: 'lbfgs/old_directions', tensor: stack(this.oldDirections) },
      { name: 'lbfgs/old_steps', tensor: stack(this.oldSteps) },
      { name: 'lbfgs/rho', tensor: float64ToTensor(this.rho, [count]) },
    ];
    this.savedWeights = weights.map((weight) => weight.tensor);
    return [await this.saveIterations(), ...weights];
  }

  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const rest = await this.extractIterations(weightValues);
    const byName = new Map(rest.map((weight) => [weight.name, weight.tensor]));
    const read = (name: string) => {
      const tensor = byName.get(name);
      if (!tensor) throw new Error(`LBFGS.setWeights: missing weight '${name}'`);
      return tensorToFloat64(tensor);
    };
    const scalars = read('lbfgs/scalars');
    if (scalars.length !== 5) throw new Error('LBFGS.setWeights: lbfgs/scalars must hold 5 values');
    [
      this.totalIterations,
      this.functionEvaluations,
      this.stepLength,
      this.hessianDiagonal,
      this.previousLoss,
    ] = [scalars[0]!, scalars[1]!, scalars[2]!, scalars[3]!, scalars[4]!];
    const direction = read('lbfgs/direction');
    const previous = read('lbfgs/previous_gradient');
    this.direction = direction.length > 0 ? direction : undefined;
    this.previousGradient = previous.length > 0 ? previous : undefined;
    const unstack = (flat: Float64Array) => {
      const vectors: Float64Array[] = [];
      for (let offset = 0; offset < flat.length; offset += previous.length)
        vectors.push(flat.slice(offset, offset + previous.length));
      return vectors;
    };
    this.oldDirections = unstack(read('lbfgs/old_directions'));
    this.oldSteps = unstack(read('lbfgs/old_steps'));
    this.rho = Array.from(read('lbfgs/rho'));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      learningRate: this.learningRate,
      maxIterations: this.maxIterations,
      maxEvaluations: this.maxEvaluations,
      toleranceGrad: this.toleranceGrad,
      toleranceChange: this.toleranceChange,
      toleranceYs: this.toleranceYs,
      historySize: this.historySize,
      lineSearch: this.lineSearch,
    };
  }

  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    return new cls(config);
  }
}
