// `mlzoo info [model]`: registered models with their presets' parameter counts (with --verify, each
// checked by building the model), or one model's config and state-dict keys and shapes (built).
import { listModels } from '@mlzoo/core';
import { selectBackend } from '../backend.js';
import { UsageError } from '../errors.js';
import { registerAllModels } from '../models.js';
import { formatCount, formatTable, type Output } from '../output.js';
import { buildModel, modelPreset } from '../weights.js';

export interface ModelSummary {
  name: string;
  /** The preset's parameter count. */
  numParameters: number;
  /** Counted on a freshly built model (absent when the list was not verified). */
  builtParameters?: number;
  /** True when the two counts agree (absent when the list was not verified). */
  matches?: boolean;
  description?: string;
  packageName?: string;
}

export interface ModelDetails extends ModelSummary {
  config: Record<string, unknown>;
  paper?: string;
  source?: string;
  stateDict: Array<{ name: string; shape: number[]; size: number }>;
}

export interface InfoResult {
  models: ModelSummary[] | ModelDetails[];
  /** Models whose built parameter count differs from the preset's. */
  mismatches: string[];
}

function summarize(name: string): { summary: ModelSummary; details: () => ModelDetails } {
  const built = buildModel(name);
  try {
    const builtParameters = built.model.numParameters();
    const summary: ModelSummary = {
      name,
      numParameters: built.preset.numParameters,
      builtParameters,
      matches: builtParameters === built.preset.numParameters,
      ...(built.preset.description ? { description: built.preset.description } : {}),
      ...(built.preset.packageName ? { packageName: built.preset.packageName } : {}),
    };
    const shapes = built.model.stateDictShapes();
    const details: ModelDetails = {
      ...summary,
      config: built.config,
      ...(built.preset.paper ? { paper: built.preset.paper } : {}),
      ...(built.preset.source ? { source: built.preset.source } : {}),
      stateDict: Object.entries(shapes).map(([key, shape]) => ({
        name: key,
        shape,
        size: shape.reduce((product, dimension) => product * dimension, 1),
      })),
    };
    return { summary, details: () => details };
  } finally {
    built.model.dispose();
  }
}

export interface InfoOptions {
  /** Backend the models are built on (default: $MLZOO_BACKEND or auto). */
  backend?: string;
  /** List only the models matching this glob ('*' wildcards), e.g. 'vit_*'. */
  filter?: string;
  /** Build every listed model and check its parameter count against the preset's. */
  verify?: boolean;
}

function presetSummary(name: string): ModelSummary {
  const preset = modelPreset(name);
  return {
    name,
    numParameters: preset.numParameters,
    ...(preset.description ? { description: preset.description } : {}),
    ...(preset.packageName ? { packageName: preset.packageName } : {}),
  };
}

export async function info(
  modelName: string | undefined,
  output: Output,
  options: InfoOptions = {},
): Promise<InfoResult> {
  registerAllModels();
  if (modelName) modelPreset(modelName);
  await selectBackend(options.backend);
  if (modelName) {
    const { details } = summarize(modelName);
    const model = details();
    const result: InfoResult = { models: [model], mismatches: model.matches ? [] : [model.name] };
    output.line(`${model.name}${model.packageName ? ` (${model.packageName})` : ''}`);
    if (model.description) output.line(model.description);
    if (model.paper) output.line(`paper: ${model.paper}`);
    if (model.source) output.line(`source: ${model.source}`);
    output.line(
      `parameters: ${formatCount(model.numParameters)} (preset), ${formatCount(model.builtParameters ?? 0)} (built)` +
        (model.matches ? '' : '  MISMATCH'),
    );
    output.line(`config: ${JSON.stringify(model.config)}`);
    output.line('state dict:');
    output.line(
      formatTable(
        model.stateDict.map((entry) => [
          `  ${entry.name}`,
          `[${entry.shape.join(', ')}]`,
          formatCount(entry.size),
        ]),
        [false, false, true],
      ),
    );
    output.result(result);
    return result;
  }
  const names = listModels(options.filter);
  if (names.length === 0) throw new UsageError(`no registered model matches '${options.filter}'`);
  // building every preset (some have ~90M parameters) takes a while: only when asked
  const models = names.map((name) => (options.verify ? summarize(name).summary : presetSummary(name)));
  const mismatches = models.filter((model) => model.matches === false).map((model) => model.name);
  const rows = [
    ['model', 'parameters', ...(options.verify ? ['built'] : []), 'package', 'description'],
    ...models.map((model) => [
      model.name,
      formatCount(model.numParameters),
      ...(options.verify
        ? [model.matches ? 'ok' : `${formatCount(model.builtParameters ?? 0)} MISMATCH`]
        : []),
      model.packageName ?? '',
      model.description ?? '',
    ]),
  ];
  output.line(formatTable(rows, [false, true, ...(options.verify ? [false] : []), false, false]));
  if (mismatches.length > 0) {
    output.warn(`built parameter count differs from the preset for: ${mismatches.join(', ')}`);
  }
  const result: InfoResult = { models, mismatches };
  output.result(result);
  return result;
}
