// The training loop: fit and evaluate on in-memory tensors, with resumable checkpoints, gradient
// clipping, a non-finite-loss guard and a flat tensor count across steps.
import * as tf from '@tensorflow/tfjs-core';
import { type LossFunction, type LossName, resolveLoss } from './losses.js';
import type { TensorModule } from './module.js';
import { Random } from './random.js';
import { disposeAbandonedTape } from './tfjs-internals.js';

/** An optimizer weight as tfjs's `Optimizer.getWeights()` returns it. */
export type NamedTensor = Awaited<ReturnType<tf.Optimizer['getWeights']>>[number];

/** Inputs and targets with the same first dimension. */
export interface Dataset {
  x: tf.Tensor;
  y: tf.Tensor;
}

export interface TrainingProgress {
  epoch: number;
  epochs: number;
  /** Step within the epoch (1-based, after the step). */
  step: number;
  stepsPerEpoch: number;
  /** Steps since the start of training, including resumed ones. */
  globalStep: number;
  loss: number;
  /** Gradient global norm before clipping (when clipping is on). */
  gradientNorm?: number;
}

export interface EpochSummary {
  epoch: number;
  /** Mean training loss over the epoch's steps run in this process. */
  loss: number;
  validation?: EvaluationResult;
  seconds: number;
}

/** Everything needed to resume training. */
export interface CheckpointState {
  /** The model's state dict (PyTorch names and layouts). */
  model: Record<string, tf.Tensor>;
  /** The optimizer's weights in the order `optimizer.getWeights()` gives them. */
  optimizer: NamedTensor[];
  /** Epoch in progress (0-based) and how many of its steps are done. */
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  /** Free-form strings stored with the checkpoint (model name, config, ...). */
  metadata: Record<string, string>;
}

/** Where checkpoints go: a file in Node (`fileCheckpoint` from @mlzoo/core/node), IndexedDB, memory. */
export interface CheckpointStore {
  /** Where it is, for messages. */
  readonly location: string;
  save(state: CheckpointState): Promise<void>;
  /** The saved state, or null when none exists yet. */
  load(): Promise<CheckpointState | null>;
}

export interface CheckpointOptions {
  store: CheckpointStore;
  /** Save after every epoch (default) or every n steps as well. */
  everySteps?: number;
  /** Continue from the stored state if there is one (default true). */
  resume?: boolean;
  /** Strings saved with every checkpoint. */
  metadata?: Record<string, string>;
}

export interface FitOptions {
  optimizer: tf.Optimizer;
  loss?: LossName | LossFunction;
  epochs?: number;
  batchSize?: number;
  /** Shuffle each epoch with a permutation drawn from `seed` and the epoch (default true). */
  shuffle?: boolean;
  seed?: number;
  validationData?: Dataset;
  /** Called after every step. */
  onProgress?: (progress: TrainingProgress) => void;
  onEpochEnd?: (summary: EpochSummary) => void | Promise<void>;
  /** Stops after the current step; a checkpoint (if configured) is written first. */
  signal?: AbortSignal;
  checkpoint?: CheckpointStore | CheckpointOptions;
  /** Clip gradients to this global L2 norm (PyTorch's clip_grad_norm_). */
  clipGradNorm?: number;
  /** Hook over the gradients by parameter name, after clipping, before the update. Return new tensors or the same. */
  transformGradients?: (
    gradients: Record<string, tf.Tensor>,
    globalStep: number,
  ) => Record<string, tf.Tensor>;
  /** Yield to the event loop every n steps so UIs repaint and signals are seen (default 1). */
  yieldEvery?: number;
}

export interface FitResult {
  history: EpochSummary[];
  globalStep: number;
  /** Set when training stopped early because the signal was aborted. */
  aborted: boolean;
  /** Epoch and step training resumed from, when it did. */
  resumedFrom?: { epoch: number; stepInEpoch: number; globalStep: number };
}

export interface EvaluationResult {
  loss: number;
  /** Top-1 accuracy (classification targets only). */
  accuracy?: number;
  /** Top-k accuracies by k. */
  topK?: Record<number, number>;
  count: number;
}

export interface EvaluateOptions {
  loss?: LossName | LossFunction;
  batchSize?: number;
  /** Which top-k accuracies to report besides top-1 (default [5] when there are more than 5 classes). */
  topK?: number[];
}

/**
 * What `fit` hands an optimizer that evaluates the loss more than once per update (see
 * {@link MultiPassOptimizer}).
 */
