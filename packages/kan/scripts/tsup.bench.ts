// Bundles the benchmark script with this package's sources and @mlzoo/optimizers' sources (the
// '@mlzoo/source' export condition); tfjs and the built @mlzoo/core, layers and data stay external
// (build those first with `pnpm --filter @mlzoo/core --filter @mlzoo/layers --filter @mlzoo/data build`).
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['scripts/benchmarks.ts'],
  outDir: 'dist/bench',
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  clean: false,
  dts: false,
  sourcemap: false,
  noExternal: [/^@mlzoo\/optimizers/],
  external: [/^@tensorflow\//, /^@mlzoo\/(core|layers|data)/, 'pngjs'],
  esbuildOptions(options) {
    options.conditions = ['@mlzoo/source', 'module', 'node'];
  },
});
