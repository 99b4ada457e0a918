// Symbolic fitting of one KAN edge, as pykan's `fit_params` / `suggest_symbolic` (kan/utils.py,
// kan/MultKAN.py): y ≈ c · f(a · x + b) + d, with (a, b) found by a zooming grid search that maximises
// R² and (c, d) by linear regression; candidates ranked by
// w · complexity + (1 - w) · log2(1 + 1e-5 - R²) (w = 0.8 as pykan's weight_simple).
import * as tf from '@tensorflow/tfjs-core';

export interface SymbolicFunction {
  name: string;
  /** Plain JavaScript evaluation (used for fitting). */
  evaluate: (x: number) => number;
  /** tfjs evaluation (used in the forward pass). */
  apply: (x: tf.Tensor) => tf.Tensor;
  /** pykan's complexity weight. */
  complexity: number;
}

const EPS = 1e-4;
const safeLog = (x: number) => Math.log(Math.max(Math.abs(x), EPS));
const safeSqrt = (x: number) => Math.sqrt(Math.max(x, 0));
const safeInverse = (x: number) => (Math.abs(x) < EPS ? Math.sign(x || 1) / EPS : 1 / x);

/**
 * The library (a subset of pykan's SYMBOLIC_LIB with its complexities). Singular functions are made
 * finite as pykan's "singularity-avoiding" variants do: log(max(|x|, 1e-4)), sqrt(max(x, 0)), 1/x
 * clipped at |x| = 1e-4.
 */
export const SYMBOLIC_LIBRARY: Record<string, SymbolicFunction> = Object.fromEntries(
  (
    [
      ['0', () => 0, (x) => tf.zerosLike(x), 0],
      ['x', (x) => x, (x) => tf.clone(x), 1],
      ['x^2', (x) => x * x, (x) => tf.square(x), 2],
      ['x^3', (x) => x ** 3, (x) => tf.pow(x, 3), 3],
      ['x^4', (x) => x ** 4, (x) => tf.pow(x, 4), 3],
      [
        '1/x',
        safeInverse,
        (x) => tf.div(1, tf.where(tf.less(tf.abs(x), EPS), tf.mul(tf.sign(tf.add(tf.sign(x), 0.5)), EPS), x)),
        2,
      ],
      ['sqrt', safeSqrt, (x) => tf.sqrt(tf.relu(x)), 2],
      ['exp', Math.exp, (x) => tf.exp(x), 2],
      ['log', safeLog, (x) => tf.log(tf.maximum(tf.abs(x), EPS)), 2],
      ['abs', Math.abs, (x) => tf.abs(x), 3],
      ['sin', Math.sin, (x) => tf.sin(x), 2],
      ['cos', Math.cos, (x) => tf.cos(x), 2],
      ['tanh', Math.tanh, (x) => tf.tanh(x), 3],
      ['sgn', Math.sign, (x) => tf.sign(x), 3],
      ['arctan', Math.atan, (x) => tf.atan(x), 4],
      ['gaussian', (x) => Math.exp(-x * x), (x) => tf.exp(tf.neg(tf.square(x))), 3],
    ] as [string, (x: number) => number, (x: tf.Tensor) => tf.Tensor, number][]
  ).map(([name, evaluate, apply, complexity]) => [name, { name, evaluate, apply, complexity }]),
);

export interface SymbolicFit {
  name: string;
  /** [a, b, c, d] of y ≈ c · f(a x + b) + d. */
  params: [number, number, number, number];
  r2: number;
}

export interface FitParamsOptions {
  range?: [number, number];
  /** Grid points per axis (pykan 101; default 41 to keep JavaScript fits fast). */
  gridNumber?: number;
  iterations?: number;
}

