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

/**
 * timm's `Mlp`: `fc1 -> act -> drop1 -> norm -> fc2 -> drop2` on the last axis.
 * State dict: `fc1.{weight,bias}`, `norm.{weight,bias}` (only with `normEps`), `fc2.{weight,bias}`.
 */
export class Mlp extends Module implements TensorModule {
  readonly fc1: Linear;
  readonly act: Activation;
  readonly drop1: Dropout;
  readonly norm: LayerNorm | Identity;
  readonly fc2: Linear;
  readonly drop2: Dropout;

  constructor(options: MlpOptions) {
    super();
    const inFeatures = options.inFeatures;
    const hidden = options.hiddenFeatures ?? inFeatures;
    const out = options.outFeatures ?? inFeatures;
    const [bias1, bias2] = pair(options.bias ?? true);
    const [drop1, drop2] = pair(options.dropRate ?? 0);
    const random = options.random;
    this.fc1 = this.addModule('fc1', new Linear({ inFeatures, outFeatures: hidden, bias: bias1, random }));
    this.act = this.addModule('act', new Activation(options.activation ?? 'gelu'));
    this.drop1 = this.addModule('drop1', new Dropout({ probability: drop1, random }));
    this.norm = this.addModule(
      'norm',
      options.normEps != null
        ? new LayerNorm({ normalizedShape: hidden, eps: options.normEps })
        : new Identity(),
    );
    this.fc2 = this.addModule(
      'fc2',
      new Linear({ inFeatures: hidden, outFeatures: out, bias: bias2, random }),
    );
    this.drop2 = this.addModule('drop2', new Dropout({ probability: drop2, random }));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = this.fc1.forward(input);
      x = this.act.forward(x);
      x = this.drop1.forward(x, options);
      x = this.norm.forward(x);
      x = this.fc2.forward(x);
      return this.drop2.forward(x, options);
    });
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
export class GluMlp extends Module implements TensorModule {
  readonly fc1: Linear;
  readonly act: Activation;
  readonly drop1: Dropout;
  readonly norm: LayerNorm | Identity;
  readonly fc2: Linear;
  readonly drop2: Dropout;
  readonly gateLast: boolean;

  constructor(options: GluMlpOptions) {
    super();
    const inFeatures = options.inFeatures;
    const hidden = options.hiddenFeatures ?? inFeatures;
    if (hidden % 2 !== 0) throw new Error(`GluMlp: hiddenFeatures must be even, got ${hidden}`);
    const out = options.outFeatures ?? inFeatures;
    const [bias1, bias2] = pair(options.bias ?? true);
    const [drop1, drop2] = pair(options.dropRate ?? 0);
    const random = options.random;
    this.gateLast = options.gateLast ?? true;
    this.fc1 = this.addModule('fc1', new Linear({ inFeatures, outFeatures: hidden, bias: bias1, random }));
    this.act = this.addModule('act', new Activation(options.activation ?? 'sigmoid'));
    this.drop1 = this.addModule('drop1', new Dropout({ probability: drop1, random }));
    this.norm = this.addModule(
      'norm',
      options.normEps != null
        ? new LayerNorm({ normalizedShape: hidden / 2, eps: options.normEps })
        : new Identity(),
    );
    this.fc2 = this.addModule(
      'fc2',
      new Linear({ inFeatures: hidden / 2, outFeatures: out, bias: bias2, random }),
    );
    this.drop2 = this.addModule('drop2', new Dropout({ probability: drop2, random }));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const hidden = this.fc1.forward(input);
      const [first, second] = tf.split(hidden, 2, hidden.rank - 1);
      let x = this.gateLast
        ? tf.mul(first!, this.act.forward(second!))
        : tf.mul(this.act.forward(first!), second!);
      x = this.drop1.forward(x, options);
      x = this.norm.forward(x);
      x = this.fc2.forward(x);
      return this.drop2.forward(x, options);
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
export class SwiGluMlp extends Module implements TensorModule {
  readonly fc1G: Linear;
  readonly fc1X: Linear;
  readonly act: Activation;
  readonly drop1: Dropout;
  readonly norm: LayerNorm | Identity;
  readonly fc2: Linear;
  readonly drop2: Dropout;

  constructor(options: SwiGluMlpOptions) {
    super();
    const inFeatures = options.inFeatures;
    const hidden = options.hiddenFeatures ?? inFeatures;
    const out = options.outFeatures ?? inFeatures;
    const [bias1, bias2] = pair(options.bias ?? true);
    const [drop1, drop2] = pair(options.dropRate ?? 0);
    const random = options.random;
    this.fc1G = this.addModule('fc1_g', new Linear({ inFeatures, outFeatures: hidden, bias: bias1, random }));
    this.fc1X = this.addModule('fc1_x', new Linear({ inFeatures, outFeatures: hidden, bias: bias1, random }));
    this.act = this.addModule('act', new Activation(options.activation ?? 'silu'));
    this.drop1 = this.addModule('drop1', new Dropout({ probability: drop1, random }));
    this.norm = this.addModule(
      'norm',
      options.normEps != null
        ? new LayerNorm({ normalizedShape: hidden, eps: options.normEps })
        : new Identity(),
    );
    this.fc2 = this.addModule(
      'fc2',
      new Linear({ inFeatures: hidden, outFeatures: out, bias: bias2, random }),
    );
    this.drop2 = this.addModule('drop2', new Dropout({ probability: drop2, random }));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = tf.mul(this.act.forward(this.fc1G.forward(input)), this.fc1X.forward(input));
      x = this.drop1.forward(x, options);
      x = this.norm.forward(x);
      x = this.fc2.forward(x);
      return this.drop2.forward(x, options);
    });
  }
}
