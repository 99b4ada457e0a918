// The Hessian's top eigenvalue of saved comparison models again (sam-fashion-mnist.run.ts with
// OUT_WEIGHTS_DIR writes them), e.g. with a shift when a negative eigenvalue has the largest magnitude:
//
//   WEIGHTS=a.safetensors,b.safetensors SHIFT=-600 MODEL_CONFIG='{"patchSize":7,"embedDim":64,"numBlocks":4}' \
//   MLZOO_BACKEND=wasm pnpm --filter @mlzoo/optimizers exec vitest run --config scripts/vitest.config.ts \
//     scripts/sam-hessian.run.ts
//
// Environment: FASHION_MNIST_DIR (default /work/shared/data/fashion-mnist), HESSIAN_SIZE (512),
// HESSIAN_CHUNK_SIZE (128), HESSIAN_ITERATIONS (30), SHIFT (0), OUT_JSON (a file for the results).
import { writeFile } from 'node:fs/promises';
import { crossEntropy } from '@mlzoo/core';
import { loadSafetensorsFile } from '@mlzoo/core/node';
import * as tf from '@tensorflow/tfjs-core';
import { it } from 'vitest';
import { loadFashionMnist } from '../../data/src/node.js';
import { evaluateLoss, hessianTopEigenvalue, lossChunks } from '../src/index.js';
import { buildComparisonModel } from './sam-fashion-mnist.js';

it('Hessian top eigenvalue of saved models', async () => {
  const environment = process.env;
  if (!environment.WEIGHTS) throw new Error('sam-hessian: set WEIGHTS to a comma list of safetensors files');
  const size = Number(environment.HESSIAN_SIZE ?? 512);
  const shift = Number(environment.SHIFT ?? 0);
  const train = await loadFashionMnist({
    split: 'train',
    source: { directory: environment.FASHION_MNIST_DIR ?? '/work/shared/data/fashion-mnist' },
  });
  const images = train.images.slice(0, size);
  const labels = train.labels.slice(0, size);
  tf.dispose([train.images, train.labels]);
  const results: unknown[] = [];
  for (const path of environment.WEIGHTS.split(',')) {
    const model = buildComparisonModel(
      'mixer_fashion_mnist',
      environment.MODEL_CONFIG ? JSON.parse(environment.MODEL_CONFIG) : {},
    );
    const { tensors } = await loadSafetensorsFile(path);
    model.loadStateDict(tensors);
    tf.dispose(Object.values(tensors));
    const loss = lossChunks(images, labels, Number(environment.HESSIAN_CHUNK_SIZE ?? 128), (x, y) =>
      crossEntropy(model.forward(x), y),
    );
    const hessian = hessianTopEigenvalue(loss, model.parameters(), {
      iterations: Number(environment.HESSIAN_ITERATIONS ?? 30),
      seed: 0,
      shift,
    });
    const result = { weights: path, images: size, shift, loss: evaluateLoss(loss), ...hessian };
    console.log(JSON.stringify(result));
    results.push(result);
    model.dispose();
  }
  tf.dispose([images, labels]);
  if (environment.OUT_JSON) await writeFile(environment.OUT_JSON, `${JSON.stringify(results, null, 2)}\n`);
});
