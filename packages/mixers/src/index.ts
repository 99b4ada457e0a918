// @mlzoo/mixers: MLP-style vision models (token mixing without attention). Named exports only;
// nothing registers on import: call `registerMixersModels()` (or one family's register function)
// to make the presets available to `createModel` / `listModels`.
export * from './gmlp.js';
export * from './mlp-mixer.js';
export * from './raft-mlp.js';
export * from './register.js';
export * from './resmlp.js';