export interface TrainingStepContext {
  /**
   * The batch's loss at the variables' current values: one forward pass in training mode (BatchNorm
   * statistics update on every pass, as with `minimize`). Call it inside `tf.variableGrads` (or
   * `minimize`'s equivalent) as often as the step needs.
   */
  computeLoss: () => tf.Scalar;
  /** The variables to update: the model's trainable parameters, in `namedParameters` order. */
  varList: tf.Variable[];
  /**
   * fit's guard. Call it with every evaluation's loss after its gradient tape has closed and before any
   * update that depends on it (for the first evaluation: before any variable changes). It reads the
   * loss, checks class labels against the output's shape and throws ({@link NonFiniteLossError} for a
   * non-finite loss). When it throws, the optimizer puts its variables back where the step began,
   * leaves its own state as it was, and lets the error propagate.
   */
  checkLoss: (loss: tf.Scalar) => void;
}

/**
 * The protocol for optimizers that need the loss more than once per update: SAM's two passes, L-BFGS's
 * line search. When `options.optimizer` has a `trainingStep` method, `fit` calls it once per batch
 * instead of computing one gradient and calling `applyGradients`. The method returns the loss at the
 * starting point (a new scalar that `fit` disposes), as `minimize(f, true)` does, and must call
 * `context.checkLoss` on every evaluation. `fit` keeps its other guarantees around it: the step runs
 * in one `tf.tidy`, the variables and BatchNorm buffers are restored when it throws, and checkpoints
 * save and restore the optimizer through `getWeights`/`setWeights`. `clipGradNorm` and
 * `transformGradients` act on the one gradient of a single-pass step and are refused with such an
 * optimizer (clip inside it instead, e.g. the base optimizer's own `clipGradNorm` under SAM).
 */
export interface MultiPassOptimizer {
  trainingStep(context: TrainingStepContext): tf.Scalar;
}

/** Whether `optimizer` implements {@link MultiPassOptimizer}. */
export function isMultiPassOptimizer<T extends object>(optimizer: T): optimizer is T & MultiPassOptimizer {
  return typeof (optimizer as Partial<MultiPassOptimizer>).trainingStep === 'function';
}

/** Thrown when the loss (or the gradient norm) stops being finite. Carries where it happened. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly epoch: number,
    readonly step: number,
    readonly globalStep: number,
    readonly value: number,
    readonly what: 'loss' | 'gradient norm' = 'loss',
  ) {
    super(
      `fit: ${what} became ${value} at epoch ${epoch + 1}, step ${step} (global step ${globalStep}); ` +
        'training stopped before applying this update, and the last checkpoint was left as it was',
    );
    this.name = 'NonFiniteLossError';
  }
}

const CHECKPOINT_FORMAT = 'mlzoo-checkpoint/1';

/** Flattens a checkpoint into safetensors tensors and string metadata. */
export function encodeCheckpoint(state: CheckpointState): {
  tensors: Record<string, tf.Tensor>;
  metadata: Record<string, string>;
} {
  const tensors: Record<string, tf.Tensor> = Object.create(null);
  for (const [name, tensor] of Object.entries(state.model)) tensors[`model.${name}`] = tensor;
  state.optimizer.forEach((weight, index) => {
    tensors[`optimizer.${index}`] = weight.tensor;
  });
  return {
    tensors,
    metadata: {
      ...state.metadata,
      format: CHECKPOINT_FORMAT,
      epoch: String(state.epoch),
      step_in_epoch: String(state.stepInEpoch),
      global_step: String(state.globalStep),
      optimizer_weight_names: JSON.stringify(state.optimizer.map((weight) => weight.name)),
    },
  };
}

