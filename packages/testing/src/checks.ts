// The invariants every zoo model satisfies, as plain functions that throw a sentence on failure.
// They know nothing of a test runner: `runModelSuite` (index.ts) registers them with vitest, and any
// other harness (or the CLI) can call them directly.

import {
  type Classifier,
  decodeSafetensors,
  encodeSafetensorsAsync,
  manualSeed,
  Random,
  setBackend,
} from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export interface ModelSuiteSpec<M extends Classifier = Classifier> {
  /** Name shown in test titles (e.g. the registry name). */
  name: string;
  /** Builds a fresh model. The suite seeds the default generator before each call. */
  create: () => M;
  /** Shape of one input example, e.g. [28, 28, 1] for NHWC images. */
  inputShape: readonly number[];
  /** Exact expected parameter count (the preset's), when known. */
  numParameters?: number;
  /** Builds an input batch; default: seeded standard normal of [batch, ...inputShape]. */
  makeInput?: (batchSize: number, random: Random) => tf.Tensor;
  /** Largest absolute difference accepted when comparing outputs that should be equal (default 0: exact). */
  tolerance?: number;
  /** Number of classes the suite resets the head to when it checks `resetClassifier` (default 7). */
  resetTo?: number;
}

function fail(spec: ModelSuiteSpec, message: string): never {
  throw new Error(`${spec.name}: ${message}`);
}

function defaultInput(spec: ModelSuiteSpec, batchSize: number, seed = 1): tf.Tensor {
  const random = new Random(seed);
  if (spec.makeInput) return spec.makeInput(batchSize, random);
  const shape = [batchSize, ...spec.inputShape];
  const values = new Float32Array(shape.reduce((product, dimension) => product * dimension, 1));
  for (let index = 0; index < values.length; index++) values[index] = random.normal();
  return tf.tensor(values, shape, 'float32');
}

function createSeeded<M extends Classifier>(spec: ModelSuiteSpec<M>, seed = 0): M {
  manualSeed(seed);
  return spec.create();
}

async function allFinite(tensor: tf.Tensor): Promise<boolean> {
  const values = await tensor.data();
  for (let index = 0; index < values.length; index++)
    if (!Number.isFinite(values[index] as number)) return false;
  return true;
}

async function maxDifference(left: tf.Tensor, right: tf.Tensor): Promise<number> {
  const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(left, right))));
  const value = (await difference.data())[0]!;
  difference.dispose();
  return value;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Forward on batch 1 and 2 gives finite logits of shape [B, numClasses], in both modes. */
export async function checkForward(spec: ModelSuiteSpec): Promise<void> {
  const model = createSeeded(spec);
  try {
    for (const batchSize of [1, 2]) {
      for (const training of [false, true]) {
        const input = defaultInput(spec, batchSize);
        const output = tf.tidy(() => model.forward(input, { training }));
        const expected = [batchSize, model.numClasses];
        const mode = training ? 'training' : 'inference';
        try {
          if (shapeText(output.shape) !== shapeText(expected)) {
            fail(
              spec,
              `${mode} forward on batch ${batchSize} gave ${shapeText(output.shape)}, expected ${shapeText(expected)}`,
            );
          }
          if (!(await allFinite(output)))
            fail(spec, `${mode} forward on batch ${batchSize} gave non-finite values`);
        } finally {
          tf.dispose([input, output]);
        }
      }
    }
    // inference is deterministic
    const input = defaultInput(spec, 2);
    const [first, second] = [0, 1].map(() => tf.tidy(() => model.forward(input, { training: false })));
    const difference = await maxDifference(first!, second!);
    tf.dispose([input, first!, second!]);
    if (difference > 0) fail(spec, `two inference passes on the same input differ by ${difference}`);
  } finally {
    model.dispose();
  }
}

/**
 * No tensor leaks: a bare forward leaves only its output, train steps keep the count flat, and
 * disposing the model returns it to where it was before the model existed.
 */
