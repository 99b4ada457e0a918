// @mlzoo/optimizers: the package's public API (named exports only; nothing registers on import).
export { LBFGS, type LBFGSOptions } from './lbfgs.js';