/** Inverse of {@link encodeCheckpoint}; `location` names the source in error messages. */
export function decodeCheckpoint(
  tensors: Record<string, tf.Tensor>,
  metadata: Record<string, string>,
  location: string,
): CheckpointState {
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(
      `${location}: not an mlzoo training checkpoint (metadata format is ${JSON.stringify(metadata.format ?? null)}, expected '${CHECKPOINT_FORMAT}')`,
    );
  }
  const integer = (key: string) => {
    const value = Number(metadata[key]);
    if (!Number.isSafeInteger(value) || value < 0)
      throw new Error(`${location}: checkpoint metadata '${key}' is not a count`);
    return value;
  };
  let names: unknown;
  try {
    names = JSON.parse(metadata.optimizer_weight_names ?? '[]');
  } catch {
    throw new Error(`${location}: checkpoint metadata 'optimizer_weight_names' is not JSON`);
  }
  if (!Array.isArray(names) || !names.every((name) => typeof name === 'string')) {
    throw new Error(`${location}: checkpoint metadata 'optimizer_weight_names' is not a list of names`);
  }
  const model: Record<string, tf.Tensor> = Object.create(null);
  const optimizer: NamedTensor[] = [];
  for (const [key, tensor] of Object.entries(tensors)) {
    if (key.startsWith('model.')) model[key.slice('model.'.length)] = tensor;
  }
  names.forEach((name, index) => {
    const tensor = tensors[`optimizer.${index}`];
    if (!tensor) throw new Error(`${location}: checkpoint lacks optimizer weight ${index} ('${name}')`);
    optimizer.push({ name, tensor });
  });
  const used = new Set<tf.Tensor>([...Object.values(model), ...optimizer.map((weight) => weight.tensor)]);
  tf.dispose(Object.values(tensors).filter((tensor) => !used.has(tensor)));
  const {
    format: _format,
    epoch: _epoch,
    step_in_epoch: _step,
    global_step: _global,
    optimizer_weight_names: _names,
    ...rest
  } = metadata;
  return {
    model,
    optimizer,
    epoch: integer('epoch'),
    stepInEpoch: integer('step_in_epoch'),
    globalStep: integer('global_step'),
    metadata: rest,
  };
}

function checkDataset(where: string, data: Dataset): number {
  if (!data || !(data.x instanceof tf.Tensor) || !(data.y instanceof tf.Tensor)) {
    throw new Error(`${where}: data must be { x: Tensor, y: Tensor }`);
  }
  const count = data.x.shape[0]!;
  if (data.y.shape[0] !== count) {
    throw new Error(`${where}: x has ${count} examples but y has ${data.y.shape[0]}`);
  }
  if (count === 0) throw new Error(`${where}: the dataset is empty`);
  return count;
}