export async function checkNoLeaks(spec: ModelSuiteSpec): Promise<void> {
  const baseline = tf.memory().numTensors;
  const model = createSeeded(spec);
  const input = defaultInput(spec, 2);
  const targets = tf.tensor1d([0, model.numClasses > 1 ? 1 : 0], 'int32');
  const optimizer = tf.train.sgd(1e-3);
  try {
    // forward is called bare, as a user would: only its output may remain
    for (const training of [false, true]) {
      const beforeForward = tf.memory().numTensors;
      const output = model.forward(input, { training });
      const extra = tf.memory().numTensors - beforeForward - 1;
      output.dispose();
      if (extra !== 0) {
        fail(
          spec,
          `forward (${training ? 'training' : 'inference'}) leaves ${extra} tensors besides its output; wrap it in tf.tidy`,
        );
      }
    }
    const variables = model.parameters({ trainable: true });
    const step = () =>
      tf.tidy(() => {
        optimizer.minimize(
          () => {
            const logits = model.forward(input, { training: true });
            return tf.mean(
              tf.neg(tf.sum(tf.mul(tf.oneHot(targets, model.numClasses), tf.logSoftmax(logits)), -1)),
            ) as tf.Scalar;
          },
          false,
          variables,
        );
      });
    step();
    const afterFirst = tf.memory().numTensors;
    step();
    step();
    if (tf.memory().numTensors !== afterFirst) {
      fail(
        spec,
        `train steps are not flat: ${afterFirst} tensors after one step, ${tf.memory().numTensors} after three`,
      );
    }
  } finally {
    optimizer.dispose();
    tf.dispose([input, targets]);
    model.dispose();
  }
  if (tf.memory().numTensors !== baseline) {
    fail(spec, `dispose() left ${tf.memory().numTensors - baseline} tensors behind`);
  }
}

/** Every trainable parameter receives a finite gradient. */
export async function checkGradients(spec: ModelSuiteSpec): Promise<void> {
  const model = createSeeded(spec);
  const input = defaultInput(spec, 2);
  try {
    const parameters = model.namedParameters({ trainable: true });
    const variables = [...parameters.values()];
    const { value, grads } = tf.tidy(() =>
      tf.variableGrads(() => {
        const output = model.forward(input, { training: true });
        const cotangent = tf.randomNormal(output.shape, 0, 1, 'float32', 3);
        return tf.sum(tf.mul(output, cotangent)) as tf.Scalar;
      }, variables),
    );
    try {
      const missing: string[] = [];
      const nonFinite: string[] = [];
      for (const [name, variable] of parameters) {
        const gradient = grads[variable.name];
        if (!gradient) missing.push(name);
        else if (!(await allFinite(gradient))) nonFinite.push(name);
        else if (shapeText(gradient.shape) !== shapeText(variable.shape)) {
          fail(
            spec,
            `gradient of ${name} has shape ${shapeText(gradient.shape)}, parameter ${shapeText(variable.shape)}`,
          );
        }
      }
      if (missing.length > 0)
        fail(spec, `no gradient reaches ${missing.length} parameters: ${missing.slice(0, 10).join(', ')}`);
      if (nonFinite.length > 0) fail(spec, `non-finite gradients for ${nonFinite.join(', ')}`);
    } finally {
      tf.dispose([value, ...Object.values(grads)]);
    }
  } finally {
    input.dispose();
    model.dispose();
  }
}

/** state dict -> safetensors bytes -> loadStateDict into a differently seeded model -> same outputs. */
export async function checkStateDictRoundTrip(spec: ModelSuiteSpec): Promise<void> {
  const model = createSeeded(spec, 0);
  const other = createSeeded(spec, 12345);
  const input = defaultInput(spec, 2);
  try {
    const state = model.stateDict();
    // read asynchronously: webgpu cannot read tensors synchronously in Node
    const bytes = await encodeSafetensorsAsync(state);
    tf.dispose(Object.values(state));
    const decoded = decodeSafetensors(bytes);
    try {
      const result = other.loadStateDict(decoded);
      if (result.missingKeys.length + result.unexpectedKeys.length > 0) {
        fail(spec, `round trip lost keys: ${JSON.stringify(result)}`);
      }
    } finally {
      tf.dispose(Object.values(decoded));
    }
    const expected = tf.tidy(() => model.forward(input, { training: false }));
    const actual = tf.tidy(() => other.forward(input, { training: false }));
    const difference = await maxDifference(expected, actual);
    tf.dispose([expected, actual]);
    if (difference > (spec.tolerance ?? 0)) {
      fail(spec, `outputs after a safetensors round trip differ by ${difference}`);
    }
  } finally {
    input.dispose();
    model.dispose();
    other.dispose();
  }
}

