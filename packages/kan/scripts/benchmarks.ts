// Benchmarks published in packages/kan/README.md. Not a test: run by hand.
//
//   cd packages/kan && pnpm exec tsup --config scripts/tsup.bench.ts && node dist/bench/benchmarks.js [part ...]
//
// parts: toy (pykan's grid sweep on exp(sin(πx) + y²)), functions (other fitting tasks), bases (basis
// families on the toy function), fashion (Fashion-MNIST, KAN vs an MLP of the same size). Default: all.
// Options: --optimizer adam|lbfgs (default adam), --steps N (steps per grid, default 200 as pykan),
// --grids 3,5,10,20,50 (toy sweep), --epochs N (Fashion-MNIST, default 3), --backend cpu|wasm (default
// wasm), --out FILE (JSON results, default benchmarks/results.json), --verbose (RMSE per step), --seed N
// (the toy model's initialisation seed, default 1; the dataset does not change).
// The README's numbers: `toy --steps 500 --grids 3,5,10,20`, `toy --steps 500 --grids 3,10,20,50`,
// `toy --grids 3,5,10,20 --steps 50 --optimizer lbfgs --seed 0`, `toy --grids 3 --steps 20 --optimizer lbfgs
// --seed S` and `toy --grids 3 --steps 500 --seed S` (S = 0..4), `functions --steps 200`, `bases --steps 1000`,
// `fashion --epochs 2 --train-count 6000`, `fashion --epochs 1` (each with its own --out).
import { writeFileSync } from 'node:fs';
import { evaluate, fit, manualSeed, Random, setBackend } from '@mlzoo/core';
import { loadFashionMnist } from '@mlzoo/data/node';
import { MlpClassifier } from '@mlzoo/layers';
import { AdamW } from '@mlzoo/optimizers';
import * as tf from '@tensorflow/tfjs-core';
import { KAN, KANClassifier, type KANConfig } from '../src/kan.js';
import { createDataset, disposeDataset, fitKAN, type KANDataset } from '../src/train.js';

const args = process.argv.slice(2);
function option(name: string, fallback: string): string {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1]! : fallback;
}
const parts = args.filter((arg, index) => !arg.startsWith('--') && !args[index - 1]?.startsWith('--'));
const wanted = (part: string) => parts.length === 0 || parts.includes(part);
const steps = Number(option('steps', '200'));
const optimizer = option('optimizer', 'adam') as 'lbfgs' | 'adam';
const epochs = Number(option('epochs', '3'));
const out = option('out', 'benchmarks/results.json');
const results: Record<string, unknown> = { date: new Date().toISOString(), steps, epochs, optimizer };

function save(): void {
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
}

function seconds(start: number): number {
  return Math.round((performance.now() - start) / 100) / 10;
}

const toy = (x: tf.Tensor) =>
  tf.tidy(() => {
    const [a, b] = tf.split(x, 2, 1);
    return tf.exp(tf.add(tf.sin(tf.mul(Math.PI, a!)), tf.square(b!)));
  });

/** pykan Example_1: [2,1,1], k=3, G = 3 -> 5 -> 10 -> 20 -> 50 by refine, `steps` steps each. */
function toyGridSweep(): void {
  results.seed = Number(option('seed', '1'));
  manualSeed(results.seed as number);
  const dataset = createDataset(toy, { numVariables: 2, random: new Random(1) });
  const rows: unknown[] = [];
  let model: KAN | null = null;
  for (const grid of option('grids', '3,5,10,20,50').split(',').map(Number)) {
    const start = performance.now();
    const next: KAN = model
      ? model.refine(grid, dataset.trainInput)
      : new KAN({ widths: [2, 1, 1], gridSize: grid, splineOrder: 3 });
    model?.dispose();
    model = next;
    const history = fitKAN(model, dataset, {
      steps,
      optimizer,
      onStep: args.includes('--verbose') ? (step, train, test) => console.log(step, train, test) : undefined,
    });
    const row = {
      grid,
      parameters: model.numParameters(),
      trainRmse: history.trainLoss.at(-1),
      testRmse: history.testLoss.at(-1),
      seconds: seconds(start),
    };
    console.log('toy', row);
    rows.push(row);
    results.toy = rows;
    save();
  }
  model?.dispose();
  disposeDataset(dataset);
}

