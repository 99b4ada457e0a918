// Runs the measurement scripts in this folder (not part of the test suite):
//   MLZOO_BACKEND=wasm pnpm --filter @mlzoo/optimizers exec vitest run --config scripts/vitest.config.ts
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../../vitest.shared.ts';

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      include: ['scripts/*.run.ts'],
      testTimeout: 3 * 60 * 60 * 1000,
      reporters: ['default'],
    },
  }),
);
