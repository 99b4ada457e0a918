// Opt-in registration of every @mlzoo/vit preset with core's model registry.
import { registerActivatorModels } from './activator.js';
import { registerAxialModels } from './axial.js';
import { registerConvitModels } from './convit.js';
import { registerCvtModels } from './cvt.js';
import { registerEvitModels } from './evit.js';
import { registerHaloNetModels } from './halonet.js';
import { registerMinimalTransformerModels } from './minimal-transformer.js';
import { registerRefinerModels } from './refiner.js';
import { registerSwinModels } from './swin.js';
import { registerVisionTransformerModels } from './vision-transformer.js';
import { registerVoloModels } from './volo.js';

/** Registers every preset of every architecture in @mlzoo/vit (idempotent). */
export function registerVitModels(): void {
  registerActivatorModels();
  registerAxialModels();
  registerConvitModels();
  registerCvtModels();
  registerEvitModels();
  registerHaloNetModels();
  registerMinimalTransformerModels();
  registerRefinerModels();
  registerSwinModels();
  registerVisionTransformerModels();
  registerVoloModels();
}