/** J0 by its integral (1/π) ∫_0^π cos(z sin θ) dθ (Simpson, 200 intervals). */
function besselJ0(z: number): number {
  const n = 200;
  let sum = 0;
  for (let index = 0; index <= n; index++) {
    const theta = (Math.PI * index) / n;
    const weight = index === 0 || index === n ? 1 : index % 2 === 1 ? 4 : 2;
    sum += weight * Math.cos(z * Math.sin(theta));
  }
  return sum / (3 * n);
}

interface FunctionTask {
  name: string;
  formula: string;
  widths: number[];
  variables: number;
  fn: (x: tf.Tensor) => tf.Tensor;
}

const TASKS: FunctionTask[] = [
  {
    name: 'bessel',
    formula: 'J0(20x)',
    widths: [1, 1],
    variables: 1,
    fn: (x) => tf.tensor2d(Array.from(x.dataSync(), (value) => [besselJ0(20 * value)])),
  },
  { name: 'product', formula: 'xy', widths: [2, 2, 1], variables: 2, fn: (x) => tf.prod(x, 1, true) },
  {
    name: 'exp_sin_4d',
    formula: 'exp((sin(π(x1²+x2²)) + sin(π(x3²+x4²))) / 2)',
    widths: [4, 4, 2, 1],
    variables: 4,
    fn: (x) =>
      tf.tidy(() => {
        const square = tf.square(x);
        const [a, b, c, d] = tf.split(square, 4, 1);
        const first = tf.sin(tf.mul(Math.PI, tf.add(a!, b!)));
        const second = tf.sin(tf.mul(Math.PI, tf.add(c!, d!)));
        return tf.exp(tf.mul(0.5, tf.add(first, second)));
      }),
  },
  { name: 'toy', formula: 'exp(sin(πx) + y²)', widths: [2, 1, 1], variables: 2, fn: toy },
];

/** Each task: G=5 for `steps`/2 L-BFGS steps, then refine to G=20 for `steps`/2 more. */
function functionTasks(): void {
  const rows: unknown[] = [];
  for (const task of TASKS) {
    manualSeed(2);
    const dataset = createDataset(task.fn, { numVariables: task.variables, random: new Random(2) });
    const start = performance.now();
    const coarse = new KAN({ widths: task.widths, gridSize: 5 });
    const first = fitKAN(coarse, dataset, { steps: Math.round(steps / 2), optimizer });
    const fine = coarse.refine(20, dataset.trainInput);
    const second = fitKAN(fine, dataset, { steps: Math.round(steps / 2), optimizer });
    const row = {
      task: task.name,
      formula: task.formula,
      widths: task.widths,
      testRmseG5: first.testLoss.at(-1),
      testRmseG20: second.testLoss.at(-1),
      parametersG20: fine.numParameters(),
      seconds: seconds(start),
    };
    console.log('function', row);
    rows.push(row);
    results.functions = rows;
    save();
    coarse.dispose();
    fine.dispose();
    disposeDataset(dataset);
  }
}

