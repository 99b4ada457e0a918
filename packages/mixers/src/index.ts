// @mlzoo/mixers: MLP-style vision models (token mixing without attention). Named exports only; nothing registers on import: call
// `registerMixersModels()` (or one family's register function) to make the presets available to
// `createModel` / `listModels`.
export * from './deep-mlp.js';
export * from './dynamic-spectrum-mixer.js';
export * from './gmlp.js';
export * from './hourglass-mlp.js';
export * from './maxim.js';
export * from './metamixer.js';
export * from './mlp-mixer.js';
export * from './ms-mlp.js';
export * from './raft-mlp.js';
export * from './register.js';
export * from './resmlp.js';
export * from './strip-mlp.js';