/** The parameter count equals the preset's. */
export function checkParameterCount(spec: ModelSuiteSpec): void {
  if (spec.numParameters == null) return;
  const model = createSeeded(spec);
  const count = model.numParameters();
  model.dispose();
  if (count !== spec.numParameters) {
    fail(
      spec,
      `has ${count.toLocaleString('en-US')} parameters, the preset says ${spec.numParameters.toLocaleString('en-US')}`,
    );
  }
}

/**
 * The classifier surface: forward = forwardHead(forwardFeatures), feature and pre-logit widths,
 * resetClassifier to n and to 0, classifier and first-layer keys in the state dict, intermediates.
 */
export async function checkClassifierSurface(spec: ModelSuiteSpec): Promise<void> {
  const model = createSeeded(spec);
  const input = defaultInput(spec, 2);
  try {
    const keys = Object.keys(model.stateDictShapes());
    for (const [label, prefix] of [
      ['classifierName', model.classifierName],
      ['firstLayerName', model.firstLayerName],
    ] as const) {
      if (!keys.some((key) => key.startsWith(`${prefix}.`))) {
        fail(
          spec,
          `${label} '${prefix}' names no state-dict entry (keys start: ${keys.slice(0, 5).join(', ')})`,
        );
      }
    }
    const features = tf.tidy(() => model.forwardFeatures(input));
    const preLogits = tf.tidy(() => model.forwardHead(features, { preLogits: true }));
    const composed = tf.tidy(() => model.forwardHead(features));
    const direct = tf.tidy(() => model.forward(input));
    try {
      if (features.shape[features.rank - 1] !== model.numFeatures) {
        fail(
          spec,
          `forwardFeatures gave ${shapeText(features.shape)}; last dimension should be numFeatures = ${model.numFeatures}`,
        );
      }
      if (shapeText(preLogits.shape) !== shapeText([2, model.headHiddenSize])) {
        fail(
          spec,
          `forwardHead(preLogits) gave ${shapeText(preLogits.shape)}, expected [2, ${model.headHiddenSize}]`,
        );
      }
      const difference = await maxDifference(composed, direct);
      if (difference > 1e-6)
        fail(spec, `forward differs from forwardHead(forwardFeatures(x)) by ${difference}`);
    } finally {
      tf.dispose([features, preLogits, composed, direct]);
    }
    if (model.forwardIntermediates) {
      const intermediates = tf.tidy(() => model.forwardIntermediates!(input, { indices: 1 }));
      const count = intermediates.length;
      tf.dispose(intermediates);
      if (count !== 1) fail(spec, `forwardIntermediates({indices: 1}) returned ${count} tensors, expected 1`);
    }
    const resetTo = spec.resetTo ?? 7;
    model.resetClassifier(resetTo);
    const logits = tf.tidy(() => model.forward(input));
    const logitsShape = logits.shape;
    logits.dispose();
    if (shapeText(logitsShape) !== shapeText([2, resetTo]) || model.numClasses !== resetTo) {
      fail(
        spec,
        `after resetClassifier(${resetTo}) forward gave ${shapeText(logitsShape)} and numClasses ${model.numClasses}`,
      );
    }
    model.resetClassifier(0);
    const pooled = tf.tidy(() => model.forward(input));
    const pooledShape = pooled.shape;
    pooled.dispose();
    if (shapeText(pooledShape) !== shapeText([2, model.headHiddenSize])) {
      fail(
        spec,
        `after resetClassifier(0) forward gave ${shapeText(pooledShape)}, expected [2, ${model.headHiddenSize}]`,
      );
    }
  } finally {
    input.dispose();
    model.dispose();
  }
}

/**
 * Largest accepted |other - cpu| / (1 + |cpu|), elementwise, between a model's outputs and gradients
 * on another backend (wasm, webgpu) and on the cpu backend, the reference. The same bound as the
 * golden fixtures against PyTorch; measured differences on lavapipe are ~1e-6 to 2e-5.
 */
export const BACKEND_AGREEMENT_TOLERANCE = 1e-4;

interface ForwardAndGradients {
  output: Float32Array;
  gradients: Map<string, Float32Array>;
}

