// Train an MLP on Fashion-MNIST: the subset bundled with @mlzoo/data (2,000 training and 500 test
// images of the official files) loads without a download.
import { evaluate, fit, manualSeed, setBackend } from '@mlzoo/core';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD, normalize } from '@mlzoo/data';
import { loadFashionMnist } from '@mlzoo/data/node';
import { MlpClassifier } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export async function main() {
  await setBackend('auto'); // webgpu, tfjs-node, wasm or cpu: the fastest installed, and says which
  const train = await loadFashionMnist({ split: 'train' }); // images [2000, 28, 28, 1] in [0, 1]
  const test = await loadFashionMnist({ split: 'test' }); // [500, 28, 28, 1]; source: 'system' for all 70,000
  const trainImages = normalize(train.images, FASHION_MNIST_MEAN, FASHION_MNIST_STD);
  const testImages = normalize(test.images, FASHION_MNIST_MEAN, FASHION_MNIST_STD);

  manualSeed(0);
  const model = new MlpClassifier({ imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [32] });
  const optimizer = tf.train.adam(1e-3);
  const { history } = await fit(
    model,
    { x: trainImages, y: train.labels },
    {
      optimizer,
      epochs: 3,
      batchSize: 100,
      seed: 0,
    },
  );
  const { accuracy, topK } = await evaluate(model, { x: testImages, y: test.labels });

  // Predict one image: class name of the largest logit.
  const predicted = tf.tidy(
    () =>
      model
        .forward(tf.slice(testImages, 0, 1))
        .argMax(-1)
        .dataSync()[0]!,
  );
  const prediction = {
    predicted: train.classNames[predicted],
    actual: test.classNames[test.labels.dataSync()[0]!],
  };

  tf.dispose([train.images, train.labels, test.images, test.labels, trainImages, testImages]);
  model.dispose();
  optimizer.dispose(); // optimizers hold their moment estimates as variables
  return { losses: history.map((epoch) => epoch.loss), accuracy, top5: topK?.[5], prediction };
}
