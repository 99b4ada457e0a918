// Activations as functions and as modules (GELU exact and tanh, SiLU, ReLU) and the GLU family.
import { Module, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export type GeluApproximate = 'none' | 'tanh';

/**
 * GELU (Hendrycks & Gimpel 2016) as `torch.nn.functional.gelu`: `approximate: 'none'` (default) is the
 * exact `0.5 x (1 + erf(x / sqrt 2))` that timm uses; 'tanh' is
 * `0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))` (Flax's default, BERT/GPT-2).
 */
export function gelu(input: tf.Tensor, approximate: GeluApproximate = 'none'): tf.Tensor {
  return tf.tidy(() => {
    if (approximate === 'tanh') {
      const inner = tf.mul(tf.add(input, tf.mul(tf.pow(input, 3), 0.044715)), Math.sqrt(2 / Math.PI));
      return tf.mul(tf.mul(input, 0.5), tf.add(tf.tanh(inner), 1));
    }
    return tf.mul(tf.mul(input, 0.5), tf.add(tf.erf(tf.mul(input, Math.SQRT1_2)), 1));
  });
}

/** SiLU / swish: `x * sigmoid(x)`. */
export function silu(input: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(input, tf.sigmoid(input)));
}

/** ReLU: `max(x, 0)` (gradient 0 at 0, as PyTorch). */
export function relu(input: tf.Tensor): tf.Tensor {
  return tf.relu(input);
}

/** Names accepted wherever a layer takes an activation. */
export type ActivationName = 'gelu' | 'gelu_tanh' | 'silu' | 'relu' | 'sigmoid' | 'tanh' | 'identity';

/** The function for an activation name (PyTorch semantics). */
export function activationFunction(name: ActivationName): (input: tf.Tensor) => tf.Tensor {
  switch (name) {
    case 'gelu':
      return (input) => gelu(input, 'none');
    case 'gelu_tanh':
      return (input) => gelu(input, 'tanh');
    case 'silu':
      return silu;
    case 'relu':
      return relu;
    case 'sigmoid':
      return (input) => tf.sigmoid(input);
    case 'tanh':
      return (input) => tf.tanh(input);
    case 'identity':
      return (input) => input;
    default:
      throw new Error(`activationFunction: unknown activation '${String(name)}'`);
  }
}

/** `torch.nn.GELU(approximate)`. */
export class GELU extends Module implements TensorModule {
  readonly approximate: GeluApproximate;
  constructor(options: { approximate?: GeluApproximate } = {}) {
    super();
    this.approximate = options.approximate ?? 'none';
    if (this.approximate !== 'none' && this.approximate !== 'tanh') {
      throw new Error(`GELU: approximate must be 'none' or 'tanh', got '${String(this.approximate)}'`);
    }
  }
  forward(input: tf.Tensor): tf.Tensor {
    return gelu(input, this.approximate);
  }
}

/** `torch.nn.SiLU`. */
export class SiLU extends Module implements TensorModule {
  forward(input: tf.Tensor): tf.Tensor {
    return silu(input);
  }
}

/** `torch.nn.ReLU`. */
export class ReLU extends Module implements TensorModule {
  forward(input: tf.Tensor): tf.Tensor {
    return relu(input);
  }
}

/** A module applying a named activation (what `Mlp` and friends hold as `act`). */
export class Activation extends Module implements TensorModule {
  readonly name: ActivationName;
  readonly #apply: (input: tf.Tensor) => tf.Tensor;
  constructor(name: ActivationName) {
    super();
    this.name = name;
    this.#apply = activationFunction(name);
  }
  forward(input: tf.Tensor): tf.Tensor {
    return this.#apply(input);
  }
}

export type GluGate = 'sigmoid' | 'gelu' | 'gelu_tanh' | 'silu' | 'relu';

/**
 * Gated linear unit on the last axis, in `torch.nn.functional.glu`'s order: the input is split in two
 * halves `[value, gate]` and the output is `value * activation(gate)`, half the input width.
 * 'sigmoid' is GLU (Dauphin et al. 2017), 'gelu' GEGLU, 'silu' SwiGLU, 'relu' ReGLU (Shazeer 2020).
 */
export function glu(input: tf.Tensor, gate: GluGate = 'sigmoid'): tf.Tensor {
  const width = input.shape[input.rank - 1]!;
  if (width % 2 !== 0) {
    throw new Error(`glu: the last axis must have even size, got [${input.shape.join(', ')}]`);
  }
  const activate = gate === 'sigmoid' ? (x: tf.Tensor) => tf.sigmoid(x) : activationFunction(gate);
  return tf.tidy(() => {
    const [value, gateInput] = tf.split(input, 2, input.rank - 1);
    return tf.mul(value!, activate(gateInput!));
  });
}

abstract class GatedUnit extends Module implements TensorModule {
  protected abstract readonly gate: GluGate;
  forward(input: tf.Tensor): tf.Tensor {
    if (input.shape[input.rank - 1]! % 2 !== 0) {
      throw new Error(`${this.location}: expected an even last axis, got [${input.shape.join(', ')}]`);
    }
    return glu(input, this.gate);
  }
}

/** GLU: first half of the last axis times sigmoid(second half) (`torch.nn.GLU(dim=-1)`). */
export class GLU extends GatedUnit {
  protected readonly gate = 'sigmoid' as const;
}

/** GEGLU: first half times GELU(second half). `approximate: 'tanh'` uses the tanh GELU. */
export class GEGLU extends GatedUnit {
  protected readonly gate: GluGate;
  constructor(options: { approximate?: GeluApproximate } = {}) {
    super();
    this.gate = options.approximate === 'tanh' ? 'gelu_tanh' : 'gelu';
  }
}

/** SwiGLU: first half times SiLU(second half). */
export class SwiGLU extends GatedUnit {
  protected readonly gate = 'silu' as const;
}

/** ReGLU: first half times ReLU(second half). */
export class ReGLU extends GatedUnit {
  protected readonly gate = 'relu' as const;
}
