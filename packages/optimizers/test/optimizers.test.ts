// timm-style checks for every optimizer: the loss falls on a small network, Rosenbrock converges, the
// state saves and restores exactly through getWeights/setWeights, and core's fit can drive it.
import { fit } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW } from '../src/adamw.js';
import { Lamb } from '../src/lamb.js';
import { LBFGS } from '../src/lbfgs.js';
import { Lion } from '../src/lion.js';
import { SAM } from '../src/sam.js';
import { cosineWithWarmup, ScheduledOptimizer } from '../src/schedules.js';
import { SGD } from '../src/sgd.js';
import { regressionData, rosenbrock, TinyRegressor } from './helpers.js';

type Make = () => tf.Optimizer;
// Rosenbrock starts at 56.5; after 400 steps the first-order optimizers are below 0.05, SAM's
// perturbation (it minimises the worst loss nearby, and the valley is sharp) leaves it below 0.2.
const OPTIMIZERS: Record<string, { network: Make; rosenbrock: Make; bound?: number }> = {
  AdamW: {
    network: () => new AdamW({ learningRate: 0.02 }),
    rosenbrock: () => new AdamW({ learningRate: 0.1, beta1: 0.5, weightDecay: 0 }),
  },
  'SGD (Nesterov)': {
    network: () => new SGD({ learningRate: 0.05, momentum: 0.9, nesterov: true }),
    rosenbrock: () => new SGD({ learningRate: 1e-3, momentum: 0.9, nesterov: true }),
  },
  Lion: {
    network: () => new Lion({ learningRate: 3e-3, weightDecay: 0.1 }),
    rosenbrock: () => new Lion({ learningRate: 3e-3 }),
  },
  Lamb: {
    network: () => new Lamb({ learningRate: 0.02 }),
    rosenbrock: () => new Lamb({ learningRate: 0.1, beta1: 0.5, weightDecay: 0, maxGradNorm: null }),
  },
  'SAM(AdamW)': {
    network: () => new SAM({ base: new AdamW({ learningRate: 0.02 }), rho: 0.05 }),
    rosenbrock: () =>
      new SAM({ base: new AdamW({ learningRate: 0.1, beta1: 0.5, weightDecay: 0 }), rho: 0.01 }),
    bound: 0.2,
  },
  'ASAM(SGD)': {
    network: () =>
      new SAM({ base: new SGD({ learningRate: 0.05, momentum: 0.9 }), rho: 0.5, adaptive: true }),
    rosenbrock: () =>
      new SAM({
        base: new SGD({ learningRate: 1e-3, momentum: 0.9, nesterov: true }),
        rho: 0.01,
        adaptive: true,
      }),
    bound: 0.2,
  },
  LBFGS: {
    network: () => new LBFGS({ maxIterations: 5 }),
    rosenbrock: () => new LBFGS({ maxIterations: 10 }),
  },
};

const networkLoss = (model: TinyRegressor, x: tf.Tensor, y: tf.Tensor) => () =>
  tf.tidy(() => tf.mean(tf.square(tf.sub(model.forward(x), y)))) as tf.Scalar;

