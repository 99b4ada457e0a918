// The README's quick start, run as written (with fewer steps).
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { createDataset, disposeDataset, fitKAN, KAN, plotActivations } from '../src/index.js';

it('README quick start: fit, refine, prune, plot', () => {
  const before = tf.memory().numTensors;
  // f(x, y) = exp(sin(πx) + y²), pykan's toy function
  const f = (x: tf.Tensor) =>
    tf.tidy(() => {
      const [a, b] = tf.split(x, 2, 1);
      return tf.exp(tf.add(tf.sin(tf.mul(Math.PI, a!)), tf.square(b!)));
    });
  const dataset = createDataset(f, { numVariables: 2, trainCount: 100, testCount: 100 });
  const model = new KAN({ widths: [2, 5, 1], gridSize: 3, splineOrder: 3 });
  const coarse = fitKAN(model, dataset, { steps: 8, optimizer: 'adam', learningRate: 0.05 });
  const fine = model.refine(10, dataset.trainInput); // grid extension G = 3 -> 10
  const refined = fitKAN(fine, dataset, {
    steps: 3,
    optimizer: 'adam',
    learningRate: 0.01,
    updateGrid: false,
  });
  const pruned = fine.prune(dataset.trainInput); // drops weak hidden nodes, masks weak edges
  const svg = plotActivations(pruned, dataset.trainInput); // write it to a .svg file to look at it

  expect(coarse.testLoss.at(-1)!).toBeLessThan(coarse.testLoss[0]!);
  expect(refined.testLoss.at(-1)!).toBeLessThan(coarse.testLoss[0]!);
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg.match(/<polyline/g)?.length).toBe(
    pruned.widths.slice(0, -1).reduce((sum, w, l) => sum + w * pruned.widths[l + 1]!, 0),
  );
  for (const kan of [model, fine, pruned]) kan.dispose();
  disposeDataset(dataset);
  expect(tf.memory().numTensors).toBe(before);
});
