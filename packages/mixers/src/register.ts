// Opt-in registration of every @mlzoo/mixers preset with core's model registry.
import { registerDeepMlpModels } from './deep-mlp.js';
import { registerDynamicSpectrumMixerModels } from './dynamic-spectrum-mixer.js';
import { registerGMlpModels } from './gmlp.js';
import { registerHourglassMlpModels } from './hourglass-mlp.js';
import { registerMaximModels } from './maxim.js';
import { registerMetaMixerModels } from './metamixer.js';
import { registerMlpMixerModels } from './mlp-mixer.js';
import { registerMsMlpModels } from './ms-mlp.js';
import { registerRaftMlpModels } from './raft-mlp.js';
import { registerResMlpModels } from './resmlp.js';
import { registerStripMlpModels } from './strip-mlp.js';

/** Registers every preset of every architecture in @mlzoo/mixers (idempotent). */
export function registerMixersModels(): void {
  registerDeepMlpModels();
  registerDynamicSpectrumMixerModels();
  registerGMlpModels();
  registerHourglassMlpModels();
  registerMaximModels();
  registerMetaMixerModels();
  registerMlpMixerModels();
  registerMsMlpModels();
  registerRaftMlpModels();
  registerResMlpModels();
  registerStripMlpModels();
}
