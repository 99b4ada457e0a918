// Dropout and DropPath (stochastic depth) with seeded, backend-independent masks.
import { defaultRandom, type ForwardOptions, Module, type Random, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

function checkProbability(probability: number, where: string): void {
  if (!(probability >= 0 && probability <= 1)) {
    throw new Error(`${where}: probability must be in [0, 1], got ${probability}`);
  }
}

/**
 * Keep mask of `shape` with P(1) = 1 - probability. Values come from `tf.randomUniform` seeded from
 * `random`, which tfjs-core computes in JavaScript, so the same seed gives the same mask on every backend.
 */
function keepMask(shape: number[], probability: number, random: Random): tf.Tensor {
  return tf.cast(
    tf.greaterEqual(tf.randomUniform(shape, 0, 1, 'float32', random.nextSeed()), probability),
    'float32',
  );
}

/**
 * Functional dropout: in training zeroes each element with `probability` and scales the rest by
 * 1 / (1 - probability) (`torch.nn.functional.dropout`); identity otherwise.
 */
export function dropout(
  input: tf.Tensor,
  probability: number,
  options: ForwardOptions & { random?: Random } = {},
): tf.Tensor {
  checkProbability(probability, 'dropout');
  if (!options.training || probability === 0) return input;
  if (probability === 1) return tf.zerosLike(input);
  const random = options.random ?? defaultRandom();
  return tf.tidy(() =>
    tf.mul(input, tf.mul(keepMask(input.shape, probability, random), 1 / (1 - probability))),
  );
}

/**
 * Functional drop path (stochastic depth, timm's `drop_path`): in training zeroes whole samples (the
 * first axis) with `probability`; with `scaleByKeep` (default true) the kept samples are divided by
 * the keep probability.
 */
export function dropPath(
  input: tf.Tensor,
  probability: number,
  options: ForwardOptions & { random?: Random; scaleByKeep?: boolean } = {},
): tf.Tensor {
  checkProbability(probability, 'dropPath');
  if (!options.training || probability === 0) return input;
  const random = options.random ?? defaultRandom();
  const keep = 1 - probability;
  return tf.tidy(() => {
    const shape = [input.shape[0]!, ...input.shape.slice(1).map(() => 1)];
    let mask = keepMask(shape, probability, random);
    if (keep > 0 && (options.scaleByKeep ?? true)) mask = tf.div(mask, keep);
    return tf.mul(input, mask);
  });
}

export interface DropoutOptions {
  /** Probability of zeroing an element (PyTorch's `p`, default 0.5). */
  probability?: number;
  /** Generator for the masks (default: core's default generator, see `manualSeed`). */
  random?: Random;
}

/** `torch.nn.Dropout`: active only with `{training: true}`. Masks are reproducible through `random`. */
export class Dropout extends Module implements TensorModule {
  readonly probability: number;
  readonly #random: Random | undefined;

  constructor(options: DropoutOptions = {}) {
    super();
    this.probability = options.probability ?? 0.5;
    checkProbability(this.probability, 'Dropout');
    this.#random = options.random;
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return dropout(input, this.probability, { training: options.training, random: this.#random });
  }
}

export interface DropPathOptions {
  /** Probability of dropping a sample's residual branch (default 0). */
  probability?: number;
  /** Divide kept samples by the keep probability (default true, as timm). */
  scaleByKeep?: boolean;
  random?: Random;
}

/** timm's `DropPath` (stochastic depth, Huang et al. 2016): drops whole samples in training. */
export class DropPath extends Module implements TensorModule {
  readonly probability: number;
  readonly scaleByKeep: boolean;
  readonly #random: Random | undefined;

  constructor(options: DropPathOptions = {}) {
    super();
    this.probability = options.probability ?? 0;
    checkProbability(this.probability, 'DropPath');
    this.scaleByKeep = options.scaleByKeep ?? true;
    this.#random = options.random;
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return dropPath(input, this.probability, {
      training: options.training,
      random: this.#random,
      scaleByKeep: this.scaleByKeep,
    });
  }
}
