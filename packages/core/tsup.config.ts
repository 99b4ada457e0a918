import { libraryConfig } from '../../tools/tsup.library.ts';

// tfjs-core stays external (one engine, a deduplicated peer) except its two registration entry points,
// which are inlined: their extension-less ESM imports cannot load in plain Node, and the inlined copies
// register gradients and chained ops into tfjs's global registries, shared with the user's tfjs-core.
export default libraryConfig(['src/index.ts', 'src/node.ts'], {
  platform: 'neutral',
  splitting: true,
  noExternal: [/@tensorflow\/tfjs-core\/dist\/(register_all_gradients|public\/chained_ops)/],
  esbuildOptions(options) {
    options.mainFields = ['module', 'main'];
  },
});
