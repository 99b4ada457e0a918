// The learning-rate schedule and optimizer options of `mlzoo train`: the rates each update gets, that the
// wrapped optimizers really use them, and a one-step run through the command line whose only update has
// rate 0 (the first warmup step), so its weights must come out equal to the initial ones.
import { join } from 'node:path';
import { manualSeed } from '@mlzoo/core';
import { AdamW, ScheduledOptimizer } from '@mlzoo/optimizers';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { createOptimizer, type TrainingSettings } from '../src/training.js';
import { buildModel, loadWeights } from '../src/weights.js';
import { runMlzoo } from './run-mlzoo.js';
import { scratchDirectory } from './scratch-directory.js';

const MODEL = 'mlp_fashion_mnist';
const base: TrainingSettings = { epochs: 2, batchSize: 8, learningRate: 0.01, seed: 0 };

const directory = scratchDirectory('mlzoo-schedule-');
let suiteBackend: string;
beforeAll(() => {
  suiteBackend = tf.getBackend();
});

describe('createOptimizer', () => {
  it('cosine: linear warmup from 0 over the warmup epochs, then half a cosine to 0 at the last update', () => {
    const { optimizer, learningRateAt } = createOptimizer(
      { ...base, optimizer: 'adamw', weightDecay: 0.05, learningRateSchedule: 'cosine', warmupEpochs: 1 },
      4,
    );
    expect(optimizer).toBeInstanceOf(AdamW);
    expect((optimizer as AdamW).weightDecay).toBe(0.05);
    // 2 epochs of 4 updates: updates 0..3 warm up, 4..7 follow the cosine over 4 steps
    const expected = [0, 0.0025, 0.005, 0.0075, 0.01, 0.00853553, 0.005, 0.00146447];
    for (const [step, rate] of expected.entries()) expect(learningRateAt(step)).toBeCloseTo(rate, 7);
    expect(learningRateAt(8)).toBe(0);
    optimizer.dispose();
  });

  it('constant Adam is the bare tf Adam; AdamW defaults to weight decay 0.01', () => {
    const adam = createOptimizer(base, 4);
    expect(adam.optimizer.getClassName()).toBe('Adam');
    expect(adam.learningRateAt(0)).toBe(0.01);
    expect(adam.learningRateAt(7)).toBe(0.01);
    adam.optimizer.dispose();
    const adamw = createOptimizer({ ...base, optimizer: 'adamw' }, 4);
    expect((adamw.optimizer as AdamW).weightDecay).toBe(0.01);
    adamw.optimizer.dispose();
  });

  it('Adam under the cosine schedule takes each update at the scheduled rate', () => {
    const before = tf.memory().numTensors;
    const { optimizer } = createOptimizer(
      { ...base, epochs: 1, learningRateSchedule: 'cosine', warmupEpochs: 1 },
      2,
    );
    expect(optimizer).toBeInstanceOf(ScheduledOptimizer);
    const variable = tf.tidy(() => tf.variable(tf.tensor1d([1, 2])));
    const gradient = tf.tensor1d([1, 1]);
    tf.tidy(() => optimizer.applyGradients({ [variable.name]: gradient }));
    // update 0 has rate 0: nothing moves
    expect(Array.from(variable.dataSync())).toEqual([1, 2]);
    tf.tidy(() => optimizer.applyGradients({ [variable.name]: gradient }));
    // update 1 has rate 0.005; with a constant gradient Adam's bias-corrected m/sqrt(v) is 1
    const moved = Array.from(variable.dataSync());
    expect(moved[0]).toBeCloseTo(1 - 0.005, 5);
    expect(moved[1]).toBeCloseTo(2 - 0.005, 5);
    optimizer.dispose();
    tf.dispose([variable, gradient]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects option combinations that would be ignored', () => {
    expect(() => createOptimizer({ ...base, weightDecay: 0.1 }, 4)).toThrow(UsageError);
    expect(() => createOptimizer({ ...base, weightDecay: 0.1 }, 4)).toThrow(/--optimizer adamw/);
    expect(() => createOptimizer({ ...base, warmupEpochs: 1 }, 4)).toThrow(/--lr-schedule cosine/);
    expect(() => createOptimizer({ ...base, learningRateSchedule: 'cosine', warmupEpochs: 3 }, 4)).toThrow(
      /from 0 to the number of epochs \(2\), got 3/,
    );
  });
});

/** A module's parameters and buffers as arrays, by PyTorch name. */
function stateValues(module: { stateDict(): Record<string, tf.Tensor> }): Record<string, Float32Array> {
  const state = module.stateDict();
  const values = Object.fromEntries(
    Object.entries(state).map(([name, tensor]) => [name, tensor.dataSync() as Float32Array]),
  );
  tf.dispose(Object.values(state));
  return values;
}

/** The initial weights `mlzoo train --seed <seed>` starts from. */
function initialState(seed: number): Record<string, Float32Array> {
  manualSeed(seed);
  const built = buildModel(MODEL, { imgSize: 28, inChans: 1, numClasses: 10 });
  const values = stateValues(built.model);
  built.model.dispose();
  return values;
}

async function trainedState(path: string): Promise<Record<string, Float32Array>> {
  const loaded = await loadWeights(path, MODEL);
  const values = stateValues(loaded.model);
  loaded.model.dispose();
  return values;
}

describe('mlzoo train --lr-schedule', () => {
  const oneStep = (out: string) => [
    'train',
    MODEL,
    '--limit-train',
    '16',
    '--limit-test',
    '16',
    '--batch-size',
    '16',
    '--epochs',
    '1',
    '--seed',
    '5',
    '--backend',
    suiteBackend,
    '--out',
    out,
    '--json',
    '--no-progress',
  ];

  it('a run whose single update is the first warmup step (rate 0) leaves the initial weights', async () => {
    const out = join(directory(), 'warmup.safetensors');
    const args = [...oneStep(out), '--optimizer', 'adamw', '--weight-decay', '0.05'];
    const { code, stdout, stderr } = await runMlzoo([
      ...args,
      '--lr-schedule',
      'cosine',
      '--warmup-epochs',
      '1',
    ]);
    expect(code, stderr).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      optimizer: 'adamw',
      weightDecay: 0.05,
      learningRateSchedule: 'cosine',
      warmupEpochs: 1,
      globalStep: 1,
    });
    expect(stderr).toContain('adamw lr 0.001 wd 0.05, cosine schedule, 1 warmup epochs');
    const initial = initialState(5);
    const trained = await trainedState(out);
    expect(Object.keys(trained).sort()).toEqual(Object.keys(initial).sort());
    for (const [name, values] of Object.entries(initial)) expect(trained[name], name).toEqual(values);

    // the same run with a constant rate moves every weight matrix
    const constantOut = join(directory(), 'constant.safetensors');
    const constant = await runMlzoo([
      ...oneStep(constantOut),
      '--optimizer',
      'adamw',
      '--weight-decay',
      '0.05',
    ]);
    expect(constant.code, constant.stderr).toBe(0);
    expect(JSON.parse(constant.stdout)).toMatchObject({ learningRateSchedule: 'constant', warmupEpochs: 0 });
    const moved = await trainedState(constantOut);
    const changed = Object.keys(initial).filter((name) =>
      initial[name]!.some((value, index) => value !== moved[name]![index]),
    );
    expect(changed.length).toBe(Object.keys(initial).length);
  });

  it('rejects an unknown schedule and weight decay without AdamW, naming the option', async () => {
    const out = join(directory(), 'never.safetensors');
    const unknown = await runMlzoo([...oneStep(out), '--lr-schedule', 'linear']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("--lr-schedule must be one of constant, cosine, got 'linear'");
    const decay = await runMlzoo([...oneStep(out), '--weight-decay', '0.1']);
    expect(decay.code).toBe(1);
    expect(decay.stderr).toContain('--weight-decay needs --optimizer adamw');
  });
});
