// SAM(AdamW) and AdamW on mixer_fashion_mnist for a few dozen updates, written for the PyTorch check:
//
//   MLZOO_BACKEND=wasm MLZOO_WASM_THREADS=1 pnpm --filter @mlzoo/optimizers exec vitest run \
//     --config scripts/vitest.config.ts scripts/sam-mixer-trajectory.run.ts
//   /usr/bin/python3 tools/reference/sam_mixer_trajectory.py packages/optimizers/.tmp/sam-mixer-trajectory
//
// Environment: FASHION_MNIST_DIR (default /work/shared/data/fashion-mnist), OUT_DIR (default
// .tmp/sam-mixer-trajectory in this package), SEED (0), STEPS (32), RHO (0.05).
import { it } from 'vitest';
import { runSamMixerTrajectory } from './sam-mixer-trajectory.js';

it('SAM(AdamW) and AdamW trajectories on mixer_fashion_mnist', async () => {
  const environment = process.env;
  const result = await runSamMixerTrajectory({
    directory: environment.FASHION_MNIST_DIR ?? '/work/shared/data/fashion-mnist',
    outDirectory: environment.OUT_DIR ?? '.tmp/sam-mixer-trajectory',
    seed: Number(environment.SEED ?? 0),
    ...(environment.STEPS ? { steps: Number(environment.STEPS) } : {}),
    rho: Number(environment.RHO ?? 0.05),
    log: (line) => console.log(line),
  });
  console.log(JSON.stringify({ losses: result.losses, seconds: result.seconds }));
});
