// @mlzoo/vit: vision transformers. Named exports only; nothing registers on import: call
// `registerVitModels()` (or one family's register function) to make the presets available to
// `createModel` / `listModels`.
export * from './convit.js';
export * from './register.js';
export * from './swin.js';
