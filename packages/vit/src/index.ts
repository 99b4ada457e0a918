// @mlzoo/vit: vision transformers. Named exports only; nothing registers on import: call
// `registerVitModels()` (or one family's register function) to make the presets available to
// `createModel` / `listModels`.
export * from './activator.js';
export * from './axial.js';
export * from './convit.js';
export * from './cvt.js';
export * from './evit.js';
export * from './halonet.js';
export * from './minimal-transformer.js';
export * from './refiner.js';
export * from './register.js';
export * from './swin.js';
export * from './vision-transformer.js';
export * from './volo.js';
