// Linear (nn.Linear) with PyTorch's parameter names, layout and default initialisation.
import { init, Module, type Random, type TensorModule, TRANSPOSED_2D } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export interface LinearOptions {
  inFeatures: number;
  outFeatures: number;
  /** Add a learned bias (default true). */
  bias?: boolean;
  /** Generator for the initial values (default: core's default generator). */
  random?: Random;
}

/**
 * `y = x W^T + b` on the last axis of an input of any rank >= 1, as `torch.nn.Linear`.
 *
 * State dict: `weight` [outFeatures, inFeatures] (stored [in, out] for tfjs matMul), `bias` [outFeatures].
 * Initialisation is PyTorch's default (U(-1/sqrt(in), 1/sqrt(in)) for weight and bias).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { Linear } from '@mlzoo/layers';
 *
 * const linear = new Linear({ inFeatures: 4, outFeatures: 2 });
 * const y = linear.forward(tf.ones([3, 5, 4])); // [3, 5, 2]
 * ```
 */
export class Linear extends Module implements TensorModule {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Stored [inFeatures, outFeatures]. */
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;

  constructor(options: LinearOptions) {
    super();
    const { inFeatures, outFeatures } = options;
    if (
      !(Number.isInteger(inFeatures) && inFeatures > 0 && Number.isInteger(outFeatures) && outFeatures > 0)
    ) {
      throw new Error(
        `Linear: inFeatures and outFeatures must be positive integers, got ${inFeatures}, ${outFeatures}`,
      );
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const random = options.random;
    this.weight = this.addParameter(
      'weight',
      init.torchDefaultWeight([inFeatures, outFeatures], { fanIn: inFeatures, fanOut: outFeatures, random }),
      { layout: TRANSPOSED_2D },
    );
    this.bias =
      (options.bias ?? true)
        ? this.addParameter('bias', init.torchDefaultBias([outFeatures], { fanIn: inFeatures, random }))
        : null;
  }

  forward(input: tf.Tensor): tf.Tensor {
    const shape = input.shape;
    if (shape.length === 0 || shape[shape.length - 1] !== this.inFeatures) {
      throw new Error(
        `${this.location}: expected input [..., ${this.inFeatures}], got [${shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => {
      const flat = shape.length === 2 ? input : tf.reshape(input, [-1, this.inFeatures]);
      // bias fused into the product (one XNNPACK call on wasm instead of a product and an add)
      const output: tf.Tensor = this.bias
        ? tf.fused.matMul({ a: flat as tf.Tensor2D, b: this.weight as tf.Tensor2D, bias: this.bias })
        : tf.matMul(flat as tf.Tensor2D, this.weight as tf.Tensor2D);
      return shape.length === 2 ? output : tf.reshape(output, [...shape.slice(0, -1), this.outFeatures]);
    });
  }
}
