// tfjs-core's package entry registers no gradients and no chained ops (x.add(...)) in Node. Importing
// its two registration files fixes that. The Node build inlines them (see tsup.config.ts) so that plain
// Node ESM and CJS can load them, while tfjs-core itself stays one deduplicated peer: the inlined code
// registers into tfjs's global registries, which the user's own tfjs-core shares. The browser build
// leaves these imports to the user's bundler, which resolves tfjs-core's ESM files directly.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js';

/** True once tfjs gradients and chained ops are registered (always, after importing @mlzoo/core). */
export const tfjsRegistered = true;
