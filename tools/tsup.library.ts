// The build every published @mlzoo library shares: ESM + CJS + .d.ts, ES2022, with tfjs, the other
// @mlzoo packages and node: built-ins external (one tfjs engine, deduplicated peers).
import { defineConfig, type Options } from 'tsup';

export function libraryConfig(entry: string[], overrides: Options = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    ...overrides,
    external: [/^@tensorflow\//, /^@mlzoo\//, /^node:/, ...(overrides.external ?? [])],
  });
}
