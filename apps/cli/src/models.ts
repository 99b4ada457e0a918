// The models the CLI knows: every model package's register function, called once. Nothing in the
// model packages registers on import; the CLI (an app) opts in here.
import { registerConvKanModels, registerKanModels } from '@mlzoo/kan';
import { registerLayersModels } from '@mlzoo/layers';
import { registerMixersModels } from '@mlzoo/mixers';
import { registerVitModels } from '@mlzoo/vit';

/**
 * The model `mlzoo demo` trains. Still the MLP: `vit_fashion_mnist` exists but trains at ~16 images/s
 * on wasm today (measured 2026-11-22), too slow for a demo; the speed work on wasm decides when a
 * transformer takes over, by changing this one constant.
 */
export const DEFAULT_MODEL = 'mlp_fashion_mnist';

let registered = false;

/** Registers the models of every package the CLI depends on (idempotent). */
export function registerAllModels(): void {
  if (registered) return;
  registerLayersModels();
  registerVitModels();
  registerMixersModels();
  registerKanModels();
  registerConvKanModels();
  registered = true;
}
