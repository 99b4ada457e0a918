// SAM and L-BFGS driven by core's fit through its multi-pass protocol (trainingStep): the same steps
// as minimize driven by hand, the non-finite guard before any update, checkpoints that resume.
import { fit, meanSquaredError, memoryCheckpoint, NonFiniteLossError } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW } from '../src/adamw.js';
import { LBFGS } from '../src/lbfgs.js';
import { SAM } from '../src/sam.js';
import { regressionData, TinyRegressor } from './helpers.js';

const values = (model: TinyRegressor) =>
  [...model.namedParameters().values()].flatMap((variable) => Array.from(variable.dataSync()));

const makeSAM = () => new SAM({ base: new AdamW({ learningRate: 0.02, weightDecay: 0 }), rho: 0.05 });
const makeLBFGS = () => new LBFGS({ maxIterations: 4, historySize: 5 });

const cases = [
  { name: 'SAM(AdamW)', make: makeSAM, batchSize: 8, epochs: 3, evaluationsPerStep: 2 },
  { name: 'LBFGS', make: makeLBFGS, batchSize: 32, epochs: 4, evaluationsPerStep: undefined },
] as const;

describe('fit drives multi-pass optimizers', () => {
  for (const { name, make, batchSize, epochs, evaluationsPerStep } of cases) {
    it(`${name}: the loss falls, the steps equal minimize driven by hand, nothing leaks`, async () => {
      const baseline = tf.memory().numTensors;
      const data = regressionData(32, 1);
      const model = new TinyRegressor(0);
      const reference = new TinyRegressor(0);
      const optimizer = make();
      let evaluations = 0;
      const loss = (predictions: tf.Tensor, targets: tf.Tensor) => {
        evaluations++;
        return meanSquaredError(predictions, targets);
      };
      const counts: number[] = [];
      const result = await fit(model, data, {
        optimizer,
        loss,
        epochs,
        batchSize,
        shuffle: false,
        onProgress: () => counts.push(tf.memory().numTensors),
      });
      const steps = epochs * (32 / batchSize);
      expect(result.globalStep).toBe(steps);
      expect(optimizer.iterations).toBe(steps);
      if (evaluationsPerStep) expect(evaluations).toBe(steps * evaluationsPerStep);
      else expect(evaluations).toBeGreaterThan(steps); // the line search evaluates several times
      // flat once the optimizer's slots exist (after the first step)
      expect(new Set(counts.slice(1))).toEqual(new Set([counts[1]]));
      const [first, last] = [result.history[0]!.loss, result.history.at(-1)!.loss];
      expect(last).toBeLessThan(first * 0.8);

      // the same batches through minimize, one call per step
      const byHand = make();
      const variables = [...reference.namedParameters({ trainable: true }).values()];
      const handLosses: number[] = [];
      for (let epoch = 0; epoch < epochs; epoch++) {
        for (let start = 0; start < 32; start += batchSize) {
          const value = byHand.minimize(
            () =>
              tf.tidy(() =>
                meanSquaredError(
                  reference.forward(tf.slice(data.x, start, batchSize)),
                  tf.slice(data.y, start, batchSize),
                ),
              ),
            true,
            variables,
          )!;
          handLosses.push(value.dataSync()[0]!);
          value.dispose();
        }
      }
      const expected = values(reference);
      values(model).forEach((value, index) => {
        expect(Math.abs(value - expected[index]!)).toBeLessThan(1e-6);
      });
      const perEpoch = 32 / batchSize;
      const lastEpoch = handLosses.slice(-perEpoch).reduce((sum, value) => sum + value, 0) / perEpoch;
      expect(Math.abs(last - lastEpoch)).toBeLessThan(1e-6);
      if (optimizer instanceof LBFGS && byHand instanceof LBFGS)
        expect(optimizer.functionEvaluations).toBe(byHand.functionEvaluations);
      optimizer.dispose();
      byHand.dispose();
      model.dispose();
      reference.dispose();
      tf.dispose([data.x, data.y]);
      expect(tf.memory().numTensors).toBe(baseline);
    });
  }

  it('SAM: a non-finite first or second loss stops before any update, perturbation removed', async () => {
    const data = regressionData(16, 2);
    for (const poisoned of [3, 4]) {
      // step 1 evaluates twice (calls 1, 2); step 2 fails at its first (3) or second (4) pass
      const count = tf.memory().numTensors;
      const model = new TinyRegressor(1);
      const optimizer = makeSAM();
      let calls = 0;
      const loss = (predictions: tf.Tensor, targets: tf.Tensor) => {
        calls++;
        const value = meanSquaredError(predictions, targets);
        return calls === poisoned ? (tf.mul(value, Number.NaN) as tf.Scalar) : value;
      };
      let afterStep: number[] = [];
      const error = await fit(model, data, {
        optimizer,
        loss,
        batchSize: 8,
        shuffle: false,
        onProgress: () => {
          afterStep = values(model);
        },
      }).then(
        () => null,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(NonFiniteLossError);
      expect(error).toMatchObject({ step: 2, globalStep: 2 });
      expect(values(model)).toEqual(afterStep);
      expect(optimizer.perturbed).toBe(false);
      expect(optimizer.iterations).toBe(1);
      expect(optimizer.base.iterations).toBe(1);
      optimizer.dispose();
      model.dispose();
      expect(tf.memory().numTensors).toBe(count);
    }
    tf.dispose([data.x, data.y]);
  });

  it('LBFGS: a non-finite loss inside the line search undoes the step and keeps the history', async () => {
    const data = regressionData(32, 3);
    const run = async (failAt?: number) => {
      const model = new TinyRegressor(2);
      const optimizer = makeLBFGS();
      let calls = 0;
      let failing = false;
      const loss = (predictions: tf.Tensor, targets: tf.Tensor) => {
        calls++;
        const value = meanSquaredError(predictions, targets);
        return failing && calls === failAt ? (tf.mul(value, Number.NaN) as tf.Scalar) : value;
      };
      const options = { optimizer, loss, batchSize: 32, shuffle: false };
      await fit(model, data, options);
      const afterFirst = values(model);
      const evaluationsAfterFirst = optimizer.functionEvaluations;
      if (failAt != null) {
        calls = 0;
        failing = true;
        await expect(fit(model, data, options)).rejects.toThrow(NonFiniteLossError);
        expect(calls).toBe(failAt);
        expect(values(model)).toEqual(afterFirst);
        expect(optimizer.functionEvaluations).toBe(evaluationsAfterFirst);
        expect(optimizer.iterations).toBe(1);
        failing = false;
      }
      await fit(model, data, options);
      const state = { weights: values(model), evaluations: optimizer.functionEvaluations };
      optimizer.dispose();
      model.dispose();
      return state;
    };
    const count = tf.memory().numTensors;
    const clean = await run();
    // call 1 is the step's starting point; call 3 lies inside the line search of its iterations
    const recovered = await run(3);
    expect(recovered).toEqual(clean);
    expect(tf.memory().numTensors).toBe(count);
    tf.dispose([data.x, data.y]);
  });

  for (const { name, make, batchSize } of cases) {
    it(`${name}: resumes from a checkpoint and matches an uninterrupted run`, async () => {
      const data = regressionData(32, 4);
      const run = async (interruptAfter?: number) => {
        let model = new TinyRegressor(3);
        const store = memoryCheckpoint();
        const options = { loss: 'mse' as const, epochs: 2, batchSize, seed: 1, checkpoint: store };
        if (interruptAfter != null) {
          const controller = new AbortController();
          const first = make();
          const result = await fit(model, data, {
            ...options,
            optimizer: first,
            signal: controller.signal,
            onProgress: ({ globalStep }) => {
              if (globalStep === interruptAfter) controller.abort();
            },
          });
          expect(result.aborted).toBe(true);
          first.dispose();
          model.dispose();
          model = new TinyRegressor(9); // other weights: everything must come from the checkpoint
        }
        const optimizer = make();
        const result = await fit(model, data, { ...options, optimizer });
        const state = { weights: values(model), iterations: optimizer.iterations, result };
        optimizer.dispose();
        model.dispose();
        if (store.state)
          tf.dispose([
            ...Object.values(store.state.model),
            ...store.state.optimizer.map((weight) => weight.tensor),
          ]);
        return state;
      };
      const whole = await run();
      const stepsPerEpoch = 32 / batchSize;
      const interrupted = await run(stepsPerEpoch === 1 ? 1 : 3);
      expect(interrupted.result.resumedFrom).toBeDefined();
      expect(interrupted.iterations).toBe(whole.iterations);
      interrupted.weights.forEach((value, index) => {
        expect(Math.abs(value - whole.weights[index]!)).toBeLessThan(1e-6);
      });
      tf.dispose([data.x, data.y]);
    });
  }
});
