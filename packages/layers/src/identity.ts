// Identity (nn.Identity): a placeholder module that returns its input.
import { Module, type TensorModule } from '@mlzoo/core';
import type * as tf from '@tensorflow/tfjs-core';

/** Returns its input unchanged (`torch.nn.Identity`); holds no state. */
export class Identity extends Module implements TensorModule {
  forward(input: tf.Tensor): tf.Tensor {
    return input;
  }
}
