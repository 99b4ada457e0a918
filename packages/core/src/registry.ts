// Create-by-name registry (timm's create_model). It costs nothing unless used: nothing registers on
// import; architecture packages export a `register...Models()` function (or a /registry subpath)
// that the user or the CLI calls.
import type { Module } from './module.js';

export interface ModelPreset<Config extends object = Record<string, unknown>> {
  /** The architecture's config for this preset (timm keyword names in camelCase). */
  config: Config;
  /** Exact number of parameters of this preset with its default config. */
  numParameters: number;
  description?: string;
  /** Paper the architecture comes from (title or arXiv id). */
  paper?: string;
  /** Where the configuration (and weights, if any) come from. */
  source?: string;
  /** Package that registered it, e.g. '@mlzoo/vit'. */
  packageName?: string;
}

export type ModelFactory<Config extends object = Record<string, unknown>, M extends Module = Module> = (
  config: Config,
) => M;

export interface ModelInfo<Config extends object = Record<string, unknown>> {
  name: string;
  preset: ModelPreset<Config>;
}

interface RegistryEntry {
  factory: ModelFactory<Record<string, unknown>>;
  preset: ModelPreset<Record<string, unknown>>;
}

const registry = new Map<string, RegistryEntry>();

const MODEL_NAME = /^[a-z0-9][a-z0-9_.-]*$/;

/**
 * Registers a model under a timm-style name. Registering the same name with the same factory is a
 * no-op; with another factory it throws (two packages claiming one name).
 */
export function registerModel<Config extends object, M extends Module>(
  name: string,
  factory: ModelFactory<Config, M>,
  preset: ModelPreset<Config>,
): void {
  if (!MODEL_NAME.test(name)) {
    throw new Error(`registerModel: invalid name '${name}' (lower-case letters, digits, '_', '.', '-')`);
  }
  if (!Number.isInteger(preset.numParameters) || preset.numParameters < 0) {
    throw new Error(`registerModel('${name}'): preset.numParameters must be a non-negative integer`);
  }
  const existing = registry.get(name);
  if (existing && existing.factory !== (factory as unknown)) {
    throw new Error(`registerModel: '${name}' is already registered by another factory`);
  }
  registry.set(name, {
    factory: factory as unknown as ModelFactory<Record<string, unknown>>,
    preset: preset as unknown as ModelPreset<Record<string, unknown>>,
  });
}

/** Removes a registration (for tests and plugin hosts). */
export function unregisterModel(name: string): boolean {
  return registry.delete(name);
}

function toMatcher(filter: string | RegExp | ((info: ModelInfo) => boolean) | undefined) {
  if (filter == null) return () => true;
  if (typeof filter === 'function') return filter;
  if (filter instanceof RegExp) return (info: ModelInfo) => filter.test(info.name);
  const pattern = new RegExp(`^${filter.split('*').map(escapeRegExp).join('.*')}$`);
  return (info: ModelInfo) => pattern.test(info.name);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Names of registered models, sorted. `filter` is a wildcard pattern ('vit_*'), a RegExp or a
 * predicate over {@link ModelInfo}.
 */
export function listModels(filter?: string | RegExp | ((info: ModelInfo) => boolean)): string[] {
  const matches = toMatcher(filter);
  return [...registry.entries()]
    .filter(([name, entry]) => matches({ name, preset: entry.preset }))
    .map(([name]) => name)
    .sort();
}

/** The preset registered under `name`. */
export function getModelInfo(name: string): ModelInfo {
  const entry = registry.get(name);
  if (!entry) throw new Error(unknownModelMessage(name));
  return { name, preset: entry.preset };
}

/**
 * Builds a registered model; `overrides` replace preset config fields (undefined values are ignored,
 * as timm drops None kwargs).
 *
 * @example
 * ```ts
 * const model = createModel('mlp_fashion_mnist', { numClasses: 5 });
 * ```
 */
export function createModel<M extends Module = Module>(
  name: string,
  overrides: Record<string, unknown> = {},
): M {
  const entry = registry.get(name);
  if (!entry) throw new Error(unknownModelMessage(name));
  const config: Record<string, unknown> = { ...entry.preset.config };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) config[key] = value;
  }
  return entry.factory(config) as M;
}

function unknownModelMessage(name: string): string {
  const known = [...registry.keys()].sort();
  const close = known.filter(
    (candidate) => candidate.includes(name) || name.includes(candidate.split('_')[0] ?? ''),
  );
  const hint = close.length > 0 ? `; similar: ${close.slice(0, 5).join(', ')}` : '';
  return known.length === 0
    ? `createModel: unknown model '${name}' (no models registered: call a package's register function first, e.g. registerLayersModels())`
    : `createModel: unknown model '${name}'${hint} (${known.length} registered; see listModels())`;
}
