// @mlzoo/kan: the package's public API (named exports only; nothing registers on import).
export {};
