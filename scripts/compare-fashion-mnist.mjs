#!/usr/bin/env node
// Fashion-MNIST accuracy, mlzoo against PyTorch: the same architecture (the PyTorch re-creation the
// golden fixtures prove equal), the same preset config, the same recipe (images in [0, 1], Adam,
// cross-entropy, batch size, epochs, a fresh shuffle per epoch), several seeds, in one run.
//
//   node scripts/compare-fashion-mnist.mjs --data-dir ../shared/data/fashion-mnist \
//     --models vit_fashion_mnist,mixer_fashion_mnist --seeds 0,1 --epochs 2 --limit-train 10000 \
//     --out benchmarks/fashion-mnist-comparison.json
//
// Needs the built CLI (pnpm turbo run build --filter=@mlzoo/cli...) and /usr/bin/python3 with torch.
// mlzoo runs `mlzoo train` on the given backend (default wasm); PyTorch runs
// tools/reference/fashion_mnist_train.py with 2 threads. The two run one after the other, never at once.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    models: { type: 'string', default: 'vit_fashion_mnist,mixer_fashion_mnist' },
    seeds: { type: 'string', default: '0' },
    epochs: { type: 'string', default: '2' },
    'batch-size': { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.001' },
    'limit-train': { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    out: { type: 'string', default: 'benchmarks/fashion-mnist-comparison.json' },
  },
});
if (!values['data-dir'])
  throw new Error('compare-fashion-mnist: --data-dir (the full Fashion-MNIST files) is required');
const dataDirectory = resolve(values['data-dir']);
const models = values.models.split(',');
const seeds = values.seeds.split(',').map(Number);
const recipe = ['--epochs', values.epochs, '--batch-size', values['batch-size'], '--lr', values.lr];
const limit = values['limit-train'] ? ['--limit-train', values['limit-train']] : [];
const scratch = mkdtempSync(join(tmpdir(), 'mlzoo-compare-'));

/** Runs a command whose stdout is one JSON document (the CLI's, pretty-printed) or ends with a JSON line (Python's). */
function runJson(command, args) {
  const stdout = execFileSync(command, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 }).trim();
  return JSON.parse(stdout.startsWith('{') ? stdout : stdout.split('\n').at(-1));
}

const runs = [];
try {
  for (const model of models) {
    for (const seed of seeds) {
      const out = join(scratch, `${model}-${seed}.safetensors`);
      const zoo = runJson('node', [
        join(root, 'apps/cli/dist/cli.js'),
        'train',
        model,
        '--dataset',
        'fashion-mnist',
        '--data-dir',
        dataDirectory,
        ...recipe,
        ...limit,
        '--seed',
        String(seed),
        '--backend',
        values.backend,
        '--out',
        out,
        '--json',
        '--no-progress',
      ]);
      const seconds = zoo.history.reduce((total, epoch) => total + epoch.seconds, 0);
      runs.push({
        model,
        seed,
        framework: 'mlzoo',
        backend: zoo.backend,
        parameters: zoo.numParameters,
        trainImages: zoo.trainExamples,
        testAccuracy: zoo.test.accuracy,
        trainSeconds: seconds,
      });
      const torch = runJson('/usr/bin/python3', [
        join(root, 'tools/reference/fashion_mnist_train.py'),
        '--model',
        model,
        '--data-dir',
        dataDirectory,
        ...recipe,
        ...limit,
        '--seed',
        String(seed),
      ]);
      runs.push({
        model,
        seed,
        framework: 'pytorch',
        backend: `torch ${torch.torch}`,
        parameters: torch.parameters,
        trainImages: torch.train_images,
        testAccuracy: torch.test_accuracy,
        trainSeconds: torch.train_seconds,
      });
      console.error(
        `${model} seed ${seed}: mlzoo ${zoo.test.accuracy.toFixed(4)}, pytorch ${torch.test_accuracy.toFixed(4)}`,
      );
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

const mean = (list) => list.reduce((total, value) => total + value, 0) / list.length;
const rows = models.map((model) => {
  const of = (framework) => runs.filter((run) => run.model === model && run.framework === framework);
  const zoo = of('mlzoo');
  const torch = of('pytorch');
  const accuracies = (list) => list.map((run) => run.testAccuracy.toFixed(4)).join(' / ');
  return `| ${model} | ${zoo[0].parameters.toLocaleString('en-US')} | ${accuracies(zoo)} (mean ${mean(zoo.map((r) => r.testAccuracy)).toFixed(4)}) | ${accuracies(torch)} (mean ${mean(torch.map((r) => r.testAccuracy)).toFixed(4)}) | ${mean(zoo.map((r) => r.trainSeconds)).toFixed(0)} s / ${mean(torch.map((r) => r.trainSeconds)).toFixed(0)} s |`;
});
const markdown = [
  `Recipe: ${values.epochs} epochs, batch ${values['batch-size']}, Adam lr ${values.lr}, ${runs[0]?.trainImages ?? '?'} training images, the 10,000 test images; seeds ${seeds.join(', ')}; mlzoo on ${values.backend}.`,
  '',
  '| model | parameters | mlzoo test accuracy | PyTorch test accuracy | train time mlzoo / PyTorch |',
  '|---|---:|---|---|---|',
  ...rows,
].join('\n');
const outPath = resolve(root, values.out);
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(
  outPath,
  `${JSON.stringify({ date: new Date().toISOString(), recipe: values, runs }, null, 2)}\n`,
);
writeFileSync(outPath.replace(/\.json$/, '.md'), `${markdown}\n`);
console.log(markdown);
