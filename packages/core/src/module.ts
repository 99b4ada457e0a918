// Module: owns tf.Variables and child modules created with explicit shapes, names them with PyTorch's
// dotted paths, and reads and writes PyTorch state dicts. Reference semantics as in Flax NNX (a
// tf.Variable is a mutable handle), small tree tools as in Equinox, names and state dicts as in PyTorch.
import * as tf from '@tensorflow/tfjs-core';
import { tfjsRegistered } from './register-tfjs.js';

/** Options every forward pass accepts. The training flag is an argument, never hidden state. */
export interface ForwardOptions {
  /** Training mode: dropout and drop-path are active, BatchNorm uses and updates batch statistics. */
  training?: boolean;
}

/**
 * Converts a stored tensor to the PyTorch layout a state dict holds and back, for modules that store a
 * parameter in the layout tfjs computes with (Linear [in, out], Conv2d HWIO).
 */
export interface StateLayout {
  /** Human-readable name, used in error messages, e.g. 'transpose [in, out] <-> [out, in]'. */
  readonly description: string;
  /** Stored shape -> PyTorch shape. */
  toStateShape(shape: readonly number[]): number[];
  /** Stored tensor -> PyTorch tensor. */
  toState(value: tf.Tensor): tf.Tensor;
  /** PyTorch tensor -> stored tensor. */
  fromState(value: tf.Tensor): tf.Tensor;
}

/** Stored as the transpose of the PyTorch layout, e.g. Linear weight [in, out] <-> PyTorch [out, in]. */
export function permutedLayout(permutation: readonly number[], description?: string): StateLayout {
  const inverse = new Array<number>(permutation.length);
  permutation.forEach((axis, index) => {
    inverse[axis] = index;
  });
  return {
    description: description ?? `permute [${permutation.join(', ')}]`,
    toStateShape: (shape) => permutation.map((axis) => shape[axis]!),
    toState: (value) => tf.transpose(value, permutation as number[]),
    fromState: (value) => tf.transpose(value, inverse),
  };
}

/** Linear weights: stored [in, out] for tfjs matMul, PyTorch [out, in]. */
export const TRANSPOSED_2D: StateLayout = permutedLayout([1, 0], 'stored [in, out], PyTorch [out, in]');
/** Conv2d kernels: stored HWIO for tfjs conv2d, PyTorch OIHW. */
export const HWIO_TO_OIHW: StateLayout = permutedLayout([3, 2, 0, 1], 'stored HWIO, PyTorch OIHW');

export interface ParameterOptions {
  /** Whether optimizers update it (default true). Frozen parameters stay parameters. */
  trainable?: boolean;
  /** Layout conversion to and from the PyTorch state dict. */
  layout?: StateLayout;
}

export interface BufferOptions {
  /** Whether the buffer goes into the state dict (default true, as PyTorch's register_buffer). */
  persistent?: boolean;
  layout?: StateLayout;
}

export interface LoadStateDictOptions {
  /** Throw when keys are missing or unexpected (default true). Shape mismatches always throw. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

interface Entry {
  variable: tf.Variable;
  layout: StateLayout | undefined;
  kind: 'parameter' | 'buffer';
  persistent: boolean;
}

const NAME_PATTERN = /^[A-Za-z0-9_]+$/;

/** Formats a shape for error messages, with named symbolic dimensions where given. */
export function formatShape(shape: readonly (number | string | null)[]): string {
  return `[${shape.map((dimension) => (dimension == null ? '?' : String(dimension))).join(', ')}]`;
}

/**
 * Base class of every layer and model. Subclasses create their variables and children in the
 * constructor with explicit shapes, under PyTorch's names:
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { Module, init, TRANSPOSED_2D } from '@mlzoo/core';
 *
 * class Affine extends Module {
 *   readonly weight: tf.Variable;
 *   readonly bias: tf.Variable;
 *   constructor(inFeatures: number, outFeatures: number) {
 *     super();
 *     this.weight = this.addParameter('weight', init.xavierUniform([inFeatures, outFeatures],
 *       { fanIn: inFeatures, fanOut: outFeatures }), { layout: TRANSPOSED_2D });
 *     this.bias = this.addParameter('bias', init.zeros([outFeatures]));
 *   }
 *   forward(x: tf.Tensor): tf.Tensor {
 *     return tf.add(tf.matMul(x, this.weight), this.bias);
 *   }
 * }
 * ```
 */
export abstract class Module {
  #entries = new Map<string, Entry>();
  #children = new Map<string, Module>();
  #path = '';
  #disposed = false;

