// Golden fixtures: safetensors files written from PyTorch by the scripts in tools/fixtures (shared
// Python helpers in tools/fixtures/golden.py), read here and compared with an mlzoo module: output,
// input gradient, every parameter gradient, buffers after a training step. Node-only (reads files).
//
// A fixture holds `params.<name>` (PyTorch layouts), `input`, `output` and optionally `cotangent`,
// `grad.input`, `grad.params.<name>` and `state_after.<name>`; metadata `layer`, `options` (JSON of
// the mlzoo constructor options) and `forward` (JSON of the forward options).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensorsWithMetadata, type Module } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

export interface Fixture {
  name: string;
  tensors: Record<string, tf.Tensor>;
  layer: string;
  options: Record<string, unknown>;
  forwardOptions: Record<string, unknown>;
  /** Tensors under `prefix.` with the prefix removed (e.g. 'params'). */
  group(prefix: string): Record<string, tf.Tensor>;
  dispose(): void;
}

/** Names of the `.safetensors` fixtures in `folder` (a directory URL or path), sorted. */
export function fixtureNames(folder: URL | string): string[] {
  return readdirSync(folder)
    .filter((file) => file.endsWith('.safetensors'))
    .map((file) => file.slice(0, -'.safetensors'.length))
    .sort();
}

/** Reads `<folder>/<name>.safetensors`. */
export function loadFixture(folder: URL | string, name: string): Fixture {
  const bytes = readFileSync(
    typeof folder === 'string' ? join(folder, `${name}.safetensors`) : new URL(`${name}.safetensors`, folder),
  );
  const { tensors, metadata } = decodeSafetensorsWithMetadata(new Uint8Array(bytes));
  return {
    name,
    tensors,
    layer: metadata.layer ?? '',
    options: JSON.parse(metadata.options ?? '{}') as Record<string, unknown>,
    forwardOptions: JSON.parse(metadata.forward ?? '{}') as Record<string, unknown>,
    group(prefix: string) {
      const result: Record<string, tf.Tensor> = {};
      for (const [key, value] of Object.entries(tensors)) {
        if (key.startsWith(`${prefix}.`)) result[key.slice(prefix.length + 1)] = value;
      }
      return result;
    },
    dispose() {
      tf.dispose(Object.values(tensors));
    },
  };
}

type Values = ArrayLike<number>;

function assertClose(
  actual: { shape: number[]; values: Values },
  expected: { shape: number[]; values: Values },
  tolerance: number,
  what: string,
): void {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  const a = actual.values;
  const b = expected.values;
  let worst = 0;
  let worstIndex = -1;
  for (let index = 0; index < b.length; index++) {
    const excess = Math.abs(a[index]! - b[index]!) / (1 + Math.abs(b[index]!));
    if (!(excess <= worst)) {
      worst = excess;
      worstIndex = index;
    }
  }
  expect(
    worst,
    `${what}: element ${worstIndex} is ${a[worstIndex]}, expected ${b[worstIndex]} (tolerance ${tolerance})`,
  ).toBeLessThanOrEqual(tolerance);
}

function readSync(tensor: tf.Tensor, what: string): Values {
  try {
    return tensor.dataSync();
  } catch (error) {
    throw new Error(
      `${what}: the ${tf.getBackend()} backend cannot read tensors synchronously here ` +
        `(${(error as Error).message}); use expectCloseAsync / checkAgainstFixtureAsync`,
    );
  }
}

/**
 * Elementwise |actual - expected| <= tolerance * (1 + |expected|), with a message naming the worst
 * element. Reads the tensors synchronously: on webgpu use {@link expectCloseAsync}.
 */
export function expectClose(actual: tf.Tensor, expected: tf.Tensor, tolerance: number, what: string): void {
  assertClose(
    { shape: actual.shape, values: readSync(actual, what) },
    { shape: expected.shape, values: readSync(expected, what) },
    tolerance,
    what,
  );
}

/** {@link expectClose} reading the tensors asynchronously (works on every backend, webgpu included). */
export async function expectCloseAsync(
  actual: tf.Tensor,
  expected: tf.Tensor,
  tolerance: number,
  what: string,
): Promise<void> {
  const [actualValues, expectedValues] = await Promise.all([actual.data(), expected.data()]);
  assertClose(
    { shape: actual.shape, values: actualValues as Values },
    { shape: expected.shape, values: expectedValues as Values },
    tolerance,
    what,
  );
}

/**
 * Gradients of parameters in PyTorch layout: each gradient is written into its variable, the state
 * dict (which applies the layouts) is read, and the values are restored.
 */
