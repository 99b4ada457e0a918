import { libraryConfig } from '../../tools/tsup.library.ts';

// Node build: tfjs-core stays external (one engine, a deduplicated peer) except its two registration
// entry points, which are inlined: their extension-less ESM imports cannot load in plain Node, and the
// inlined copies register gradients and chained ops into tfjs's global registries, shared with the
// user's tfjs-core.
const node = libraryConfig(['src/index.ts', 'src/node.ts'], {
  platform: 'neutral',
  splitting: true,
  // both builds share dist/: the package's build script empties it once, before either runs
  clean: false,
  noExternal: [/@tensorflow\/tfjs-core\/dist\/(register_all_gradients|public\/chained_ops)/],
  // import.meta.url (wasm-threads.ts resolves the wasm package's files from it) in the CJS build too
  shims: true,
  esbuildOptions(options) {
    options.mainFields = ['module', 'main'];
  },
});

// Browser build (the "browser" export condition): bundlers resolve tfjs-core's ESM registration files
// themselves, so nothing of tfjs is inlined and the user's bundle holds one copy of its code.
const browser = libraryConfig(['src/index.ts'], {
  outDir: 'dist/browser',
  format: ['esm'],
  dts: false,
  clean: false,
  platform: 'browser',
});

export default [node, browser];