/** Basis families on the toy function, [2, 5, 1], `steps` L-BFGS steps, no grid update for non-splines. */
function basisFamilies(): void {
  const rows: unknown[] = [];
  const configs: (Omit<KANConfig, 'widths'> & { label: string })[] = [
    { label: 'bspline G=5 k=3', basis: 'bspline', gridSize: 5 },
    { label: 'rbf G=8 on [-2, 2]', basis: 'rbf', gridSize: 8, gridRange: [-2, 2] },
    { label: 'chebyshev degree 7', basis: 'chebyshev', degree: 7 },
    { label: 'fourier G=4', basis: 'fourier', gridSize: 4 },
    { label: 'jacobi degree 7', basis: 'jacobi', degree: 7 },
  ];
  manualSeed(3);
  const dataset: KANDataset = createDataset(toy, { numVariables: 2, random: new Random(3) });
  for (const config of configs) {
    manualSeed(3);
    const start = performance.now();
    const model = new KAN({ widths: [2, 5, 1], ...config });
    const history = fitKAN(model, dataset, { steps: Math.round(steps / 2), optimizer });
    const row = {
      basis: config.label,
      parameters: model.numParameters(),
      testRmse: history.testLoss.at(-1),
      seconds: seconds(start),
    };
    console.log('basis', row);
    rows.push(row);
    results.bases = rows;
    save();
    model.dispose();
  }
  disposeDataset(dataset);
}

/** Fashion-MNIST (first --train-count training images, 10k test): KAN [784, 64, 10] vs MLP 784-639-10 (same size), AdamW 1e-3, batch 128. */
async function fashion(): Promise<void> {
  const directory = option('fashion-dir', '/work/shared/data/fashion-mnist');
  const train = await loadFashionMnist({ split: 'train', source: { directory } });
  const test = await loadFashionMnist({ split: 'test', source: { directory } });
  const normalize = (images: tf.Tensor) => tf.tidy(() => tf.div(tf.sub(images, 0.286), 0.353));
  // --train-count N: the first N training images (the full 60,000 by default)
  const trainCount = Math.min(Number(option('train-count', '60000')), train.images.shape[0]!);
  const trainImages = tf.slice(train.images, [0, 0, 0, 0], [trainCount, -1, -1, -1]);
  const trainLabels = tf.slice(train.labels, [0], [trainCount]);
  const trainX = normalize(trainImages);
  const testX = normalize(test.images);
  const rows: unknown[] = [];
  const models: [string, () => KANClassifier | MlpClassifier][] = [
    ['KAN [784, 64, 10], B-spline G=5 k=3', () => new KANClassifier({ hiddenDims: [64], gridSize: 5 })],
    ['MLP 784-639-10, ReLU', () => new MlpClassifier({ hiddenDims: [639] })],
  ];
  for (const [label, create] of models) {
    manualSeed(4);
    const model = create();
    const start = performance.now();
    const optimizer = new AdamW({ learningRate: 1e-3, weightDecay: 1e-4 });
    const history = await fit(
      model,
      { x: trainX, y: trainLabels },
      {
        optimizer,
        epochs,
        batchSize: 128,
        seed: 4,
        loss: 'cross-entropy',
        onEpochEnd: (summary) => console.log(label, 'epoch', summary.epoch, 'loss', summary.loss.toFixed(4)),
      },
    );
    const trainSeconds = seconds(start);
    const evaluation = await evaluate(
      model,
      { x: testX, y: test.labels },
      { loss: 'cross-entropy', batchSize: 500 },
    );
    const row = {
      model: label,
      parameters: model.numParameters(),
      epochs,
      trainImages: trainCount,
      testImages: test.images.shape[0],
      finalTrainLoss: history.history.at(-1)?.loss,
      testAccuracy: evaluation.accuracy,
      testLoss: evaluation.loss,
      trainSeconds,
    };
    console.log('fashion', row);
    rows.push(row);
    results.fashion = rows;
    save();
    optimizer.dispose();
    model.dispose();
  }
  tf.dispose([trainX, testX, trainImages, trainLabels, train.images, train.labels, test.images, test.labels]);
}

async function main(): Promise<void> {
  await setBackend(option('backend', 'wasm') as 'wasm');
  results.backend = tf.getBackend();
  if (wanted('toy')) toyGridSweep();
  if (wanted('functions')) functionTasks();
  if (wanted('bases')) basisFamilies();
  if (wanted('fashion')) await fashion();
  save();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
