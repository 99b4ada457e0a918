// AdamW vs SAM(AdamW) on Fashion-MNIST under vitest (the measurement lives in sam-fashion-mnist.ts):
//
//   MLZOO_BACKEND=wasm pnpm --filter @mlzoo/optimizers exec vitest run --config scripts/vitest.config.ts
//
// Environment: FASHION_MNIST_DIR (default /work/shared/data/fashion-mnist, the four official .gz files),
// MODEL (mixer_fashion_mnist or mlp_256_128, default mlp_256_128), EPOCHS (5), SEEDS (comma list, "0"),
// TRAIN_SIZE (all 60,000), TEST_SIZE (all 10,000), BATCH_SIZE (64), LR (0.001), WARMUP_EPOCHS (1),
// WEIGHT_DECAY (0.05), RHO (0.05), HESSIAN_SIZE (1,024), HESSIAN_CHUNK_SIZE (128), HESSIAN_ITERATIONS
// (20), MODEL_CONFIG (JSON overrides of the Mixer preset), METHODS ("adamw,sam"), OUT_JSON (a file
// for the results as a JSON array), OUT_WEIGHTS_DIR (a folder for each trained state dict).
import { writeFile } from 'node:fs/promises';
import { it } from 'vitest';
import { runSamComparison, type SamModelName, samResultRow } from './sam-fashion-mnist.js';

it('AdamW vs SAM(AdamW) on Fashion-MNIST', async () => {
  const environment = process.env;
  const rows: string[] = [];
  const results: unknown[] = [];
  const methods = (environment.METHODS ?? 'adamw,sam').split(',') as ('adamw' | 'sam')[];
  for (const seed of (environment.SEEDS ?? '0').split(',').map(Number)) {
    for (const method of methods) {
      const result = await runSamComparison({
        directory: environment.FASHION_MNIST_DIR ?? '/work/shared/data/fashion-mnist',
        model: (environment.MODEL ?? 'mlp_256_128') as SamModelName,
        ...(environment.MODEL_CONFIG ? { modelConfig: JSON.parse(environment.MODEL_CONFIG) } : {}),
        method,
        seed,
        epochs: Number(environment.EPOCHS ?? 5),
        ...(environment.TRAIN_SIZE ? { trainSize: Number(environment.TRAIN_SIZE) } : {}),
        ...(environment.TEST_SIZE ? { testSize: Number(environment.TEST_SIZE) } : {}),
        batchSize: Number(environment.BATCH_SIZE ?? 64),
        learningRate: Number(environment.LR ?? 1e-3),
        warmupEpochs: Number(environment.WARMUP_EPOCHS ?? 1),
        weightDecay: Number(environment.WEIGHT_DECAY ?? 0.05),
        rho: Number(environment.RHO ?? 0.05),
        hessianSize: Number(environment.HESSIAN_SIZE ?? 1024),
        hessianChunkSize: Number(environment.HESSIAN_CHUNK_SIZE ?? 128),
        hessianIterations: Number(environment.HESSIAN_ITERATIONS ?? 20),
        ...(environment.OUT_WEIGHTS_DIR
          ? {
              weightsPath: `${environment.OUT_WEIGHTS_DIR}/${environment.MODEL ?? 'mlp_256_128'}-${method}${method === 'sam' ? `-rho${environment.RHO ?? 0.05}` : ''}-seed${seed}.safetensors`,
            }
          : {}),
        log: (line) => console.log(line),
      });
      console.log(JSON.stringify(result));
      rows.push(samResultRow(result));
      results.push(result);
      if (environment.OUT_JSON)
        await writeFile(environment.OUT_JSON, `${JSON.stringify(results, null, 2)}\n`);
    }
  }
  console.log(
    [
      '| optimizer | seed | test accuracy | test loss | train loss (Hessian subset) | Hessian top eigenvalue | train time |',
      '|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
});
