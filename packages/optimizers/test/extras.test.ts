// StableMax and its cross-entropy, weight EMA, lottery-ticket pruning.
import { fit } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { AdamW } from '../src/adamw.js';
import { WeightEma } from '../src/ema.js';
import { LotteryTicket } from '../src/lottery.js';
import { logStablemax, stablemax, stablemaxCrossEntropy } from '../src/stablemax.js';
import { regressionData, TinyRegressor } from './helpers.js';

describe('StableMax', () => {
  it('matches s(x) = x + 1 (x >= 0), 1 / (1 - x) (x < 0), normalised', () => {
    const logits = tf.tensor2d([2, 0, -1, -3], [1, 4]);
    const s = [3, 1, 0.5, 0.25];
    const total = s.reduce((a, b) => a + b, 0);
    const probabilities = Array.from(stablemax(logits).dataSync());
    probabilities.forEach((value, index) => {
      expect(value).toBeCloseTo(s[index]! / total, 6);
    });
    const logs = Array.from(logStablemax(logits).dataSync());
    logs.forEach((value, index) => {
      expect(value).toBeCloseTo(Math.log(s[index]! / total), 5);
    });
    const loss = stablemaxCrossEntropy(logits, tf.tensor1d([1], 'int32'));
    expect(loss.dataSync()[0]).toBeCloseTo(-Math.log(1 / total), 5);
    tf.dispose([logits, loss]);
  });

  it('has finite gradients for large logits and works as a fit loss', async () => {
    const logits = tf.tensor2d([1, 1e6, -1e6, 0.999999], [2, 2]);
    const targets = tf.tensor1d([0, 1], 'int32');
    const gradient = tf.grad((x: tf.Tensor) => stablemaxCrossEntropy(x, targets))(logits);
    expect(Array.from(gradient.dataSync()).every(Number.isFinite)).toBe(true);
    tf.dispose([logits, targets, gradient]);
    const { x } = regressionData(32);
    const labels = tf.tidy(() => tf.cast(tf.greater(tf.sum(x, 1), 0), 'int32'));
    const model = new TinyRegressor();
    const optimizer = new AdamW({ learningRate: 0.05 });
    const result = await fit(
      model,
      { x, y: labels },
      { optimizer, loss: stablemaxCrossEntropy, epochs: 15, batchSize: 32 },
    );
    expect(result.history[14]!.loss).toBeLessThan(0.5 * result.history[0]!.loss);
    tf.dispose([x, labels]);
    optimizer.dispose();
    model.dispose();
  });
});

describe('WeightEma', () => {
  it('averages with the decay, warms up, and swaps back and forth', () => {
    const model = new TinyRegressor();
    const ema = new WeightEma(model, { decay: 0.5 });
    const start = Array.from(model.fc1.dataSync());
    model.fc1.assign(tf.zerosLike(model.fc1));
    ema.update();
    const averaged = ema.averages();
    expect(Array.from(averaged.fc1!.dataSync())).toEqual(start.map((value) => Math.fround(value * 0.5)));
    ema.swap();
    expect(Array.from(model.fc1.dataSync())).toEqual(Array.from(averaged.fc1!.dataSync()));
    ema.swap();
    expect(Array.from(model.fc1.dataSync()).every((value) => value === 0)).toBe(true);
    const warm = new WeightEma(model, { decay: 0.999, warmup: true });
    expect(warm.currentDecay).toBeCloseTo(0.1, 10);
    tf.dispose(Object.values(averaged));
    ema.dispose();
    warm.dispose();
    model.dispose();
  });
});

describe('LotteryTicket', () => {
  it('prunes 20% of the surviving weights per round, rewinds and keeps pruned weights at zero', async () => {
    const model = new TinyRegressor();
    const initial = Array.from(model.fc1.dataSync());
    const ticket = new LotteryTicket(model, { pruneRate: 0.2 });
    expect(ticket.names).toEqual(['fc1', 'fc2']);
    const { x, y } = regressionData();
    const optimizer = new AdamW({ learningRate: 0.05 });
    let before = 0;
    for (let round = 0; round < 3; round++) {
      await fit(
        model,
        { x, y },
        {
          optimizer,
          loss: 'mse',
          epochs: 2,
          batchSize: 16,
          transformGradients: (gradients) => ticket.maskGradients(gradients),
        },
      );
      ticket.applyMasks();
      ticket.pruneRound();
      ticket.rewind();
      // the optimizer's slots exist after the first round; from then on the count stays flat
      if (round === 0) before = tf.memory().numTensors;
    }
    // 32 and 16 weights: per layer, round(0.2 * survivors) each round
    const fc1Kept = 32 - 6 - 5 - 4;
    const fc2Kept = 16 - 3 - 3 - 2;
    expect(ticket.sparsity()).toBeCloseTo(1 - (fc1Kept + fc2Kept) / 48, 10);
    const mask = Array.from(ticket.mask('fc1').dataSync());
    const values = Array.from(model.fc1.dataSync());
    mask.forEach((keep, index) => {
      if (keep) expect(values[index]).toBe(Math.fround(initial[index]!));
      else expect(Math.abs(values[index]!)).toBe(0);
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(() => ticket.mask('bias1')).toThrow(/'bias1' is not pruned/);
    optimizer.dispose();
    ticket.dispose();
    model.dispose();
    tf.dispose([x, y]);
  });

  it('global scope ranks all tensors together and rewinds to an early point', () => {
    const model = new TinyRegressor();
    const ticket = new LotteryTicket(model, { pruneRate: 0.5, scope: 'global' });
    model.fc2.assign(tf.mul(model.fc2, 1e4));
    ticket.recordRewindPoint();
    const early = Array.from(model.fc2.dataSync());
    ticket.pruneRound();
    // fc2 was scaled up, so the global half removed comes from fc1 first
    expect(Array.from(ticket.mask('fc2').dataSync()).every((value) => value === 1)).toBe(true);
    model.fc2.assign(tf.zerosLike(model.fc2));
    ticket.rewind();
    expect(Array.from(model.fc2.dataSync())).toEqual(early);
    ticket.dispose();
    model.dispose();
  });
});