describe.each(Object.entries(OPTIMIZERS))('%s', (_name, make) => {
  it('lowers the loss of a small network without leaking tensors', () => {
    const { x, y } = regressionData();
    const model = new TinyRegressor();
    const loss = networkLoss(model, x, y);
    const optimizer = make.network();
    const before = tf.memory().numTensors;
    const start = tf.tidy(() => loss().dataSync()[0]!);
    for (let step = 0; step < 30; step++) optimizer.minimize(loss, false, model.parameters());
    const end = tf.tidy(() => loss().dataSync()[0]!);
    expect(end).toBeLessThan(0.5 * start);
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
    tf.dispose([x, y]);
  });

  it('converges on Rosenbrock from (1.5, 1.5)', () => {
    const w = tf.tidy(() => tf.variable(tf.tensor1d([1.5, 1.5])));
    const optimizer = make.rosenbrock();
    // (instanceof cannot tell optimizers apart: tf.Optimizer's Symbol.hasInstance is duck-typed)
    const quasiNewton = optimizer.getClassName() === 'LBFGS';
    const steps = quasiNewton ? 20 : 400;
    for (let step = 0; step < steps; step++) optimizer.minimize(rosenbrock(w), false, [w]);
    const final = tf.tidy(() => rosenbrock(w)().dataSync()[0]!);
    expect(final).toBeLessThan(quasiNewton ? 1e-8 : (make.bound ?? 0.05));
    optimizer.dispose();
    w.dispose();
  });

  it('saves and restores its state exactly (getWeights / setWeights)', async () => {
    const { x, y } = regressionData();
    const model = new TinyRegressor();
    const loss = networkLoss(model, x, y);
    const variables = model.parameters();
    const optimizer = make.network();
    for (let step = 0; step < 3; step++) optimizer.minimize(loss, false, variables);
    const saved = (await optimizer.getWeights()).map(({ name, tensor }) => ({
      name,
      tensor: tf.clone(tensor),
    }));
    const weights = variables.map((variable) => tf.clone(variable));
    for (let step = 0; step < 3; step++) optimizer.minimize(loss, false, variables);
    const continued = variables.map((variable) => Array.from(variable.dataSync()));
    variables.forEach((variable, index) => {
      variable.assign(weights[index]!);
    });
    const restored = make.network();
    await restored.setWeights(saved);
    expect(restored.iterations).toBe(3);
    for (let step = 0; step < 3; step++) restored.minimize(loss, false, variables);
    variables.forEach((variable, index) => {
      expect(Array.from(variable.dataSync())).toEqual(continued[index]);
    });
    tf.dispose([...weights, ...saved.map((weight) => weight.tensor), x, y]);
    optimizer.dispose();
    restored.dispose();
    model.dispose();
  });
});

describe('restoring into a new process', () => {
  it('binds saved state to differently named variables by position (AdamW)', async () => {
    const { x, y } = regressionData();
    const runs: number[][][] = [];
    const models = [new TinyRegressor(), new TinyRegressor()];
    const first = new AdamW({ learningRate: 0.02 });
    const firstLoss = networkLoss(models[0]!, x, y);
    for (let step = 0; step < 3; step++) first.minimize(firstLoss, false, models[0]!.parameters());
    const saved = (await first.getWeights()).map(({ name, tensor }) => ({ name, tensor: tf.clone(tensor) }));
    // the second model has other variable names; give it the first model's weights
    models[1]!.loadStateDict(models[0]!.stateDict());
    const second = new AdamW({ learningRate: 0.02 });
    await second.setWeights(saved);
    for (const [index, optimizer] of [first, second].entries()) {
      const model = models[index]!;
      const loss = networkLoss(model, x, y);
      for (let step = 0; step < 3; step++) optimizer.minimize(loss, false, model.parameters());
      runs.push(model.parameters().map((variable) => Array.from(variable.dataSync())));
    }
    expect(runs[1]).toEqual(runs[0]);
    const wrong = new AdamW();
    await wrong.setWeights(saved);
    const other = tf.variable(tf.zeros([3]));
    expect(() => wrong.applyGradients({ [other.name]: tf.zeros([3]) })).toThrow(
      /has shape \[4,8\] but variable/,
    );
    tf.dispose([x, y, other, ...saved.map((weight) => weight.tensor)]);
    for (const item of [first, second, wrong, ...models]) item.dispose();
  });
});