/** pykan's `fit_params`: zooming grid search of (a, b) by R², then (c, d) by least squares. */
export function fitSymbolicParams(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  fn: SymbolicFunction,
  options: FitParamsOptions = {},
): SymbolicFit {
  const n = xs.length;
  const gridNumber = options.gridNumber ?? 41;
  let aRange: [number, number] = options.range ?? [-10, 10];
  let bRange: [number, number] = options.range ?? [-10, 10];
  let yMean = 0;
  for (let s = 0; s < n; s++) yMean += ys[s]!;
  yMean /= n;
  let yVar = 0;
  for (let s = 0; s < n; s++) yVar += (ys[s]! - yMean) ** 2;
  let aBest = 0;
  let bBest = 0;
  let r2Best = 0;
  const post = new Float64Array(n);
  for (let iteration = 0; iteration < (options.iterations ?? 3); iteration++) {
    const as = linspace(aRange[0], aRange[1], gridNumber);
    const bs = linspace(bRange[0], bRange[1], gridNumber);
    let best = -1;
    let aId = 0;
    let bId = 0;
    for (let i = 0; i < gridNumber; i++) {
      for (let j = 0; j < gridNumber; j++) {
        let mean = 0;
        for (let s = 0; s < n; s++) {
          const value = fn.evaluate(as[i]! * xs[s]! + bs[j]!);
          post[s] = Number.isFinite(value) ? value : 0;
          mean += post[s]!;
        }
        mean /= n;
        let covariance = 0;
        let variance = 0;
        for (let s = 0; s < n; s++) {
          covariance += (post[s]! - mean) * (ys[s]! - yMean);
          variance += (post[s]! - mean) ** 2;
        }
        const r2 = (covariance * covariance) / (variance * yVar + 1e-4);
        if (r2 > best) {
          best = r2;
          aId = i;
          bId = j;
        }
      }
    }
    aBest = as[aId]!;
    bBest = bs[bId]!;
    r2Best = best;
    const last = gridNumber - 1;
    aRange =
      aId === 0 ? [as[0]!, as[1]!] : aId === last ? [as[last - 1]!, as[last]!] : [as[aId - 1]!, as[aId + 1]!];
    bRange =
      bId === 0 ? [bs[0]!, bs[1]!] : bId === last ? [bs[last - 1]!, bs[last]!] : [bs[bId - 1]!, bs[bId + 1]!];
  }
  // c, d by linear regression of y on f(a x + b)
  let mean = 0;
  for (let s = 0; s < n; s++) {
    const value = fn.evaluate(aBest * xs[s]! + bBest);
    post[s] = Number.isFinite(value) ? value : 0;
    mean += post[s]!;
  }
  mean /= n;
  let covariance = 0;
  let variance = 0;
  for (let s = 0; s < n; s++) {
    covariance += (post[s]! - mean) * (ys[s]! - yMean);
    variance += (post[s]! - mean) ** 2;
  }
  const c = variance > 0 ? covariance / variance : 0;
  const d = yMean - c * mean;
  return { name: fn.name, params: [aBest, bBest, c, d], r2: Math.max(0, r2Best) };
}

/** pykan's `suggest_symbolic`: every candidate fitted and ranked (best first). */
export function suggestSymbolic(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  options: FitParamsOptions & { library?: readonly string[]; weightSimple?: number; topK?: number } = {},
): (SymbolicFit & { complexity: number; score: number })[] {
  const names = options.library ?? Object.keys(SYMBOLIC_LIBRARY).filter((name) => name !== '0');
  const weight = options.weightSimple ?? 0.8;
  const fits = names.map((name) => {
    const fn = SYMBOLIC_LIBRARY[name];
    if (!fn)
      throw new Error(
        `suggestSymbolic: unknown function '${name}' (known: ${Object.keys(SYMBOLIC_LIBRARY).join(', ')})`,
      );
    const fit = fitSymbolicParams(xs, ys, fn, options);
    const score = weight * fn.complexity + (1 - weight) * Math.log2(1 + 1e-5 - Math.min(fit.r2, 1));
    return { ...fit, complexity: fn.complexity, score };
  });
  fits.sort((left, right) => left.score - right.score);
  return fits.slice(0, options.topK ?? 5);
}

function linspace(low: number, high: number, count: number): number[] {
  return Array.from({ length: count }, (_, index) => low + ((high - low) * index) / (count - 1));
}
