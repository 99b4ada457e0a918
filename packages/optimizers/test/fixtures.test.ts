// Every committed PyTorch trajectory in ../fixtures (written by tools/fixtures/optimizers.py) replayed
// with the mlzoo optimizer: the loss each step returns and the parameters after every step, to 1e-5.
import { expectClose, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW } from '../src/adamw.js';
import { Lamb } from '../src/lamb.js';
import { LBFGS } from '../src/lbfgs.js';
import { Lion } from '../src/lion.js';
import { SAM } from '../src/sam.js';
import {
  cosineWithWarmup,
  type LearningRateSchedule,
  linearSchedule,
  oneCycle,
  stepDecay,
} from '../src/schedules.js';
import { SGD } from '../src/sgd.js';

const folder = new URL('../fixtures/', import.meta.url);
const PARAMETERS = ['w1', 'b1', 'w2', 'b2'];

// biome-ignore lint/suspicious/noExplicitAny: options come from the fixture's JSON
type AnyOptions = any;
const FIRST_ORDER: Record<string, (options: AnyOptions) => tf.Optimizer> = {
  AdamW: (options) => new AdamW(options),
  SGD: (options) => new SGD(options),
  Lion: (options) => new Lion(options),
  Lamb: (options) => new Lamb(options),
};

function build(layer: string, options: AnyOptions, forward: AnyOptions): tf.Optimizer {
  if (layer === 'LBFGS') return new LBFGS(options);
  if (layer === 'SAM') return new SAM({ ...options, base: FIRST_ORDER[forward.base]!(forward.baseOptions) });
  const make = FIRST_ORDER[layer];
  if (!make) throw new Error(`fixture names unknown optimizer ${layer}`);
  return make(options);
}

describe('PyTorch trajectories', () => {
  const names = fixtureNames(folder).filter((name) => name !== 'schedules');
  it('has the fixtures', () => {
    expect(names.length).toBeGreaterThanOrEqual(10);
  });
  for (const name of names) {
    it(name, () => {
      const fixture = loadFixture(folder, name);
      const before = tf.memory().numTensors;
      const steps = fixture.forwardOptions.steps as number;
      const x = fixture.tensors['data.x']!;
      const y = fixture.tensors['data.y']!;
      const init = fixture.group('init');
      const variables = PARAMETERS.map((key) =>
        tf.variable(init[key]!, true, `${name}_${key}_${Math.random()}`),
      );
      const [w1, b1, w2, b2] = variables as [tf.Variable, tf.Variable, tf.Variable, tf.Variable];
      const loss = () =>
        tf.tidy(() =>
          tf.mean(tf.square(tf.sub(tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, w1), b1)), w2), b2), y))),
        );
      const optimizer = build(fixture.layer, fixture.options, fixture.forwardOptions);
      const losses: number[] = [];
      const trajectory = fixture.group('trajectory');
      for (let step = 0; step < steps; step++) {
        const value = optimizer.minimize(loss as () => tf.Scalar, true, variables)!;
        losses.push(value.dataSync()[0]!);
        value.dispose();
        PARAMETERS.forEach((key, index) => {
          const expected = tf.tidy(() => tf.squeeze(tf.slice(trajectory[key]!, [step], [1]), [0]));
          expectClose(variables[index]!, expected, 1e-5, `${name} step ${step + 1} ${key}`);
          expected.dispose();
        });
      }
      const expectedLoss = fixture.tensors.loss!;
      const actualLoss = tf.tensor1d(losses);
      expectClose(actualLoss, expectedLoss, 1e-5, `${name} losses`);
      tf.dispose([actualLoss, ...variables]);
      optimizer.dispose();
      expect(tf.memory().numTensors).toBe(before);
      fixture.dispose();
    });
  }
});

describe('schedules against torch.optim.lr_scheduler', () => {
  const cases: Record<string, LearningRateSchedule> = {
    one_cycle: oneCycle({ maxLearningRate: 0.1, totalSteps: 50 }),
    one_cycle_linear: oneCycle({
      maxLearningRate: 0.2,
      totalSteps: 50,
      pctStart: 0.25,
      divFactor: 10,
      finalDivFactor: 100,
      annealStrategy: 'linear',
    }),
    step: stepDecay({ learningRate: 0.1, stepSize: 7, gamma: 0.5 }),
    linear: linearSchedule({ learningRate: 0.1, startFactor: 0.25, endFactor: 1, totalSteps: 20 }),
    cosine: cosineWithWarmup({ learningRate: 0.1, totalSteps: 50, minLearningRate: 0.001 }),
  };
  const fixture = loadFixture(folder, 'schedules');
  for (const [name, schedule] of Object.entries(cases)) {
    it(name, () => {
      const expected = fixture.tensors[name]!.dataSync();
      expected.forEach((value, step) => {
        expect(Math.abs(schedule(step) - value)).toBeLessThan(1e-7 * (1 + value));
      });
    });
  }
});
