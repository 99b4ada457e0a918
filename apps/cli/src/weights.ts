// Building registered models and moving their weights in and out of safetensors files, with errors that
// name the file and say what is wrong with it.
import { stat } from 'node:fs/promises';
import {
  createModel,
  decodeCheckpoint,
  getModelInfo,
  listModels,
  type ModelPreset,
  type TensorModule,
} from '@mlzoo/core';
import { loadSafetensorsFile, saveSafetensorsFile } from '@mlzoo/core/node';
import * as tf from '@tensorflow/tfjs-core';
import { isMissingFile, UsageError } from './errors.js';
import { registerAllModels } from './models.js';

/** Metadata `format` of final weights files written by the CLI. */
export const WEIGHTS_FORMAT = 'mlzoo-weights/1';
const CHECKPOINT_FORMAT = 'mlzoo-checkpoint/1';

export interface BuiltModel {
  name: string;
  model: TensorModule;
  /** The preset's config with the overrides applied (what the factory received). */
  config: Record<string, unknown>;
  preset: ModelPreset;
}

/** The preset of a registered model, or a one-line error naming similar models. */
export function modelPreset(name: string): ModelPreset {
  registerAllModels();
  try {
    return getModelInfo(name).preset;
  } catch {
    const known = listModels();
    const family = name.split('_')[0] ?? name;
    // names that start like the request first, then names that contain it
    const similar = [
      ...known.filter((candidate) => candidate.startsWith(family)),
      ...known.filter((candidate) => !candidate.startsWith(family) && candidate.includes(name)),
    ];
    const hint = similar.length > 0 ? `similar: ${similar.slice(0, 6).join(', ')}; ` : '';
    throw new UsageError(`unknown model '${name}' (${hint}${known.length} models: see \`mlzoo info\`)`);
  }
}

/** Builds a registered model with config overrides (undefined values keep the preset's). */
export function buildModel(name: string, overrides: Record<string, unknown> = {}): BuiltModel {
  const preset = modelPreset(name);
  const config: Record<string, unknown> = { ...preset.config };
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) config[key] = value;
  const model = createModel(name, overrides);
  if (typeof (model as unknown as Partial<TensorModule>).forward !== 'function') {
    model.dispose();
    throw new UsageError(`model '${name}' has no forward(input) method; the CLI runs tensor models only`);
  }
  return { name, model: model as unknown as TensorModule, config, preset };
}

/** Config keys the dataset decides (`datasetOverrides`); `--config` may not set them. */
const DATASET_KEYS = ['imgSize', 'inChans', 'numClasses'];

/**
 * Parses `--config` (a JSON object of config overrides, as `createModel(name, overrides)` takes) for model
 * `name`. Keys must be ones the preset's config has, with the same kind of value (number, string,
 * boolean, list), and not the ones the dataset decides; the errors name the key.
 */
