// Opt-in registration of every @mlzoo/vit preset with core's model registry.
import { registerConvitModels } from './convit.js';
import { registerSwinModels } from './swin.js';

/** Registers every preset of every architecture in @mlzoo/vit (idempotent). */
export function registerVitModels(): void {
  registerConvitModels();
  registerSwinModels();
}
