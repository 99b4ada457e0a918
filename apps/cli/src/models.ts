// The models the CLI knows: every model package's register function, called once. Nothing in the
// model packages registers on import; the CLI (an app) opts in here.
import { registerLayersModels } from '@mlzoo/layers';
import { registerMixersModels } from '@mlzoo/mixers';
import { registerVitModels } from '@mlzoo/vit';

/**
 * The model `mlzoo demo` trains. The MLP until a ViT package exists; then `vit_fashion_mnist`-style
 * presets take over by changing this one constant.
 */
export const DEFAULT_MODEL = 'mlp_fashion_mnist';

let registered = false;

/** Registers the models of every package the CLI depends on (idempotent). */
export function registerAllModels(): void {
  if (registered) return;
  registerLayersModels();
  registerVitModels();
  registerMixersModels();
  registered = true;
}