export function parseConfigOverrides(name: string, text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--config: not valid JSON (${(error as Error).message}): ${text}`);
  }
  return checkConfigOverrides(name, parsed);
}

/** Checks config overrides for model `name` as `parseConfigOverrides` does; returns them. */
export function checkConfigOverrides(name: string, overrides: unknown): Record<string, unknown> {
  const preset = modelPreset(name).config as Record<string, unknown>;
  if (overrides == null || typeof overrides !== 'object' || Array.isArray(overrides))
    throw new UsageError(
      `--config must be a JSON object such as '{"depth": 4}', got ${JSON.stringify(overrides)}`,
    );
  for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
    if (DATASET_KEYS.includes(key))
      throw new UsageError(`--config: '${key}' comes from the dataset, it cannot be overridden`);
    if (!Object.hasOwn(preset, key)) {
      const keys = Object.keys(preset).filter((known) => !DATASET_KEYS.includes(known));
      throw new UsageError(
        `--config: model '${name}' has no config key '${key}' (its keys: ${keys.join(', ')})`,
      );
    }
    const expected = preset[key];
    const sameKind =
      expected == null ||
      (Array.isArray(expected)
        ? Array.isArray(value)
        : value != null && typeof value === typeof expected && !Array.isArray(value));
    if (!sameKind)
      throw new UsageError(
        `--config: '${key}' of model '${name}' takes a value like ${JSON.stringify(expected)}, got ${JSON.stringify(value)}`,
      );
    for (const number of numbersIn(value))
      if (!Number.isFinite(number)) throw new UsageError(`--config: '${key}' has a non-finite number`);
  }
  return overrides as Record<string, unknown>;
}

/** Writes a model's state dict (PyTorch names and layouts) with the model name and config as metadata. */
export async function saveWeights(
  path: string,
  built: BuiltModel,
  extraMetadata: Record<string, string> = {},
): Promise<void> {
  const state = built.model.stateDict();
  try {
    await saveSafetensorsFile(path, state, {
      ...extraMetadata,
      format: WEIGHTS_FORMAT,
      model: built.name,
      config: JSON.stringify(built.config),
    });
  } finally {
    tf.dispose(Object.values(state));
  }
}

export interface LoadedWeights extends BuiltModel {
  metadata: Record<string, string>;
}

/**
 * Builds the model a weights file was written for and loads the file into it. Accepts final weights
 * (`mlzoo train --out`) and training checkpoints (`--checkpoint`); `expectedModel` must match the
 * file's model name when the file records one.
 */
export async function loadWeights(path: string, expectedModel?: string): Promise<LoadedWeights> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new UsageError(`${path}: not a file`);
  } catch (error) {
    if (isMissingFile(error)) throw new UsageError(`weights file not found: ${path}`);
    throw error;
  }
  let loaded: Awaited<ReturnType<typeof loadSafetensorsFile>>;
  try {
    loaded = await loadSafetensorsFile(path);
  } catch (error) {
    const message = (error as Error).message;
    throw new UsageError(message.startsWith(path) ? message : `${path}: ${message}`);
  }
  let tensors = loaded.tensors;
  let metadata = loaded.metadata;
  try {
    if (metadata.format === CHECKPOINT_FORMAT) {
      const state = decodeCheckpoint(tensors, metadata, path);
      tensors = state.model;
      metadata = state.metadata;
    }
    const recorded = metadata.model;
    if (expectedModel && recorded && recorded !== expectedModel) {
      throw new UsageError(`${path}: holds weights for model '${recorded}', not '${expectedModel}'`);
    }
    const name = expectedModel ?? recorded;
    if (!name) {
      throw new UsageError(`${path}: the file does not record its model; name the model on the command line`);
    }
    let config: Record<string, unknown> = {};
    if (metadata.config != null) {
      try {
        const parsed: unknown = JSON.parse(metadata.config);
        if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed))
          throw new Error('not an object');
        config = parsed as Record<string, unknown>;
      } catch {
        throw new UsageError(`${path}: metadata 'config' is not a JSON object`);
      }
    }
    checkFileConfig(path, name, config, tensors);
    const built = buildModel(name, config);
    try {
      built.model.loadStateDict(tensors);
    } catch (error) {
      built.model.dispose();
      throw new UsageError(`${path}: ${(error as Error).message}`);
    }
    return { ...built, metadata };
  } finally {
    tf.dispose(Object.values(loaded.tensors));
  }
}

function numbersIn(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (Array.isArray(value)) return value.flatMap(numbersIn);
  return [];
}

/**
 * A weights file is untrusted, and its `config` decides how large a model gets built before any
 * shape is checked. Only keys the preset knows are accepted, with the preset's value types, and no
 * number may exceed both the largest tensor dimension in the file and the preset's largest number:
 * a small file cannot make the CLI allocate a huge model.
 */
function checkFileConfig(
  path: string,
  name: string,
  config: Record<string, unknown>,
  tensors: Record<string, tf.Tensor>,
): void {
  const preset = modelPreset(name).config as Record<string, unknown>;
  const largestDimension = Math.max(0, ...Object.values(tensors).flatMap((tensor) => tensor.shape));
  const largestPresetNumber = Math.max(0, ...Object.values(preset).flatMap(numbersIn));
  const bound = Math.max(largestDimension, largestPresetNumber);
  for (const [key, value] of Object.entries(config)) {
    if (!Object.hasOwn(preset, key)) {
      throw new UsageError(`${path}: metadata config has '${key}', which model '${name}' does not take`);
    }
    const expected = preset[key];
    const sameKind =
      value == null ||
      expected == null ||
      (Array.isArray(expected)
        ? Array.isArray(value)
        : typeof value === typeof expected && !Array.isArray(value));
    if (!sameKind) {
      throw new UsageError(
        `${path}: metadata config '${key}' is ${JSON.stringify(value)}, not the kind of value '${name}' takes`,
      );
    }
    for (const number of numbersIn(value)) {
      if (!Number.isFinite(number) || Math.abs(number) > bound) {
        throw new UsageError(
          `${path}: metadata config '${key}' has ${number}, larger than any tensor dimension in the file (${largestDimension}); refusing to build such a model`,
        );
      }
    }
  }
}