  constructor() {
    void tfjsRegistered;
  }

  /** Dotted path of this module inside the root model ('' for the root). Used in error messages. */
  get path(): string {
    return this.#path;
  }

  /** Where errors say they come from: the path, or the class name for a root module. */
  get location(): string {
    return this.#path || this.constructor.name;
  }

  // ---- construction ------------------------------------------------------------------------------

  /**
   * Registers a parameter. Takes ownership of `initialValue` (it is disposed after the copy into the
   * variable). The variable's shape is fixed from here on.
   */
  protected addParameter(name: string, initialValue: tf.Tensor, options: ParameterOptions = {}): tf.Variable {
    return this.#addVariable(
      name,
      initialValue,
      'parameter',
      options.trainable ?? true,
      options.layout,
      true,
    );
  }

  /** Registers a buffer: state that is not a parameter (e.g. BatchNorm running statistics). */
  protected addBuffer(name: string, initialValue: tf.Tensor, options: BufferOptions = {}): tf.Variable {
    return this.#addVariable(name, initialValue, 'buffer', false, options.layout, options.persistent ?? true);
  }

  #addVariable(
    name: string,
    initialValue: tf.Tensor,
    kind: Entry['kind'],
    trainable: boolean,
    layout: StateLayout | undefined,
    persistent: boolean,
  ): tf.Variable {
    this.#checkNewName(name);
    const variable = tf.variable(initialValue, trainable);
    initialValue.dispose();
    this.#entries.set(name, { variable, layout, kind, persistent });
    return variable;
  }

  /** Registers a child module under `name`; returns it for assignment to a field. */
  protected addModule<M extends Module>(name: string, module: M): M {
    this.#checkNewName(name);
    if (!(module instanceof Module)) {
      throw new Error(`${this.location}: addModule('${name}') expects a Module, got ${describe(module)}`);
    }
    this.#children.set(name, module);
    module.#setPath(this.#join(name));
    return module;
  }

  #checkNewName(name: string): void {
    if (!NAME_PATTERN.test(name)) {
      throw new Error(`${this.location}: invalid name '${name}' (letters, digits and '_' only; no dots)`);
    }
    if (this.#entries.has(name) || this.#children.has(name)) {
      throw new Error(`${this.location}: '${name}' is already registered`);
    }
  }

  #join(name: string): string {
    return this.#path ? `${this.#path}.${name}` : name;
  }

  #setPath(path: string): void {
    this.#path = path;
    for (const [name, child] of this.#children) child.#setPath(this.#join(name));
  }

  // ---- tree walking ------------------------------------------------------------------------------

  /** Direct children, in registration order. */
  namedChildren(): Map<string, Module> {
    return new Map(this.#children);
  }

  /** This module ('' key) and every descendant, by dotted path relative to this module. */
  namedModules(): Map<string, Module> {
    const result = new Map<string, Module>();
    const visit = (module: Module, prefix: string) => {
      result.set(prefix, module);
      for (const [name, child] of module.#children) visit(child, prefix ? `${prefix}.${name}` : name);
    };
    visit(this, '');
    return result;
  }

  #namedEntries(kind: Entry['kind']): Array<[string, Entry]> {
    const result: Array<[string, Entry]> = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, entry] of module.#entries) {
        if (entry.kind === kind) result.push([prefix ? `${prefix}.${name}` : name, entry]);
      }
    }
    return result;
  }

  /**
   * Parameters by PyTorch dotted name, in registration order. `trainable: true` keeps only those an
   * optimizer should update; `false` only frozen ones.
   */
  namedParameters(options: { trainable?: boolean } = {}): Map<string, tf.Variable> {
    const result = new Map<string, tf.Variable>();
    for (const [name, entry] of this.#namedEntries('parameter')) {
      if (options.trainable == null || entry.variable.trainable === options.trainable) {
        result.set(name, entry.variable);
      }
    }
    return result;
  }

  /** Parameters as a list (for `optimizer.minimize(..., varList)` and `tf.variableGrads`). */
  parameters(options: { trainable?: boolean } = {}): tf.Variable[] {
    return [...this.namedParameters(options).values()];
  }

  /** Buffers by dotted name (persistent and not). */
  namedBuffers(): Map<string, tf.Variable> {
    return new Map(this.#namedEntries('buffer').map(([name, entry]) => [name, entry.variable]));
  }

  /** Number of parameter elements (trainable or frozen), as timm counts them. */
  numParameters(options: { trainable?: boolean } = {}): number {
    let total = 0;
    for (const variable of this.namedParameters(options).values()) total += variable.size;
    return total;
  }

  /** The descendant at a dotted path ('' is this module). */
  getSubmodule(path: string): Module {
    let module: Module = this;
    if (path === '') return module;
    for (const part of path.split('.')) {
      const child = module.#children.get(part);
      if (!child) {
        const known = [...module.#children.keys()];
        throw new Error(
          `${this.location}: no submodule '${path}' ('${part}' not found in ${module.location}; children: ${known.join(', ') || 'none'})`,
        );
      }
      module = child;
    }
    return module;
  }

  /**
   * Replaces the submodule at `path` (surgery: freezing, quantization swaps, adapters). Fields of the
   * parent that referenced the old module (directly or in an array) are pointed at the new one. The
   * old module is returned, not disposed.
   */
  setSubmodule(path: string, module: Module): Module {
    if (path === '') throw new Error(`${this.location}: setSubmodule needs a non-empty path`);
    const parts = path.split('.');
    const name = parts.pop()!;
    const parent = this.getSubmodule(parts.join('.'));
    const old = parent.#children.get(name);
    if (!old) throw new Error(`${this.location}: no submodule '${path}' to replace`);
    parent.#children.set(name, module);
    module.#setPath(parent.#join(name));
    const fields = parent as unknown as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (value === old) fields[key] = module;
      else if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) if (value[index] === old) value[index] = module;
      }
    }
    return old;
  }

  /** Makes parameters untrainable: all, or those whose names start with one of `prefixes`. */
  freeze(...prefixes: string[]): this {
    this.#setTrainable(false, prefixes);
    return this;
  }

  /** Makes parameters trainable again: all, or those under `prefixes`. */
  unfreeze(...prefixes: string[]): this {
    this.#setTrainable(true, prefixes);
    return this;
  }

  #setTrainable(trainable: boolean, prefixes: string[]): void {
    let matched = 0;
    for (const [name, variable] of this.namedParameters()) {
      if (
        prefixes.length === 0 ||
        prefixes.some((prefix) => name === prefix || name.startsWith(`${prefix}.`))
      ) {
        variable.trainable = trainable;
        matched++;
      }
    }
    if (prefixes.length > 0 && matched === 0) {
      throw new Error(
        `${this.location}: no parameters under ${prefixes.map((prefix) => `'${prefix}'`).join(', ')}`,
      );
    }
  }

  // ---- state dicts -------------------------------------------------------------------------------

  /**
   * Parameters and persistent buffers by PyTorch name, in PyTorch layouts (Linear weight [out, in],
   * conv OIHW). The tensors are new: dispose them (or call inside `tf.tidy`).
   */
  stateDict(): Record<string, tf.Tensor> {
    const result: Record<string, tf.Tensor> = Object.create(null);
    for (const [name, entry] of this.#stateEntries()) {
      result[name] = tf.tidy(() =>
        entry.layout ? entry.layout.toState(entry.variable) : tf.clone(entry.variable),
      );
    }
    return result;
  }

  /** Names and PyTorch-layout shapes of the state dict, without copying any tensor. */
  stateDictShapes(): Record<string, number[]> {
    const result: Record<string, number[]> = Object.create(null);
    for (const [name, entry] of this.#stateEntries()) {
      result[name] = entry.layout
        ? entry.layout.toStateShape(entry.variable.shape)
        : [...entry.variable.shape];
    }
    return result;
  }

  #stateEntries(): Array<[string, Entry]> {
    const entries: Array<[string, Entry]> = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, entry] of module.#entries) {
        if (entry.kind === 'parameter' || entry.persistent)
          entries.push([prefix ? `${prefix}.${name}` : name, entry]);
      }
    }
    return entries;
  }

  /**
   * Loads a PyTorch-layout state dict (e.g. decoded from a timm safetensors file) by key. Every shape
   * is checked before anything is assigned, so a failed load leaves the module unchanged. In strict
   * mode (the default) missing or unexpected keys throw one message that lists them. Does not take
   * ownership of `tensors`.
   */
  loadStateDict(tensors: Record<string, tf.Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const entries = new Map(this.#stateEntries());
    const provided = Object.keys(tensors);
    const missingKeys = [...entries.keys()].filter((name) => !Object.hasOwn(tensors, name));
    const unexpectedKeys = provided.filter((name) => !entries.has(name));
    if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      const parts: string[] = [];
      if (missingKeys.length > 0) parts.push(`missing keys: ${listKeys(missingKeys)}`);
      if (unexpectedKeys.length > 0) parts.push(`unexpected keys: ${listKeys(unexpectedKeys)}`);
      throw new Error(`${this.location}: state dict does not match the model (${parts.join('; ')})`);
    }
    const mismatches: string[] = [];
    for (const [name, entry] of entries) {
      const value = tensors[name];
      if (!value) continue;
      if (!(value instanceof tf.Tensor)) {
        mismatches.push(`${name}: expected a tensor, got ${describe(value)}`);
        continue;
      }
      if (value.isDisposed) {
        mismatches.push(`${name}: tensor is disposed`);
        continue;
      }
      const expected = entry.layout ? entry.layout.toStateShape(entry.variable.shape) : entry.variable.shape;
      if (!sameShape(expected, value.shape)) {
        mismatches.push(`${name}: expected shape ${formatShape(expected)}, got ${formatShape(value.shape)}`);
      }
    }
    if (mismatches.length > 0) {
      throw new Error(
        `${this.location}: state dict shapes do not match the model (${mismatches.join('; ')})`,
      );
    }
    for (const [name, entry] of entries) {
      const value = tensors[name];
      if (!value) continue;
      tf.tidy(() => {
        const stored = entry.layout ? entry.layout.fromState(value) : value;
        entry.variable.assign(
          stored.dtype === entry.variable.dtype ? stored : tf.cast(stored, entry.variable.dtype),
        );
      });
    }
    return { missingKeys, unexpectedKeys };
  }

  // ---- helpers for subclasses -------------------------------------------------------------------

  /**
   * Checks a tensor's shape against an expected one (numbers must match; strings and null are free,
   * named dimensions for the message) and throws `path: expected input [B, N, 192], got [2, 50, 128]`.
   */
  protected checkShape(
    tensor: tf.Tensor,
    expected: readonly (number | string | null)[],
    what = 'input',
  ): void {
    const shape = tensor.shape;
    const ok =
      shape.length === expected.length &&
      expected.every((dimension, index) => typeof dimension !== 'number' || dimension === shape[index]);
    if (!ok) {
      throw new Error(
        `${this.location}: expected ${what} ${formatShape(expected)}, got ${formatShape(shape)}`,
      );
    }
  }

  /** Disposes every variable of this module and its descendants. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const entry of this.#entries.values()) entry.variable.dispose();
    for (const child of this.#children.values()) child.dispose();
  }

  get isDisposed(): boolean {
    return this.#disposed;
  }
}

/** An ordered list of modules registered as '0', '1', ... (PyTorch's nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  readonly items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const module of modules) this.append(module);
  }

  append(module: M): this {
    this.items.push(this.addModule(String(this.items.length), module));
    return this;
  }

  get length(): number {
    return this.items.length;
  }

  at(index: number): M {
    const module = this.items[index < 0 ? this.items.length + index : index];
    if (!module)
      throw new Error(`${this.location}: index ${index} out of range for ${this.items.length} modules`);
    return module;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/** A module whose forward maps one tensor to one tensor. */
export interface TensorModule extends Module {
  forward(input: tf.Tensor, options?: ForwardOptions): tf.Tensor;
}

/** Modules applied in order, registered as '0', '1', ... (PyTorch's nn.Sequential). */
export class Sequential extends ModuleList<TensorModule> implements TensorModule {
  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let output = input;
      for (const module of this.items) output = module.forward(output, options);
      return output;
    });
  }
}

function sameShape(left: readonly number[], right: readonly number[]): boolean {
  return left.length === right.length && left.every((dimension, index) => dimension === right[index]);
}

function listKeys(keys: string[], limit = 20): string {
  const shown = keys.slice(0, limit).join(', ');
  return keys.length > limit ? `${shown}, ... (${keys.length} in all)` : shown;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return typeof value;
}
