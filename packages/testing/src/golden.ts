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

/** Elementwise |actual - expected| <= tolerance * (1 + |expected|), with a message naming the worst element. */
export function expectClose(actual: tf.Tensor, expected: tf.Tensor, tolerance: number, what: string): void {
  expect(actual.shape, `${what}: shape`).toEqual(expected.shape);
  const a = actual.dataSync();
  const b = expected.dataSync();
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

/**
 * Loads the fixture's params into `module` (strictly, by PyTorch key), then checks output,
 * grad.input, grad.params.* and state_after.* against the fixture (the gradients only when the
 * fixture has a cotangent). `tolerance` bounds |actual - expected| / (1 + |expected|) elementwise.
 * Leaves no tensors behind (checked by the caller).
 */
export function checkAgainstFixture(
  fixture: Fixture,
  module: Module,
  forward: Forward,
  tolerance: number,
): void {
  const { tensors } = fixture;
  module.loadStateDict(fixture.group('params'));
  const input = tensors.input!;
  const output = tf.tidy(() => forward(input, { ...fixture.forwardOptions, updateRunningStats: false }));
  expectClose(output, tensors.output!, tolerance, `${fixture.name} output`);
  output.dispose();
  const cotangent = tensors.cotangent;
  // forward-only fixtures (large models) carry no cotangent and no gradients
  if (cotangent == null) return;

  const floatInput = input.dtype === 'float32';
  const inputVariable = floatInput ? tf.variable(input, true) : null;
  const names = [...module.namedParameters({ trainable: true }).keys()];
  const variables = module.parameters({ trainable: true });
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(forward(inputVariable ?? input, fixture.forwardOptions), cotangent)) as tf.Scalar,
    inputVariable ? [inputVariable, ...variables] : variables,
  );
  value.dispose();
  if (inputVariable) {
    expectClose(grads[inputVariable.name]!, tensors['grad.input']!, tolerance, `${fixture.name} grad.input`);
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
  for (const [name, expected] of Object.entries(expectedGrads)) {
    expectClose(converted[name]!, expected, tolerance, `${fixture.name} grad.params.${name}`);
  }
  tf.dispose(Object.values(converted));
  tf.dispose(Object.values(grads));
  inputVariable?.dispose();

  const after = fixture.group('state_after');
  if (Object.keys(after).length > 0) {
    const state = module.stateDict();
    for (const [name, expected] of Object.entries(after)) {
      tf.tidy(() =>
        expectClose(
          tf.cast(state[name]!, 'float32'),
          tf.cast(expected, 'float32'),
          tolerance,
          `${fixture.name} state_after.${name}`,
        ),
      );
    }
    tf.dispose(Object.values(state));
  }
}