function gradientsInStateLayout(module: Module, grads: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const parameters = module.namedParameters();
  const saved = new Map<string, tf.Tensor>();
  for (const [name, variable] of parameters) {
    saved.set(name, tf.clone(variable));
    variable.assign(grads[name]!);
  }
  const state = module.stateDict();
  for (const [name, variable] of parameters) variable.assign(saved.get(name)!);
  tf.dispose([...saved.values()]);
  const result: Record<string, tf.Tensor> = {};
  for (const [name, value] of Object.entries(state)) {
    if (parameters.has(name)) result[name] = value;
    else value.dispose();
  }
  return result;
}

export type Forward = (input: tf.Tensor, options: Record<string, unknown>) => tf.Tensor;

interface Comparison {
  actual: tf.Tensor;
  expected: tf.Tensor;
  what: string;
}

/**
 * Runs the fixture's computation and pairs each result with the fixture's value: output, grad.input,
 * grad.params.*, state_after.*. The caller reads and compares them, then calls `dispose`.
 */
function fixtureComparisons(
  fixture: Fixture,
  module: Module,
  forward: Forward,
): { comparisons: Comparison[]; dispose: () => void } {
  const { tensors } = fixture;
  const comparisons: Comparison[] = [];
  const owned: tf.Tensor[] = [];
  const dispose = () => tf.dispose(owned);
  try {
    module.loadStateDict(fixture.group('params'));
    const input = tensors.input!;
    const output = tf.tidy(() => forward(input, { ...fixture.forwardOptions, updateRunningStats: false }));
    owned.push(output);
    comparisons.push({ actual: output, expected: tensors.output!, what: `${fixture.name} output` });
    const cotangent = tensors.cotangent;
    // forward-only fixtures (large models) carry no cotangent and no gradients
    if (cotangent == null) return { comparisons, dispose };

    const floatInput = input.dtype === 'float32';
    const inputVariable = floatInput ? tf.variable(input, true) : null;
    const names = [...module.namedParameters({ trainable: true }).keys()];
    const variables = module.parameters({ trainable: true });
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(forward(inputVariable ?? input, fixture.forwardOptions), cotangent)) as tf.Scalar,
      inputVariable ? [inputVariable, ...variables] : variables,
    );
    value.dispose();
    owned.push(...Object.values(grads));
    if (inputVariable) {
      owned.push(inputVariable);
      comparisons.push({
        actual: grads[inputVariable.name]!,
        expected: tensors['grad.input']!,
        what: `${fixture.name} grad.input`,
      });
    }
    const byName: Record<string, tf.Tensor> = {};
    names.forEach((name, index) => {
      byName[name] = grads[variables[index]!.name]!;
    });
    const expectedGrads = fixture.group('grad.params');
    expect(Object.keys(byName).sort(), `${fixture.name}: parameters with gradients`).toEqual(
      Object.keys(expectedGrads).sort(),
    );
    const converted = gradientsInStateLayout(module, byName);
    owned.push(...Object.values(converted));
    for (const [name, expected] of Object.entries(expectedGrads)) {
      comparisons.push({ actual: converted[name]!, expected, what: `${fixture.name} grad.params.${name}` });
    }

    const after = fixture.group('state_after');
    if (Object.keys(after).length > 0) {
      const state = module.stateDict();
      owned.push(...Object.values(state));
      for (const [name, expected] of Object.entries(after)) {
        const actual = tf.cast(state[name]!, 'float32');
        const expectedFloat = tf.cast(expected, 'float32');
        owned.push(actual, expectedFloat);
        comparisons.push({ actual, expected: expectedFloat, what: `${fixture.name} state_after.${name}` });
      }
    }
    return { comparisons, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

/**
 * Loads the fixture's params into `module` (strictly, by PyTorch key), then checks output,
 * grad.input, grad.params.* and state_after.* against the fixture (the gradients only when the
 * fixture has a cotangent). `tolerance` bounds |actual - expected| / (1 + |expected|) elementwise.
 * Leaves no tensors behind (checked by the caller). Reads tensors synchronously: on webgpu use
 * {@link checkAgainstFixtureAsync}.
 */
export function checkAgainstFixture(
  fixture: Fixture,
  module: Module,
  forward: Forward,
  tolerance: number,
): void {
  const { comparisons, dispose } = fixtureComparisons(fixture, module, forward);
  try {
    for (const { actual, expected, what } of comparisons) expectClose(actual, expected, tolerance, what);
  } finally {
    dispose();
  }
}

/** {@link checkAgainstFixture} reading tensors asynchronously (works on every backend, webgpu included). */
export async function checkAgainstFixtureAsync(
  fixture: Fixture,
  module: Module,
  forward: Forward,
  tolerance: number,
): Promise<void> {
  const { comparisons, dispose } = fixtureComparisons(fixture, module, forward);
  try {
    for (const { actual, expected, what } of comparisons) {
      await expectCloseAsync(actual, expected, tolerance, what);
    }
  } finally {
    dispose();
  }
}