describe('with core fit', () => {
  it('trains with AdamW and a cosine schedule, and a scheduled tf.train.adam', async () => {
    const { x, y } = regressionData(64);
    for (const optimizer of [
      new AdamW({ learningRate: cosineWithWarmup({ learningRate: 0.02, totalSteps: 40, warmupSteps: 4 }) }),
      new ScheduledOptimizer(tf.train.adam(0.02), (step) => 0.02 * 0.95 ** step),
    ]) {
      const model = new TinyRegressor();
      const result = await fit(model, { x, y }, { optimizer, loss: 'mse', epochs: 10, batchSize: 16 });
      expect(result.history[9]!.loss).toBeLessThan(0.6 * result.history[0]!.loss);
      expect(optimizer.iterations).toBe(40);
      optimizer.dispose();
      model.dispose();
    }
    tf.dispose([x, y]);
  });

  it('a scheduled SAM keeps its two-pass step: fit drives trainingStep, minimize delegates, the base gets the rate', async () => {
    const { x, y } = regressionData(32);
    const model = new TinyRegressor();
    const base = new AdamW({ learningRate: 0.05 });
    const optimizer = new ScheduledOptimizer(new SAM({ base }), (step) => 0.05 / (1 + step));
    expect(typeof optimizer.trainingStep).toBe('function');
    expect(typeof new ScheduledOptimizer(tf.train.adam(0.1), () => 0.1).trainingStep).toBe('undefined');
    const result = await fit(model, { x, y }, { optimizer, loss: 'mse', epochs: 3, batchSize: 16 });
    expect(result.globalStep).toBe(6);
    expect(optimizer.iterations).toBe(6);
    expect(base.learningRate).toBeCloseTo(0.05 / 6, 10);
    expect(result.history[2]!.loss).toBeLessThan(result.history[0]!.loss);
    const cost = optimizer.minimize(() => tf.mean(tf.square(tf.sub(model.forward(x), y))), true);
    expect(cost).not.toBeNull();
    expect(optimizer.iterations).toBe(7);
    expect(base.learningRate).toBeCloseTo(0.05 / 7, 10);
    tf.dispose([cost!, x, y]);
    optimizer.dispose();
    model.dispose();
  });

  it('SAM trains through fit (trainingStep; see fit.test.ts) but one gradient alone cannot make its step', async () => {
    const { x, y } = regressionData(16);
    const model = new TinyRegressor();
    const optimizer = new SAM({ base: new AdamW() });
    const result = await fit(model, { x, y }, { optimizer, loss: 'mse', batchSize: 16 });
    expect(result.globalStep).toBe(1);
    const { value, grads } = tf.variableGrads(() => networkLoss(model, x, y)(), model.parameters());
    expect(() => optimizer.applyGradients(grads)).toThrow(/SAM needs the loss twice/);
    tf.dispose([value, ...Object.values(grads)]);
    optimizer.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });
});

describe('SAM', () => {
  it('perturb + applyGradients in a hand-written loop equals minimize', () => {
    const { x, y } = regressionData();
    const runs = [0, 1].map((manual) => {
      const model = new TinyRegressor();
      const loss = networkLoss(model, x, y);
      const variables = model.parameters();
      const sam = new SAM({ base: new SGD({ learningRate: 0.1, momentum: 0.9 }), rho: 0.1 });
      for (let step = 0; step < 4; step++) {
        if (manual) {
          const first = tf.variableGrads(loss, variables);
          sam.perturb(first.grads);
          expect(sam.perturbed).toBe(true);
          const second = tf.variableGrads(loss, variables);
          sam.applyGradients(second.grads);
          tf.dispose([first.value, second.value, first.grads, second.grads]);
        } else {
          sam.minimize(loss, false, variables);
        }
      }
      const values = variables.map((variable) => Array.from(variable.dataSync()));
      sam.dispose();
      model.dispose();
      return values;
    });
    expect(runs[1]).toEqual(runs[0]);
    tf.dispose([x, y]);
  });

  it('moves along the global gradient by exactly rho', () => {
    const a = tf.variable(tf.tensor1d([1, 2]));
    const b = tf.variable(tf.tensor1d([3]));
    const sam = new SAM({ base: new SGD(), rho: 0.5 });
    const grads = { [a.name]: tf.tensor1d([3, 0]), [b.name]: tf.tensor1d([4]) };
    sam.perturb(grads);
    expect(Array.from(a.dataSync())).toEqual([1 + 0.3, 2].map(Math.fround));
    expect(b.dataSync()[0]).toBeCloseTo(3.4, 6);
    sam.restore();
    const [first, second] = Array.from(a.dataSync());
    expect(first).toBeCloseTo(1, 6);
    expect(second).toBe(2);
    expect(() => sam.applyGradients(grads)).toThrow(/no perturbation in place/);
    tf.dispose([a, b, ...Object.values(grads)]);
    sam.dispose();
  });
});

