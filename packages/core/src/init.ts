// Seeded, reproducible initializers with PyTorch's semantics (torch.nn.init and timm's trunc_normal_).
// Values are drawn in JavaScript from a {@link Random} so they do not depend on the backend.
import * as tf from '@tensorflow/tfjs-core';
import { defaultRandom, type Random } from './random.js';

export type Nonlinearity = 'linear' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** Options shared by the random initializers. */
export interface RandomInitOptions {
  /** Generator to draw from; the default generator ({@link manualSeed}) when omitted. */
  random?: Random;
}

export interface FanOptions extends RandomInitOptions {
  /** Fan-in; by default computed from `shape` read as a PyTorch layout ([out, in, ...kernel]). */
  fanIn?: number;
  /** Fan-out; by default computed from `shape` read as a PyTorch layout. */
  fanOut?: number;
}

function size(shape: readonly number[]): number {
  let total = 1;
  for (const dimension of shape) {
    if (!Number.isInteger(dimension) || dimension < 0) {
      throw new Error(`init: shape must hold non-negative integers, got [${shape.join(', ')}]`);
    }
    total *= dimension;
  }
  return total;
}

/**
 * PyTorch's fan computation (`torch.nn.init._calculate_fan_in_and_fan_out`) for a tensor in PyTorch
 * layout: Linear [out, in], Conv [out, in/groups, ...kernel].
 */
export function torchFans(shape: readonly number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new Error(`init: fan in and fan out need at least 2 dimensions, got [${shape.join(', ')}]`);
  }
  const receptive = shape.slice(2).reduce((product, dimension) => product * dimension, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

/** `torch.nn.init.calculate_gain`. */
export function calculateGain(nonlinearity: Nonlinearity, negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case 'linear':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
    case 'selu':
      return 3 / 4;
  }
}

function resolveFans(shape: readonly number[], options: FanOptions): { fanIn: number; fanOut: number } {
  if (options.fanIn != null && options.fanOut != null)
    return { fanIn: options.fanIn, fanOut: options.fanOut };
  const fans = torchFans(shape);
  return { fanIn: options.fanIn ?? fans.fanIn, fanOut: options.fanOut ?? fans.fanOut };
}

function fill(shape: readonly number[], draw: () => number): tf.Tensor {
  const values = new Float32Array(size(shape));
  for (let index = 0; index < values.length; index++) values[index] = draw();
  return tf.tensor(values, shape as number[], 'float32');
}

export function zeros(shape: readonly number[]): tf.Tensor {
  return tf.zeros(shape as number[], 'float32');
}

export function ones(shape: readonly number[]): tf.Tensor {
  return tf.ones(shape as number[], 'float32');
}

export function constant(shape: readonly number[], value: number): tf.Tensor {
  return tf.fill(shape as number[], value, 'float32');
}

/** U(low, high). */
export function uniform(
  shape: readonly number[],
  options: RandomInitOptions & { low?: number; high?: number } = {},
): tf.Tensor {
  const random = options.random ?? defaultRandom();
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  return fill(shape, () => low + (high - low) * random.uniform());
}

/** N(mean, std^2). */
export function normal(
  shape: readonly number[],
  options: RandomInitOptions & { mean?: number; std?: number } = {},
): tf.Tensor {
  const random = options.random ?? defaultRandom();
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  return fill(shape, () => mean + std * random.normal());
}

/** Standard normal CDF through erfc (W. J. Cody's rational approximation, |error| < 1.2e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const erfc =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 +
                            t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return z >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** Inverse standard normal CDF (Acklam's rational approximation plus one Halley refinement step). */
