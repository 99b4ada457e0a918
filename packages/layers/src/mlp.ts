// timm's MLP blocks: Mlp (ViT/Mixer), GluMlp and SwiGluMlp (timm's `SwiGLU` layer), same names and order.
import { type ForwardOptions, Module, type Random, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { Activation, type ActivationName } from './activations.js';
import { Dropout } from './dropout.js';
import { Identity } from './identity.js';
import { Linear } from './linear.js';
import { LayerNorm } from './normalization.js';

type Pair<T> = T | readonly [T, T];

function pair<T>(value: Pair<T>): [T, T] {
  return Array.isArray(value) ? [value[0], value[1]] : [value as T, value as T];
}

export interface MlpOptions {
  inFeatures: number;
  /** Width after fc1 (default inFeatures). */
  hiddenFeatures?: number;
  /** Width after fc2 (default inFeatures). */
  outFeatures?: number;
  /** Activation after fc1 (default 'gelu', exact erf as timm). */
  activation?: ActivationName;
  /** Add a LayerNorm (`norm`) on the hidden features (timm's `norm_layer`); the number is its eps. */
  normEps?: number;
  /** Bias on fc1 and fc2 (or a pair, default true). */
  bias?: Pair<boolean>;
  /** Dropout after the activation and after fc2 (or a pair, default 0). */
  dropRate?: Pair<number>;
  random?: Random;
}

/** The stages every MLP block here ends with, registered in timm's order after the input projections. */
abstract class MlpStages extends Module implements TensorModule {
  act!: Activation;
  drop1!: Dropout;
  norm!: LayerNorm | Identity;
  fc2!: Linear;
  drop2!: Dropout;

  /** Resolves widths, biases and dropout rates shared by the three blocks. */
  protected static resolve(options: MlpOptions | GluMlpOptions | SwiGluMlpOptions) {
    const inFeatures = options.inFeatures;
    const [inputBias, outputBias] = pair(options.bias ?? true);
    const [hiddenDrop, outputDrop] = pair(options.dropRate ?? 0);
    return {
      inFeatures,
      hidden: options.hiddenFeatures ?? inFeatures,
      out: options.outFeatures ?? inFeatures,
      inputBias,
      outputBias,
      hiddenDrop,
      outputDrop,
      random: options.random,
    };
  }

  /** Registers act, drop1, norm (LayerNorm with `normEps`, else Identity), fc2 and drop2. */
  protected addStages(
    resolved: ReturnType<typeof MlpStages.resolve>,
    activation: ActivationName,
    width: number,
    normEps: number | undefined,
  ): void {
    const { out, outputBias, hiddenDrop, outputDrop, random } = resolved;
    this.act = this.addModule('act', new Activation(activation));
    this.drop1 = this.addModule('drop1', new Dropout({ probability: hiddenDrop, random }));
    this.norm = this.addModule(
      'norm',
      normEps != null ? new LayerNorm({ normalizedShape: width, eps: normEps }) : new Identity(),
    );
    this.fc2 = this.addModule(
      'fc2',
      new Linear({ inFeatures: width, outFeatures: out, bias: outputBias, random }),
    );
    this.drop2 = this.addModule('drop2', new Dropout({ probability: outputDrop, random }));
  }

  /** drop1 -> norm -> fc2 -> drop2 on the hidden features. */
  protected finish(hidden: tf.Tensor, options: ForwardOptions): tf.Tensor {
    const x = this.norm.forward(this.drop1.forward(hidden, options));
    return this.drop2.forward(this.fc2.forward(x), options);
  }

  abstract forward(input: tf.Tensor, options?: ForwardOptions): tf.Tensor;
}

/**
 * timm's `Mlp`: `fc1 -> act -> drop1 -> norm -> fc2 -> drop2` on the last axis.
 * State dict: `fc1.{weight,bias}`, `norm.{weight,bias}` (only with `normEps`), `fc2.{weight,bias}`.
 */
export class Mlp extends MlpStages {
  readonly fc1: Linear;

  constructor(options: MlpOptions) {
    super();
    const resolved = MlpStages.resolve(options);
    const { inFeatures, hidden, inputBias, random } = resolved;
    this.fc1 = this.addModule(
      'fc1',
      new Linear({ inFeatures, outFeatures: hidden, bias: inputBias, random }),
    );
    this.addStages(resolved, options.activation ?? 'gelu', hidden, options.normEps);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.finish(this.act.forward(this.fc1.forward(input)), options));
  }
}