describe('options shared by the optimizers', () => {
  it('clipGradNorm caps the step of plain SGD at lr * maxNorm', () => {
    const w = tf.variable(tf.tensor1d([0, 0]));
    const sgd = new SGD({ learningRate: 1, clipGradNorm: 0.5 });
    sgd.applyGradients({ [w.name]: tf.tensor1d([30, 40]) });
    expect(Array.from(w.dataSync()).map((value) => Number(value.toFixed(5)))).toEqual([-0.3, -0.4]);
    tf.dispose(w);
    sgd.dispose();
  });

  it('perpendicularGradient removes the component along the weights and keeps the norm', () => {
    const w = tf.variable(tf.tensor1d([1, 0]));
    const sgd = new SGD({ learningRate: 1, perpendicularGradient: true });
    const gradient = tf.tensor1d([3, 4]);
    sgd.applyGradients({ [w.name]: gradient });
    // g⊥ = (0, 4), rescaled to |g| = 5: (0, 5)
    const [first, second] = Array.from(w.dataSync());
    expect(first).toBeCloseTo(1, 6);
    expect(second).toBeCloseTo(-5, 5);
    tf.dispose([w, gradient]);
    sgd.dispose();
  });

  it('gradientNoise has variance eta / (1 + t)^0.55 and is reproducible from its seed', () => {
    const traces = [0, 1].map(() => {
      const w = tf.variable(tf.zeros([20000]));
      const sgd = new SGD({ learningRate: 1, gradientNoise: { eta: 0.3, seed: 7 } });
      const zero = tf.zeros([20000]);
      const variances: number[] = [];
      for (let step = 0; step < 3; step++) {
        const before = tf.clone(w);
        sgd.applyGradients({ [w.name]: zero });
        variances.push(tf.tidy(() => tf.moments(tf.sub(before, w)).variance.dataSync()[0]!));
        before.dispose();
      }
      const values = Array.from(w.dataSync().slice(0, 5));
      tf.dispose([w, zero]);
      sgd.dispose();
      return { variances, values };
    });
    traces[0]!.variances.forEach((variance, step) => {
      expect(variance).toBeCloseTo(0.3 / (1 + step) ** 0.55, 2);
    });
    expect(traces[1]!.values).toEqual(traces[0]!.values);
  });

  it('a learning-rate schedule is read at every step', () => {
    const w = tf.variable(tf.tensor1d([0]));
    const sgd = new SGD({ learningRate: (step) => step + 1 });
    const gradient = tf.tensor1d([1]);
    for (let step = 0; step < 3; step++) sgd.applyGradients({ [w.name]: gradient });
    expect(w.dataSync()[0]).toBe(-6);
    expect(sgd.learningRate).toBe(4);
    tf.dispose([w, gradient]);
    sgd.dispose();
  });

  it('rejects bad options with the class name', () => {
    expect(() => new AdamW({ beta1: 1 })).toThrow(/AdamW: beta1 must be in \[0, 1\)/);
    expect(() => new SGD({ nesterov: true })).toThrow(/SGD: Nesterov momentum requires momentum > 0/);
    expect(() => new Lion({ learningRate: -1 })).toThrow(/Lion: learningRate must be a non-negative number/);
    expect(() => new Lamb({ maxGradNorm: 0 })).toThrow(/Lamb: maxGradNorm must be positive or null/);
    expect(() => new SAM({ base: {} as tf.Optimizer })).toThrow(/SAM: options.base must be a tf.Optimizer/);
    expect(() => new AdamW({ clipGradNorm: 0 })).toThrow(/AdamW: clipGradNorm must be positive/);
  });
});
