// Opt-in registration of every @mlzoo/mixers preset with core's model registry.
import { registerGMlpModels } from './gmlp.js';
import { registerMlpMixerModels } from './mlp-mixer.js';
import { registerRaftMlpModels } from './raft-mlp.js';
import { registerResMlpModels } from './resmlp.js';

/** Registers every preset of every architecture in @mlzoo/mixers (idempotent). */
export function registerMixersModels(): void {
  registerMlpMixerModels();
  registerResMlpModels();
  registerGMlpModels();
  registerRaftMlpModels();
}