// Inference forward on batch 2, and the gradient of sum(output * cotangent) for every trainable
// parameter, on the active backend. Inference mode keeps it deterministic (no dropout draws); the
// model, input and cotangent come from mlzoo's own seeded generator, identical on every backend.
async function forwardAndGradients(spec: ModelSuiteSpec): Promise<ForwardAndGradients> {
  const model = createSeeded(spec);
  const input = defaultInput(spec, 2);
  try {
    const parameters = model.namedParameters({ trainable: true });
    const output = tf.tidy(() => model.forward(input, { training: false }));
    const random = new Random(3);
    const cotangentValues = new Float32Array(output.size);
    for (let index = 0; index < cotangentValues.length; index++) cotangentValues[index] = random.normal();
    const cotangent = tf.tensor(cotangentValues, output.shape, 'float32');
    const { value, grads } = tf.tidy(() =>
      tf.variableGrads(
        () => tf.sum(tf.mul(model.forward(input, { training: false }), cotangent)) as tf.Scalar,
        [...parameters.values()],
      ),
    );
    try {
      const gradients = new Map<string, Float32Array>();
      for (const [name, variable] of parameters) {
        const gradient = grads[variable.name];
        if (gradient) gradients.set(name, (await gradient.data()) as Float32Array);
      }
      return { output: (await output.data()) as Float32Array, gradients };
    } finally {
      tf.dispose([output, cotangent, value, ...Object.values(grads)]);
    }
  } finally {
    input.dispose();
    model.dispose();
  }
}

function worstDifference(actual: Float32Array, reference: Float32Array): { excess: number; index: number } {
  let excess = 0;
  let index = -1;
  for (let position = 0; position < reference.length; position++) {
    const difference =
      Math.abs(actual[position]! - reference[position]!) / (1 + Math.abs(reference[position]!));
    if (!(difference <= excess)) {
      excess = difference;
      index = position;
    }
  }
  return { excess, index };
}

/**
 * The active backend (not cpu) computes what the cpu backend computes: the inference output on
 * batch 2 and every trainable parameter's gradient agree within {@link BACKEND_AGREEMENT_TOLERANCE}.
 * Switches to cpu for the reference and back; fails when the active backend is cpu itself.
 */
export async function checkAgreesWithCpu(spec: ModelSuiteSpec): Promise<void> {
  const backend = tf.getBackend();
  if (backend === 'cpu')
    fail(spec, 'checkAgreesWithCpu compares another backend with cpu; the active one is cpu');
  const actual = await forwardAndGradients(spec);
  let reference: ForwardAndGradients;
  try {
    await setBackend('cpu', { quiet: true });
    reference = await forwardAndGradients(spec);
  } finally {
    await tf.setBackend(backend);
  }
  const compare = (what: string, values: Float32Array | undefined, expected: Float32Array) => {
    if (values == null) fail(spec, `${what}: no gradient on ${backend}, but one on cpu`);
    if (values.length !== expected.length) {
      fail(spec, `${what}: ${values.length} values on ${backend}, ${expected.length} on cpu`);
    }
    const { excess, index } = worstDifference(values, expected);
    if (!(excess <= BACKEND_AGREEMENT_TOLERANCE)) {
      fail(
        spec,
        `${what}: element ${index} is ${values[index]} on ${backend}, ${expected[index]} on cpu ` +
          `(relative difference ${excess.toExponential(2)} > ${BACKEND_AGREEMENT_TOLERANCE})`,
      );
    }
  };
  compare('inference output', actual.output, reference.output);
  for (const [name, expected] of reference.gradients)
    compare(`gradient of ${name}`, actual.gradients.get(name), expected);
}

/** Every check, in order, by name. */
export const MODEL_CHECKS = {
  'parameter count equals the preset': checkParameterCount,
  'forward gives finite outputs of the right shape on batch 1 and 2': checkForward,
  'no tensor leaks around forward, train steps and dispose': checkNoLeaks,
  'every trainable parameter receives a finite gradient': checkGradients,
  'state dict round-trips through safetensors with identical outputs': checkStateDictRoundTrip,
  'classifier surface (forwardFeatures, forwardHead, resetClassifier)': checkClassifierSurface,
} as const satisfies Record<string, (spec: ModelSuiteSpec) => void | Promise<void>>;

/** Runs every check and returns the failures (empty when the model passes). */
export async function checkModel(spec: ModelSuiteSpec): Promise<Array<{ check: string; error: Error }>> {
  const failures: Array<{ check: string; error: Error }> = [];
  for (const [check, run] of Object.entries(MODEL_CHECKS)) {
    try {
      await run(spec);
    } catch (error) {
      failures.push({ check, error: error as Error });
    }
  }
  return failures;
}