function normalQuantile(p: number): number {
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x =
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
      (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x =
      -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  const error = normalCdf(x) - p;
  const u = error * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/**
 * Truncated normal as timm's `trunc_normal_`: N(mean, std^2) restricted to [a, b], where a and b are
 * absolute bounds (default -2 and 2). Drawn by rejection when most of the mass lies inside the bounds
 * (exact), otherwise by the inverse CDF (as timm does), so narrow or far-off bounds stay fast.
 */
export function truncNormal(
  shape: readonly number[],
  options: RandomInitOptions & { mean?: number; std?: number; a?: number; b?: number } = {},
): tf.Tensor {
  const random = options.random ?? defaultRandom();
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  const a = options.a ?? -2;
  const b = options.b ?? 2;
  if (!(a < b)) throw new Error(`truncNormal: lower bound a=${a} must be below upper bound b=${b}`);
  if (!(std > 0)) throw new Error(`truncNormal: std must be positive, got ${std}`);
  const lowZ = (a - mean) / std;
  const highZ = (b - mean) / std;
  const lowP = normalCdf(lowZ);
  const highP = normalCdf(highZ);
  if (highP - lowP > 0.25) {
    return fill(shape, () => {
      for (;;) {
        const z = random.normal();
        if (z >= lowZ && z <= highZ) return mean + std * z;
      }
    });
  }
  if (!(highP > lowP))
    throw new Error(`truncNormal: [${a}, ${b}] holds no probability mass for N(${mean}, ${std}^2)`);
  return fill(shape, () => {
    const p = lowP + (highP - lowP) * random.uniform();
    const z = normalQuantile(Math.min(Math.max(p, Number.MIN_VALUE), 1 - Number.EPSILON));
    return Math.min(b, Math.max(a, mean + std * z));
  });
}

/** `torch.nn.init.xavier_uniform_`: U(-bound, bound), bound = gain * sqrt(6 / (fanIn + fanOut)). */
export function xavierUniform(
  shape: readonly number[],
  options: FanOptions & { gain?: number } = {},
): tf.Tensor {
  const { fanIn, fanOut } = resolveFans(shape, options);
  const bound = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(shape, { random: options.random, low: -bound, high: bound });
}

/** `torch.nn.init.xavier_normal_`: N(0, std^2), std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal(
  shape: readonly number[],
  options: FanOptions & { gain?: number } = {},
): tf.Tensor {
  const { fanIn, fanOut } = resolveFans(shape, options);
  return normal(shape, {
    random: options.random,
    std: (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)),
  });
}

export interface KaimingOptions extends FanOptions {
  /** Negative slope for leaky_relu (PyTorch's `a`). */
  a?: number;
  mode?: 'fan_in' | 'fan_out';
  nonlinearity?: Nonlinearity;
}

function kaimingStd(shape: readonly number[], options: KaimingOptions): number {
  const fans = resolveFans(shape, options);
  const fan = (options.mode ?? 'fan_in') === 'fan_in' ? fans.fanIn : fans.fanOut;
  const gain = calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** `torch.nn.init.kaiming_uniform_`: U(-bound, bound), bound = gain * sqrt(3 / fan). */
export function kaimingUniform(shape: readonly number[], options: KaimingOptions = {}): tf.Tensor {
  const bound = Math.sqrt(3) * kaimingStd(shape, options);
  return uniform(shape, { random: options.random, low: -bound, high: bound });
}

/** `torch.nn.init.kaiming_normal_`: N(0, (gain / sqrt(fan))^2). */
export function kaimingNormal(shape: readonly number[], options: KaimingOptions = {}): tf.Tensor {
  return normal(shape, { random: options.random, std: kaimingStd(shape, options) });
}

/**
 * PyTorch's default weight init for nn.Linear and nn.ConvNd (kaiming_uniform_ with a = sqrt(5)),
 * which is U(-1/sqrt(fanIn), 1/sqrt(fanIn)).
 */
export function torchDefaultWeight(shape: readonly number[], options: FanOptions = {}): tf.Tensor {
  return kaimingUniform(shape, { ...options, a: Math.sqrt(5) });
}

/** PyTorch's default bias init for nn.Linear and nn.ConvNd: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
export function torchDefaultBias(
  shape: readonly number[],
  options: RandomInitOptions & { fanIn: number },
): tf.Tensor {
  const bound = options.fanIn > 0 ? 1 / Math.sqrt(options.fanIn) : 0;
  return uniform(shape, { random: options.random, low: -bound, high: bound });
}