export interface GluMlpOptions extends Omit<MlpOptions, 'activation'> {
  /** Width of fc1's output, split into value and gate halves (timm's hidden_features; must be even). */
  hiddenFeatures?: number;
  /** Activation applied to the gate half (default 'sigmoid': GLU; 'silu' gives SwiGLU). */
  activation?: ActivationName;
  /**
   * Which half of fc1's output is the gate: true (default, timm) = the second half, output
   * `first * act(second)`; false = the first half, `act(first) * second` (timm's `SwiGLUPacked`).
   */
  gateLast?: boolean;
}

/**
 * timm's `GluMlp`: `fc1` (in -> hidden) -> chunk in two halves -> gated product -> drop1 -> norm ->
 * fc2 (hidden / 2 -> out) -> drop2. Note timm's hidden_features counts fc1's output, so the gated
 * width is hidden / 2. State dict: `fc1.*`, `norm.*` (with `normEps`), `fc2.*`.
 */
export class GluMlp extends MlpStages {
  readonly fc1: Linear;
  readonly gateLast: boolean;

  constructor(options: GluMlpOptions) {
    super();
    const resolved = MlpStages.resolve(options);
    const { inFeatures, hidden, inputBias, random } = resolved;
    if (hidden % 2 !== 0) throw new Error(`GluMlp: hiddenFeatures must be even, got ${hidden}`);
    this.gateLast = options.gateLast ?? true;
    this.fc1 = this.addModule(
      'fc1',
      new Linear({ inFeatures, outFeatures: hidden, bias: inputBias, random }),
    );
    this.addStages(resolved, options.activation ?? 'sigmoid', hidden / 2, options.normEps);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const hidden = this.fc1.forward(input);
      const [first, second] = tf.split(hidden, 2, hidden.rank - 1);
      const gated = this.gateLast
        ? tf.mul(first!, this.act.forward(second!))
        : tf.mul(this.act.forward(first!), second!);
      return this.finish(gated, options);
    });
  }
}

export interface SwiGluMlpOptions extends Omit<MlpOptions, 'activation'> {
  /** Width of each of fc1_g and fc1_x (default inFeatures). */
  hiddenFeatures?: number;
  /** Activation of the gate branch (default 'silu'). */
  activation?: ActivationName;
}

/**
 * timm's `SwiGLU` layer (Shazeer 2020, as in LLaMA and EVA-02): two separate input projections,
 * `fc1_g` (the gate) and `fc1_x` (the value); output `fc2(norm(drop1(act(fc1_g(x)) * fc1_x(x))))`.
 * State dict: `fc1_g.*`, `fc1_x.*`, `norm.*` (with `normEps`), `fc2.*`.
 */
export class SwiGluMlp extends MlpStages {
  readonly fc1G: Linear;
  readonly fc1X: Linear;

  constructor(options: SwiGluMlpOptions) {
    super();
    const resolved = MlpStages.resolve(options);
    const { inFeatures, hidden, inputBias, random } = resolved;
    this.fc1G = this.addModule(
      'fc1_g',
      new Linear({ inFeatures, outFeatures: hidden, bias: inputBias, random }),
    );
    this.fc1X = this.addModule(
      'fc1_x',
      new Linear({ inFeatures, outFeatures: hidden, bias: inputBias, random }),
    );
    this.addStages(resolved, options.activation ?? 'silu', hidden, options.normEps);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() =>
      this.finish(tf.mul(this.act.forward(this.fc1G.forward(input)), this.fc1X.forward(input)), options),
    );
  }
}
