// AdamW versus SAM over AdamW on Fashion-MNIST: test accuracy and the top Hessian eigenvalue of the
// training loss at the end (the sharpness "When Vision Transformers Outperform ResNets..." reports).
// Same model, seeds, epochs, batch size and learning-rate schedule for both; SAM takes the same number
// of updates with two gradient evaluations each.
//
//   MLZOO_BACKEND=wasm pnpm --filter @mlzoo/optimizers exec vitest run --config scripts/vitest.config.ts
//
// Environment: FASHION_MNIST_DIR (default /work/shared/data/fashion-mnist, the four official .gz files),
// EPOCHS (5), SEEDS (comma list, "0"), TRAIN_SIZE (all 60,000), RHO (0.05), HIDDEN ("256,128").
import { crossEntropy, evaluate, manualSeed, Random } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { it } from 'vitest';
// @mlzoo/data and @mlzoo/layers are not dependencies of this package; the script reads them from the
// workspace sources.
import { loadFashionMnist } from '../../data/src/node.js';
import { MlpClassifier } from '../../layers/src/index.js';
import { AdamW, cosineWithWarmup, hessianTopEigenvalue, SAM } from '../src/index.js';

const directory = process.env.FASHION_MNIST_DIR ?? '/work/shared/data/fashion-mnist';
const epochs = Number(process.env.EPOCHS ?? 5);
const seeds = (process.env.SEEDS ?? '0').split(',').map(Number);
const rho = Number(process.env.RHO ?? 0.05);
const hiddenDims = (process.env.HIDDEN ?? '256,128').split(',').map(Number);
const batchSize = 128;
const learningRate = 1e-3;
const weightDecay = 0.05;

it('AdamW vs SAM(AdamW) on Fashion-MNIST', async () => {
  const train = await loadFashionMnist({ split: 'train', source: { directory } });
  const test = await loadFashionMnist({ split: 'test', source: { directory } });
  const trainSize = Number(process.env.TRAIN_SIZE ?? train.images.shape[0]);
  const x = train.images.slice(0, trainSize);
  const y = train.labels.slice(0, trainSize);
  // fixed subset for the Hessian: the first 2,048 training images
  const hessianX = x.slice(0, 2048);
  const hessianY = y.slice(0, 2048);
  const stepsPerEpoch = Math.ceil(trainSize / batchSize);
  const rows: string[] = [];
  console.log(
    `backend ${tf.getBackend()}, ${trainSize} train / ${test.images.shape[0]} test images, MLP ${hiddenDims.join('-')}, ${epochs} epochs, batch ${batchSize}, AdamW lr ${learningRate} (cosine, 1 epoch warmup) wd ${weightDecay}, SAM rho ${rho}`,
  );
  for (const seed of seeds) {
    for (const method of ['adamw', 'sam'] as const) {
      manualSeed(seed);
      const model = new MlpClassifier({
        imgSize: 28,
        inChans: 1,
        numClasses: 10,
        hiddenDims,
        activation: 'gelu',
      });
      const schedule = cosineWithWarmup({
        learningRate,
        totalSteps: epochs * stepsPerEpoch,
        warmupSteps: stepsPerEpoch,
      });
      const base = new AdamW({ learningRate: schedule, weightDecay });
      const optimizer = method === 'sam' ? new SAM({ base, rho }) : base;
      const variables = model.parameters();
      const started = Date.now();
      for (let epoch = 0; epoch < epochs; epoch++) {
        const order = new Random(seed * 1000 + epoch).permutation(trainSize);
        let lossSum = 0;
        for (let step = 0; step < stepsPerEpoch; step++) {
          const indices = tf.tensor1d(order.subarray(step * batchSize, (step + 1) * batchSize), 'int32');
          const batchX = tf.gather(x, indices);
          const batchY = tf.gather(y, indices);
          const loss = optimizer.minimize(
            () => crossEntropy(model.forward(batchX, { training: true }), batchY),
            true,
            variables,
          )!;
          lossSum += loss.dataSync()[0]!;
          tf.dispose([loss, indices, batchX, batchY]);
        }
        console.log(
          `seed ${seed} ${method} epoch ${epoch + 1}: train loss ${(lossSum / stepsPerEpoch).toFixed(4)}`,
        );
      }
      const seconds = (Date.now() - started) / 1000;
      const result = await evaluate(model, { x: test.images, y: test.labels }, { batchSize: 1000 });
      const trainLoss = tf.tidy(() => crossEntropy(model.forward(hessianX), hessianY).dataSync()[0]!);
      const hessian = hessianTopEigenvalue(() => crossEntropy(model.forward(hessianX), hessianY), variables, {
        iterations: 30,
        seed: 0,
      });
      const row = `| ${method === 'sam' ? `SAM(AdamW), rho ${rho}` : 'AdamW'} | ${seed} | ${((result.accuracy ?? 0) * 100).toFixed(2)}% | ${result.loss.toFixed(4)} | ${trainLoss.toFixed(4)} | ${hessian.eigenvalue.toFixed(2)} (${hessian.converged ? 'converged' : 'not converged'} in ${hessian.history.length}) | ${seconds.toFixed(0)} s |`;
      console.log(row);
      rows.push(row);
      optimizer.dispose();
      model.dispose();
    }
  }
  console.log(
    [
      '| optimizer | seed | test accuracy | test loss | train loss (2,048) | Hessian top eigenvalue | train time |',
      '|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
  tf.dispose([train.images, train.labels, test.images, test.labels, x, y, hessianX, hessianY]);
});
