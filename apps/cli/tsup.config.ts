import { defineConfig } from 'tsup';

// An app, not a library: one ESM file per entry with a shebang. The mlzoo packages, tfjs and the CLI
// libraries stay external (installed dependencies), so there is exactly one tfjs-core in the process.
export default defineConfig({
  entry: { cli: 'src/cli.ts', bench: 'src/bench.ts' },
  format: ['esm'],
  dts: false,
  sourcemap: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  splitting: true,
  banner: { js: '#!/usr/bin/env node' },
  external: [/^@tensorflow\//, /^@mlzoo\//, 'commander', 'cli-progress'],
});
