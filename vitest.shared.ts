// Shared vitest settings for every package: tests read sources through the "@mlzoo/source" export
// condition (no build step), and run on the backend named by MLZOO_BACKEND (default: cpu).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const conditions = ['@mlzoo/source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@mlzoo/source'] } },
  test: {
    setupFiles: [fileURLToPath(new URL('./tools/vitest-setup.ts', import.meta.url))],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The JSON report feeds scripts/test-summary.mjs, which prints one 'N passed, N failed' line for CI.
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
    server: {
      deps: { inline: [/@tensorflow\/tfjs-core\/dist\/(register_all_gradients|public\/chained_ops)/] },
    },
  },
});
