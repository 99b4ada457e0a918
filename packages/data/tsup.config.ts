import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  // import.meta.url (the bundled assets' folder) also works in the CommonJS build.
  shims: true,
  target: 'es2022',
  external: [/^@tensorflow\//, /^@mlzoo\//],
});