function epochOrder(count: number, shuffle: boolean, seed: number, epoch: number): Int32Array {
  if (!shuffle) return Int32Array.from({ length: count }, (_, index) => index);
  // Two words from the run's seed, the epoch folded in with 32-bit mixing: distinct orders for every
  // epoch whatever the seed's size.
  const base = new Random(seed);
  const high = (base.nextUint32() ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
  const low = (base.nextUint32() + Math.imul(epoch + 1, 0x85ebca6b)) >>> 0;
  return new Random(high * 2 ** 21 + (low >>> 11)).permutation(count);
}

/** Smallest and largest class index in 1-D integer targets, read once per dataset. */
async function labelRange(targets: tf.Tensor): Promise<{ min: number; max: number } | undefined> {
  if (targets.rank !== 1 || targets.dtype !== 'int32' || targets.size === 0) return undefined;
  const [min, max] = tf.tidy(() => [tf.min(targets), tf.max(targets)]);
  const range = { min: (await min!.data())[0]!, max: (await max!.data())[0]! };
  tf.dispose([min!, max!]);
  return range;
}

/** Class-index targets must lie in [0, numClasses): tfjs's one-hot would silently zero others. */
function checkLabels(
  where: string,
  range: { min: number; max: number } | undefined,
  output: { rank: number; shape: readonly number[] },
): void {
  if (!range || output.rank !== 2) return;
  const numClasses = output.shape[1]!;
  if (range.min < 0 || range.max >= numClasses) {
    throw new Error(
      `${where}: class labels range over [${range.min}, ${range.max}] but the model outputs ${numClasses} classes (labels must be in [0, ${numClasses - 1}])`,
    );
  }
}

const usesClassIndices = (loss: FitOptions['loss']) => loss == null || loss === 'cross-entropy';

const nextTick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

function positiveInteger(where: string, name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${where}: ${name} must be a positive integer, got ${value}`);
  return value;
}

/**
 * Trains `model` on `data` with `optimizer`. Each step runs inside one `tf.tidy`, so the tensor count
 * stays flat. The loss is checked before every update: a non-finite loss throws
 * {@link NonFiniteLossError} without applying the update or writing a checkpoint. Optimizers that
 * need the loss several times per step (SAM, L-BFGS) implement {@link MultiPassOptimizer}; fit then
 * calls their `trainingStep` with a closure over the batch.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { fit } from '@mlzoo/core';
 * const result = await fit(model, { x: images, y: labels }, {
 *   optimizer: tf.train.adam(1e-3), epochs: 3, batchSize: 128,
 *   onProgress: ({ step, loss }) => console.log(step, loss),
 * });
 * ```
 */
export async function fit(model: TensorModule, data: Dataset, options: FitOptions): Promise<FitResult> {
  const count = checkDataset('fit', data);
  if (!(options.optimizer instanceof tf.Optimizer))
    throw new Error('fit: options.optimizer must be a tf.Optimizer');
  const optimizer = options.optimizer;
  const multiPass = isMultiPassOptimizer(optimizer) ? optimizer : undefined;
  if (multiPass && (options.clipGradNorm != null || options.transformGradients != null)) {
    throw new Error(
      `fit: ${optimizer.getClassName()} evaluates the loss several times per step (trainingStep), so fit has no single gradient for ${options.clipGradNorm != null ? 'clipGradNorm' : 'transformGradients'} to act on; clip or transform inside the optimizer instead (e.g. the clipGradNorm option of SAM's base optimizer)`,
    );
  }
  const lossFunction = resolveLoss(options.loss);
  const epochs = positiveInteger('fit', 'epochs', options.epochs ?? 1);
  const batchSize = positiveInteger('fit', 'batchSize', options.batchSize ?? 32);
  const yieldEvery = positiveInteger('fit', 'yieldEvery', options.yieldEvery ?? 1);
  const shuffle = options.shuffle ?? true;
  const seed = options.seed ?? 0;
  const stepsPerEpoch = Math.ceil(count / batchSize);
  const checkpoint: CheckpointOptions | undefined =
    options.checkpoint == null
      ? undefined
      : 'store' in options.checkpoint
        ? options.checkpoint
        : { store: options.checkpoint };

  const parameters = model.namedParameters({ trainable: true });
  if (parameters.size === 0) throw new Error(`fit: ${model.location} has no trainable parameters`);
  const variableToParameter = new Map<string, string>();
  for (const [name, variable] of parameters) variableToParameter.set(variable.name, name);
  const variables = [...parameters.values()];
  const buffers = [...model.namedBuffers().values()];
  const labels = usesClassIndices(options.loss) ? await labelRange(data.y) : undefined;
  // What a checkpoint's position and optimizer state mean depends on these; resuming checks them.
  const runShape: Record<string, string> = {
    'fit.batch_size': String(batchSize),
    'fit.examples': String(count),
    'fit.shuffle': String(shuffle),
    'fit.seed': String(seed),
    'fit.trainable': JSON.stringify([...parameters.keys()]),
  };

  let startEpoch = 0;
  let skipSteps = 0;
  let globalStep = 0;
  let resumedFrom: FitResult['resumedFrom'];
  if (checkpoint && (checkpoint.resume ?? true)) {
    const state = await checkpoint.store.load();
    if (state) {
      const changed = Object.keys(runShape).filter(
        (key) => state.metadata[key] != null && state.metadata[key] !== runShape[key],
      );
      if (changed.length > 0) {
        tf.dispose([...Object.values(state.model), ...state.optimizer.map((weight) => weight.tensor)]);
        const describe = (key: string, value: string | undefined) =>
          key === 'fit.trainable'
            ? `${(JSON.parse(value ?? '[]') as string[]).length} trainable parameters`
            : value;
        throw new Error(
          `fit: cannot resume from ${checkpoint.store.location}: it was written by a run with ${changed
            .map((key) => `${key.slice(4)} ${describe(key, state.metadata[key])}`)
            .join(
              ', ',
            )}; this run has ${changed.map((key) => `${key.slice(4)} ${describe(key, runShape[key])}`).join(', ')}`,
        );
      }
      try {
        model.loadStateDict(state.model);
        if (state.optimizer.length > 0) await optimizer.setWeights(state.optimizer);
      } catch (error) {
        throw new Error(`fit: cannot resume from ${checkpoint.store.location}: ${(error as Error).message}`);
      } finally {
        tf.dispose([...Object.values(state.model), ...state.optimizer.map((weight) => weight.tensor)]);
      }
      startEpoch = state.epoch;
      skipSteps = state.stepInEpoch;
      globalStep = state.globalStep;
      resumedFrom = { epoch: state.epoch, stepInEpoch: state.stepInEpoch, globalStep: state.globalStep };
      if (skipSteps >= stepsPerEpoch) {
        startEpoch++;
        skipSteps = 0;
      }
    }
  }

  const saveCheckpoint = async (epoch: number, stepInEpoch: number) => {
    if (!checkpoint) return;
    const modelState = model.stateDict();
    const optimizerState = await optimizer.getWeights();
    try {
      await checkpoint.store.save({
        model: modelState,
        optimizer: optimizerState,
        epoch,
        stepInEpoch,
        globalStep,
        metadata: { ...checkpoint.metadata, ...runShape },
      });
    } finally {
      tf.dispose(Object.values(modelState));
      // getWeights returns new tensors for the iteration count; the moments are the optimizer's own.
      for (const weight of optimizerState) if (weight.name === 'iter') weight.tensor.dispose();
    }
  };

  const runMultiPassStep = async (
    stepper: MultiPassOptimizer,
    indices: Int32Array,
    epochIndex: number,
    stepIndex: number,
  ): Promise<{ lossValue: number; gradientNorm: undefined }> => {
    // tf.clone shares data: these snapshots cost no copy, and undo whatever a failed step left behind
    const bufferSnapshot = buffers.map((buffer) => tf.clone(buffer));
    const variableSnapshot = variables.map((variable) => tf.clone(variable));
    const restore = () => {
      buffers.forEach((buffer, index) => {
        buffer.assign(bufferSnapshot[index]!);
      });
      variables.forEach((variable, index) => {
        variable.assign(variableSnapshot[index]!);
      });
    };
    const release = () => tf.dispose([...bufferSnapshot, ...variableSnapshot]);
    const nonFinite = (value: number) =>
      new NonFiniteLossError(epochIndex, stepIndex + 1, globalStep + 1, value);
    let outputShape: number[] = [];
    let checks = 0;
    let value: tf.Scalar;
    try {
      value = tf.tidy(() => {
        const batchIndices = tf.tensor1d(indices, 'int32');
        const x = tf.gather(data.x, batchIndices);
        const y = tf.gather(data.y, batchIndices);
        return stepper.trainingStep({
          computeLoss: () => {
            const output = model.forward(x, { training: true });
            outputShape = output.shape;
            return lossFunction(output, y);
          },
          varList: variables,
          checkLoss: (loss) => {
            checks++;
            checkLabels('fit', labels, { rank: outputShape.length, shape: outputShape });
            const lossValue = loss.dataSync()[0]!;
            if (!Number.isFinite(lossValue)) throw nonFinite(lossValue);
          },
        });
      });
    } catch (error) {
      disposeAbandonedTape();
      restore();
      release();
      throw error;
    }
    const lossValue = (await value.data())[0]!;
    value.dispose();
    if (checks === 0 || !Number.isFinite(lossValue)) {
      restore();
      release();
      if (checks > 0) throw nonFinite(lossValue);
      throw new Error(
        `fit: ${optimizer.getClassName()}.trainingStep never called context.checkLoss; the step was undone (a multi-pass optimizer must check every evaluation before updating)`,
      );
    }
    release();
    return { lossValue, gradientNorm: undefined };
  };

  const runStep = async (indices: Int32Array, epochIndex: number, stepIndex: number) => {
    // Buffers (BatchNorm statistics) change during the forward pass; keep their values so a step that
    // turns out non-finite can be undone. tf.clone shares data, so this costs no copy.
    const bufferSnapshot = buffers.map((buffer) => tf.clone(buffer));
    const restoreBuffers = () => {
      buffers.forEach((buffer, index) => {
        buffer.assign(bufferSnapshot[index]!);
      });
    };
    let result: { value: tf.Scalar; gradients: tf.NamedTensorMap; norm: tf.Tensor | undefined };
    let outputShape: number[] = [];
    try {
      result = tf.tidy(() => {
        const batchIndices = tf.tensor1d(indices, 'int32');
        const x = tf.gather(data.x, batchIndices);
        const y = tf.gather(data.y, batchIndices);
        const { value, grads } = tf.variableGrads(() => {
          const output = model.forward(x, { training: true });
          outputShape = output.shape;
          return lossFunction(output, y);
        }, variables);
        let norm: tf.Tensor | undefined;
        let gradients = grads;
        if (options.clipGradNorm != null) {
          const globalNorm = tf.sqrt(
            tf.addN(Object.values(grads).map((gradient) => tf.sum(tf.square(gradient)))),
          );
          norm = globalNorm;
          const scale = tf.minimum(1, tf.div(options.clipGradNorm, tf.add(globalNorm, 1e-6)));
          gradients = Object.fromEntries(
            Object.entries(grads).map(([name, gradient]) => [name, tf.mul(gradient, scale)]),
          );
        }
        return { value, gradients, norm };
      });
    } catch (error) {
      disposeAbandonedTape();
      restoreBuffers();
      tf.dispose(bufferSnapshot);
      throw error;
    }
    const release = () =>
      tf.dispose([result.value, ...(result.norm ? [result.norm] : []), ...Object.values(result.gradients)]);
    try {
      // checked after the tape closed: an error thrown inside tf.variableGrads leaks its saved tensors
      checkLabels('fit', labels, { rank: outputShape.length, shape: outputShape });
    } catch (error) {
      release();
      restoreBuffers();
      tf.dispose(bufferSnapshot);
      throw error;
    }
    const lossValue = (await result.value.data())[0]!;
    const gradientNorm = result.norm ? (await result.norm.data())[0]! : undefined;
    const nonFinite = !Number.isFinite(lossValue) || (gradientNorm != null && !Number.isFinite(gradientNorm));
    if (nonFinite) restoreBuffers();
    tf.dispose(bufferSnapshot);
    if (nonFinite) {
      release();
      throw Number.isFinite(lossValue)
        ? new NonFiniteLossError(epochIndex, stepIndex + 1, globalStep + 1, gradientNorm!, 'gradient norm')
        : new NonFiniteLossError(epochIndex, stepIndex + 1, globalStep + 1, lossValue);
    }
    let gradients = result.gradients;
    if (options.transformGradients) {
      const byParameter: Record<string, tf.Tensor> = {};
      for (const [variableName, gradient] of Object.entries(gradients)) {
        byParameter[variableToParameter.get(variableName) ?? variableName] = gradient;
      }
      const transformed = options.transformGradients(byParameter, globalStep + 1);
      gradients = {};
      for (const [name, variable] of parameters) {
        const gradient = transformed[name];
        if (gradient) gradients[variable.name] = gradient;
      }
      const kept = new Set(Object.values(gradients));
      tf.dispose(Object.values(result.gradients).filter((gradient) => !kept.has(gradient)));
    }
    optimizer.applyGradients(gradients);
    tf.dispose([result.value, ...(result.norm ? [result.norm] : []), ...Object.values(gradients)]);
    return { lossValue, gradientNorm };
  };

  const history: EpochSummary[] = [];
  for (let epoch = startEpoch; epoch < epochs; epoch++) {
    const started = Date.now();
    const order = epochOrder(count, shuffle, seed, epoch);
    let lossSum = 0;
    let lossSteps = 0;
    let abortedAfterLastStep = false;
    for (let step = epoch === startEpoch ? skipSteps : 0; step < stepsPerEpoch; step++) {
      if (options.signal?.aborted) {
        // aborted before this step ran: keep the position reached so far
        if (lossSteps > 0) await saveCheckpoint(epoch, step);
        return { history, globalStep, aborted: true, ...(resumedFrom ? { resumedFrom } : {}) };
      }
      const indices = order.subarray(step * batchSize, Math.min(count, (step + 1) * batchSize));
      const { lossValue, gradientNorm } = multiPass
        ? await runMultiPassStep(multiPass, indices, epoch, step)
        : await runStep(indices, epoch, step);
      globalStep++;
      lossSum += lossValue;
      lossSteps++;
      options.onProgress?.({
        epoch: epoch + 1,
        epochs,
        step: step + 1,
        stepsPerEpoch,
        globalStep,
        loss: lossValue,
        ...(gradientNorm != null ? { gradientNorm } : {}),
      });
      const last = step + 1 === stepsPerEpoch;
      if (checkpoint?.everySteps && globalStep % checkpoint.everySteps === 0 && !last) {
        await saveCheckpoint(epoch, step + 1);
      }
      if (options.signal?.aborted) {
        if (last) {
          // finish the epoch (validation, checkpoint at its end, onEpochEnd), then stop
          abortedAfterLastStep = true;
          break;
        }
        await saveCheckpoint(epoch, step + 1);
        return { history, globalStep, aborted: true, ...(resumedFrom ? { resumedFrom } : {}) };
      }
      if ((step + 1) % yieldEvery === 0) await nextTick();
    }
    const summary: EpochSummary = {
      epoch: epoch + 1,
      loss: lossSteps > 0 ? lossSum / lossSteps : Number.NaN,
      seconds: (Date.now() - started) / 1000,
    };
    if (options.validationData) {
      summary.validation = await evaluate(model, options.validationData, {
        batchSize,
        ...(options.loss ? { loss: options.loss } : {}),
      });
    }
    await saveCheckpoint(epoch + 1, 0);
    history.push(summary);
    await options.onEpochEnd?.(summary);
    if (abortedAfterLastStep)
      return { history, globalStep, aborted: true, ...(resumedFrom ? { resumedFrom } : {}) };
  }
  return { history, globalStep, aborted: false, ...(resumedFrom ? { resumedFrom } : {}) };
}

/**
 * Runs the model in inference mode over `data` in batches and reports the mean loss, and for
 * class-index targets top-1 and top-k accuracy.
 */
export async function evaluate(
  model: TensorModule,
  data: Dataset,
  options: EvaluateOptions = {},
): Promise<EvaluationResult> {
  const count = checkDataset('evaluate', data);
  const lossFunction = resolveLoss(options.loss);
  const batchSize = positiveInteger('evaluate', 'batchSize', options.batchSize ?? 256);
  const classification = data.y.rank === 1;
  const labelBounds = usesClassIndices(options.loss) ? await labelRange(data.y) : undefined;
  let lossSum = 0;
  let correct = 0;
  let numClasses = 0;
  const topKCorrect = new Map<number, number>();
  for (let start = 0; start < count; start += batchSize) {
    const size = Math.min(batchSize, count - start);
    const { loss, hits, topHits } = tf.tidy(() => {
      const x = tf.slice(data.x, start, size);
      const y = tf.slice(data.y, start, size);
      const output = model.forward(x, { training: false });
      checkLabels('evaluate', labelBounds, output);
      const loss = tf.mul(lossFunction(output, y), size);
      if (!classification || output.rank !== 2)
        return { loss, hits: undefined, topHits: [] as Array<[number, tf.Tensor]> };
      numClasses = output.shape[1]!;
      const labels = tf.cast(y, 'int32');
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(output, -1), labels), 'int32'));
      const ks = (options.topK ?? (numClasses > 5 ? [5] : [])).filter((k) => k > 1 && k <= numClasses);
      const topHits = ks.map((k): [number, tf.Tensor] => {
        const { indices } = tf.topk(output, k);
        return [k, tf.sum(tf.cast(tf.equal(indices, tf.expandDims(labels, 1)), 'int32'))];
      });
      return { loss, hits, topHits };
    });
    lossSum += (await loss.data())[0]!;
    if (hits) correct += (await hits.data())[0]!;
    for (const [k, tensor] of topHits)
      topKCorrect.set(k, (topKCorrect.get(k) ?? 0) + (await tensor.data())[0]!);
    tf.dispose([loss, ...(hits ? [hits] : []), ...topHits.map(([, tensor]) => tensor)]);
  }
  const result: EvaluationResult = { loss: lossSum / count, count };
  if (classification && numClasses > 0) {
    result.accuracy = correct / count;
    if (topKCorrect.size > 0) {
      result.topK = Object.fromEntries([...topKCorrect].map(([k, hits]) => [k, hits / count]));
    }
  }
  return result;
}

/** A checkpoint store in memory (tests, browsers without storage). */
export function memoryCheckpoint(): CheckpointStore & { state: CheckpointState | null } {
  const store = {
    location: 'memory',
    state: null as CheckpointState | null,
    async save(state: CheckpointState) {
      if (store.state) {
        tf.dispose(Object.values(store.state.model));
        tf.dispose(store.state.optimizer.map((weight) => weight.tensor));
      }
      store.state = {
        ...state,
        model: Object.fromEntries(
          Object.entries(state.model).map(([name, tensor]) => [name, tf.clone(tensor)]),
        ),
        optimizer: state.optimizer.map((weight) => ({ name: weight.name, tensor: tf.clone(weight.tensor) })),
      };
    },
    async load() {
      if (!store.state) return null;
      return {
        ...store.state,
        model: Object.fromEntries(
          Object.entries(store.state.model).map(([name, tensor]) => [name, tf.clone(tensor)]),
        ),
        optimizer: store.state.optimizer.map((weight) => ({
          name: weight.name,
          tensor: tf.clone(weight.tensor),
        })),
      };
    },
  };
  return store;
}
