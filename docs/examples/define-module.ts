// Defining a Module: variables are created in the constructor with explicit shapes, under PyTorch's
// names, and forward is a pure tensor function.
import { init, Module, type TensorModule, TRANSPOSED_2D } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

/** y = x W^T + b, stored [in, out] for tfjs, [out, in] in the state dict (as torch.nn.Linear). */
class Affine extends Module implements TensorModule {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    super();
    this.weight = this.addParameter(
      'weight',
      init.torchDefaultWeight([inFeatures, outFeatures], { fanIn: inFeatures, fanOut: outFeatures }),
      { layout: TRANSPOSED_2D },
    );
    this.bias = this.addParameter('bias', init.torchDefaultBias([outFeatures], { fanIn: inFeatures }));
  }

  forward(x: tf.Tensor): tf.Tensor {
    this.checkShape(x, ['B', this.inFeatures]);
    return tf.tidy(() => tf.add(tf.matMul(x, this.weight), this.bias));
  }
}

/** Two layers with a ReLU between them; children get dotted names ('fc1.weight'). */
class TwoLayerNet extends Module implements TensorModule {
  readonly fc1: Affine;
  readonly fc2: Affine;

  constructor(inFeatures: number, hidden: number, outFeatures: number) {
    super();
    this.fc1 = this.addModule('fc1', new Affine(inFeatures, hidden));
    this.fc2 = this.addModule('fc2', new Affine(hidden, outFeatures));
  }

  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(tf.relu(this.fc1.forward(x))));
  }
}

export async function main() {
  const model = new TwoLayerNet(4, 8, 3);
  const names = [...model.namedParameters().keys()]; // ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
  const stateShapes = model.stateDictShapes(); // fc1.weight: [8, 4], PyTorch's [out, in]
  const outputShape = tf.tidy(() => model.forward(tf.ones([2, 4])).shape); // [2, 3]

  let error = '';
  try {
    tf.tidy(() => model.forward(tf.ones([2, 5])));
  } catch (caught) {
    error = (caught as Error).message; // 'fc1: expected input [B, 4], got [2, 5]'
  }

  const numParameters = model.numParameters(); // 4*8 + 8 + 8*3 + 3 = 67
  model.dispose();
  return { names, stateShapes, outputShape, error, numParameters };
}
