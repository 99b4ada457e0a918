#!/usr/bin/env node
// Fashion-MNIST accuracy, mlzoo against PyTorch: the same architecture (the PyTorch re-creation the
// golden fixtures prove equal), the same config (the preset's, with --configs overrides), the same recipe (images in [0, 1], Adam or
// AdamW, a constant or cosine learning rate, cross-entropy, batch size, epochs, a fresh shuffle per
// epoch), several seeds, in one run.
//
//   node scripts/compare-fashion-mnist.mjs --data-dir ../shared/data/fashion-mnist \
//     --models vit_fashion_mnist,mixer_fashion_mnist --seeds 0,1 --epochs 2 --limit-train 10000 \
//     --optimizer adamw --weight-decay 0.05 --lr-schedule cosine --warmup-epochs 1 \
//     --out benchmarks/fashion-mnist-comparison.json
//
// Needs the built CLI (pnpm turbo run build --filter=@mlzoo/cli...) and /usr/bin/python3 with torch.
// mlzoo runs `mlzoo train` on the given backend (default wasm); PyTorch runs
// tools/reference/fashion_mnist_train.py with --threads (default 2). The two run one after the other,
// or, with --parallel, as two queues at the same time (then give each one core: --threads 1 and
// MLZOO_WASM_THREADS=1). --configs '{"vit_fashion_mnist": {"patchSize": 7}}' (or a JSON file) overrides
// preset configs on both sides. Each finished run is appended to <out>.runs.jsonl (--runs-log); a rerun
// with the same settings reuses the runs found there, so an interrupted comparison continues;
// --tabulate-only writes the tables from the runs in the log and runs nothing (seeds missing from the
// log are left out, so models may have different seed counts: the cells say how many).
//
// With --results FILE (the results.jsonl of tools/device/run-compare.sh, which runs the same commands
// in parallel on a many-core machine) it runs nothing and writes the tables from that file.
import { execFile, execFileSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
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
    optimizer: { type: 'string', default: 'adam' },
    'weight-decay': { type: 'string' },
    'lr-schedule': { type: 'string', default: 'constant' },
    'warmup-epochs': { type: 'string', default: '0' },
    threads: { type: 'string', default: '2' },
    results: { type: 'string' },
    where: { type: 'string' },
    'sam-out': { type: 'string', default: 'benchmarks/sam-vs-adamw-fashion-mnist.json' },
    'limit-train': { type: 'string' },
    backend: { type: 'string', default: 'wasm' },
    configs: { type: 'string' },
    parallel: { type: 'boolean', default: false },
    nice: { type: 'string', default: '0' },
    'runs-log': { type: 'string' },
    'tabulate-only': { type: 'boolean', default: false },
    out: { type: 'string', default: 'benchmarks/fashion-mnist-comparison.json' },
  },
});
if (!values['data-dir'] && !values.results)
  throw new Error('compare-fashion-mnist: --data-dir (the full Fashion-MNIST files) is required');
let models = values.models.split(',');
let seeds = values.seeds.split(',').map(Number);
const recipe = [
  '--epochs',
  values.epochs,
  '--batch-size',
  values['batch-size'],
  '--lr',
  values.lr,
  '--optimizer',
  values.optimizer,
  ...(values['weight-decay'] ? ['--weight-decay', values['weight-decay']] : []),
  '--lr-schedule',
  values['lr-schedule'],
  '--warmup-epochs',
  values['warmup-epochs'],
];
const limit = values['limit-train'] ? ['--limit-train', values['limit-train']] : [];

/** Parses a command's stdout: one JSON document (the CLI's, pretty-printed) or ending with a JSON line (Python's). */
function parseJsonOutput(stdout) {
  const text = stdout.trim();
  return JSON.parse(text.startsWith('{') ? text : text.split('\n').at(-1));
}

/** Runs a command (niced by --nice) and resolves with its parsed JSON output. */
function runJson(command, args) {
  const nice = Number(values.nice);
  const [file, argv] = nice > 0 ? ['nice', ['-n', String(nice), command, ...args]] : [command, args];
  return new Promise((resolvePromise, reject) => {
    execFile(file, argv, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 }, (error, stdout, stderr) => {
      if (error)
        reject(
          new Error(`${command} ${args.slice(0, 3).join(' ')}: ${error.message}\n${stderr.slice(-2000)}`),
        );
      else resolvePromise(parseJsonOutput(stdout));
    });
  });
}

/** Per-model config overrides: --configs '{"vit_fashion_mnist": {"patchSize": 7}}' or a JSON file. */
const configOverrides = values.configs
  ? JSON.parse(values.configs.trim().startsWith('{') ? values.configs : readFileSync(values.configs, 'utf8'))
  : {};
for (const model of Object.keys(configOverrides))
  if (!models.includes(model))
    console.error(`compare-fashion-mnist: --configs names '${model}', not in --models: ignored`);

/** The preset config of a model with its overrides applied (what both sides build). */
function modelConfig(model) {
  const info = JSON.parse(
    execFileSync('node', [join(root, 'apps/cli/dist/cli.js'), 'info', model, '--json'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }),
  );
  return { ...info.models[0].config, ...configOverrides[model] };
}

/** What identifies a run's settings in the runs log: a finished run is reused only when these match. */
function runKey(model, seed, framework) {
  return JSON.stringify({ model, seed, framework, recipe, limit, config: configOverrides[model] ?? {} });
}

/**
 * Runs every model and seed on both sides. Each finished run is appended to the runs log at once, and
 * runs already in the log with the same settings are not run again, so an interrupted comparison
 * continues where it stopped. With --parallel the mlzoo runs and the PyTorch runs go as two queues at the
 * same time (give each side one core: --threads 1, MLZOO_WASM_THREADS=1).
 */
async function runAll() {
  const dataDirectory = resolve(values['data-dir']);
  const scratch = mkdtempSync(join(tmpdir(), 'mlzoo-compare-'));
  const logPath = resolve(root, values['runs-log'] ?? values.out.replace(/\.json$/, '.runs.jsonl'));
  const finished = new Map();
  mkdirSync(dirname(logPath), { recursive: true });
  if (existsSync(logPath))
    for (const line of readFileSync(logPath, 'utf8').split('\n'))
      if (line.trim()) {
        const entry = JSON.parse(line);
        finished.set(entry.key, entry.run);
      }
  const runs = [];
  const record = (key, run) => {
    runs.push(run);
    appendFileSync(logPath, `${JSON.stringify({ key, run })}\n`);
  };
  const configs = Object.fromEntries(models.map((model) => [model, modelConfig(model)]));
  const zooJob = async (model, seed) => {
    const key = runKey(model, seed, 'mlzoo');
    if (finished.has(key)) return runs.push(finished.get(key));
    if (values['tabulate-only']) return;
    const overrides = configOverrides[model];
    const zoo = await runJson('node', [
      join(root, 'apps/cli/dist/cli.js'),
      'train',
      model,
      '--dataset',
      'fashion-mnist',
      '--data-dir',
      dataDirectory,
      ...recipe,
      ...limit,
      ...(overrides ? ['--config', JSON.stringify(overrides)] : []),
      '--seed',
      String(seed),
      '--backend',
      values.backend,
      '--out',
      join(scratch, `${model}-${seed}.safetensors`),
      '--json',
      '--no-progress',
    ]);
    record(key, {
      model,
      seed,
      framework: 'mlzoo',
      backend: zoo.backend,
      parameters: zoo.numParameters,
      config: zoo.config,
      trainImages: zoo.trainExamples,
      testImages: zoo.testExamples,
      testAccuracy: zoo.test.accuracy,
      trainSeconds: zoo.history.reduce((total, epoch) => total + epoch.seconds, 0),
    });
    console.error(`${model} seed ${seed}: mlzoo ${zoo.test.accuracy.toFixed(4)}`);
  };
  const torchJob = async (model, seed) => {
    const key = runKey(model, seed, 'pytorch');
    if (finished.has(key)) return runs.push(finished.get(key));
    if (values['tabulate-only']) return;
    const torch = await runJson('/usr/bin/python3', [
      join(root, 'tools/reference/fashion_mnist_train.py'),
      '--model',
      model,
      '--data-dir',
      dataDirectory,
      ...recipe,
      ...limit,
      '--config',
      JSON.stringify(configs[model]),
      '--seed',
      String(seed),
      '--threads',
      values.threads,
    ]);
    record(key, {
      model,
      seed,
      framework: 'pytorch',
      backend: `torch ${torch.torch}`,
      parameters: torch.parameters,
      config: configs[model],
      trainImages: torch.train_images,
      testImages: 10000,
      testAccuracy: torch.test_accuracy,
      trainSeconds: torch.train_seconds,
    });
    console.error(`${model} seed ${seed}: pytorch ${torch.test_accuracy.toFixed(4)}`);
  };
  // seeds outermost, so every model gets its first seeds before any gets its last
  const pairs = seeds.flatMap((seed) => models.map((model) => [model, seed]));
  try {
    if (values.parallel) {
      const queue = async (job) => {
        for (const [model, seed] of pairs) await job(model, seed);
      };
      await Promise.all([queue(zooJob), queue(torchJob)]);
    } else {
      for (const [model, seed] of pairs) {
        await zooJob(model, seed);
        await torchJob(model, seed);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return runs;
}

/** AdamW-vs-SAM results found in a --results file (packages/optimizers/scripts/sam-fashion-mnist.ts). */
const samRuns = [];

/** The runs of a tools/device/run-compare.sh results file (jobs that failed are reported and left out). */
function readResults(path) {
  const runs = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const job = JSON.parse(line);
    if (job.kind === 'sam') {
      if (job.status === 0 && job.result) samRuns.push(job.result);
      else console.error(`${job.name}: exit ${job.status}, left out`);
      continue;
    }
    if (job.status !== 0 || !job.result) {
      console.error(`${job.name}: exit ${job.status}, left out`);
      continue;
    }
    const result = job.result;
    runs.push(
      job.kind === 'mlzoo'
        ? {
            model: job.model,
            seed: job.seed,
            framework: 'mlzoo',
            backend: result.backend,
            parameters: result.numParameters,
            trainImages: result.trainExamples,
            testImages: result.testExamples,
            testAccuracy: result.test.accuracy,
            trainSeconds: result.history.reduce((total, epoch) => total + epoch.seconds, 0),
          }
        : {
            model: job.model,
            seed: job.seed,
            framework: 'pytorch',
            backend: `torch ${result.torch}`,
            parameters: result.parameters,
            trainImages: result.train_images,
            testImages: 10000,
            testAccuracy: result.test_accuracy,
            trainSeconds: result.train_seconds,
          },
    );
  }
  return runs;
}

const runs = values.results ? readResults(resolve(values.results)) : await runAll();
if (values.results) {
  models = [...new Set(runs.map((run) => run.model))];
  seeds = [...new Set(runs.map((run) => run.seed))].sort((left, right) => left - right);
}

const mean = (list) => list.reduce((total, value) => total + value, 0) / list.length;
/** Sample standard deviation (n - 1). */
const deviation = (list) =>
  list.length < 2
    ? Number.NaN
    : Math.sqrt(list.reduce((total, value) => total + (value - mean(list)) ** 2, 0) / (list.length - 1));
const percent = (value) => (Number.isFinite(value) ? (value * 100).toFixed(2) : '—');
const summaries = models.map((model) => {
  const of = (framework) =>
    runs
      .filter((run) => run.model === model && run.framework === framework)
      .sort((left, right) => left.seed - right.seed);
  const zoo = of('mlzoo');
  const torch = of('pytorch');
  const accuracy = (list) => list.map((run) => run.testAccuracy);
  const difference = mean(accuracy(zoo)) - mean(accuracy(torch));
  // standard error of the difference of two means
  const standardError = Math.sqrt(
    deviation(accuracy(zoo)) ** 2 / zoo.length + deviation(accuracy(torch)) ** 2 / torch.length,
  );
  return {
    model,
    parameters: (zoo[0] ?? torch[0])?.parameters,
    seeds: { mlzoo: zoo.map((run) => run.seed), pytorch: torch.map((run) => run.seed) },
    mlzoo: { accuracies: accuracy(zoo), mean: mean(accuracy(zoo)), std: deviation(accuracy(zoo)) },
    pytorch: { accuracies: accuracy(torch), mean: mean(accuracy(torch)), std: deviation(accuracy(torch)) },
    difference,
    standardError,
    // undecided (null) unless both sides have two seeds or more
    withinNoise: Number.isFinite(standardError) ? Math.abs(difference) <= 2 * standardError : null,
    trainSeconds: {
      mlzoo: mean(zoo.map((run) => run.trainSeconds)),
      pytorch: mean(torch.map((run) => run.trainSeconds)),
    },
  };
});
const cell = (side) =>
  side.accuracies.length === 0
    ? 'not run'
    : side.accuracies.length === 1
      ? `${percent(side.mean)} (1 seed)`
      : `${percent(side.mean)} ± ${percent(side.std)} (${side.accuracies.length} seeds: ${side.accuracies.map(percent).join(' / ')})`;
const differenceCell = (summary) =>
  !Number.isFinite(summary.difference)
    ? '—'
    : `${summary.difference >= 0 ? '+' : ''}${percent(summary.difference)}` +
      (Number.isFinite(summary.standardError) ? ` ± ${percent(summary.standardError)}` : '');
const seconds = (value) => (Number.isFinite(value) ? `${value.toFixed(0)} s` : '—');
const overridesCell = (model) =>
  configOverrides[model] ? `\`${JSON.stringify(configOverrides[model])}\`` : 'preset';
const rows = summaries.map(
  (summary) =>
    `| ${summary.model} | ${overridesCell(summary.model)} | ${summary.parameters?.toLocaleString('en-US') ?? '?'} | ${cell(summary.mlzoo)} | ${cell(summary.pytorch)} | ${differenceCell(summary)} | ${summary.withinNoise == null ? 'n/a (fewer than 2 seeds)' : summary.withinNoise ? 'yes' : 'no'} | ${seconds(summary.trainSeconds.mlzoo)} / ${seconds(summary.trainSeconds.pytorch)} |`,
);
const schedule =
  values['lr-schedule'] === 'cosine'
    ? `cosine to 0 per step after ${values['warmup-epochs']} linear warmup epoch(s)`
    : 'constant rate';
const optimizerText =
  values.optimizer === 'adamw'
    ? `AdamW lr ${values.lr} wd ${values['weight-decay'] ?? 0.01}`
    : `Adam lr ${values.lr}`;
const markdown = [
  `Recipe: ${values.epochs} epochs, batch ${values['batch-size']}, ${optimizerText}, ${schedule}, ${runs[0]?.trainImages?.toLocaleString('en-US') ?? '?'} training images (the first ones), the 10,000 test images; seeds ${seeds.join(', ')}${values['tabulate-only'] ? ' (those found in the runs log; counts per cell)' : ''}; mlzoo on ${runs.find((run) => run.framework === 'mlzoo')?.backend ?? values.backend}.${values.where ? ` ${values.where}` : ''}`,
  '',
  'Test accuracy in %, mean ± sample standard deviation over the seeds (per-seed values in seed order). Difference: mlzoo mean − PyTorch mean ± its standard error; "within noise" when the difference is at most two standard errors.',
  '',
  '| model | config overrides | parameters | mlzoo | PyTorch | difference | within noise | train time mlzoo / PyTorch (mean) |',
  '|---|---|---:|---|---|---|---|---|',
  ...rows,
].join('\n');
const outPath = resolve(root, values.out);
mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(
  outPath,
  `${JSON.stringify({ date: new Date().toISOString(), recipe: values, summaries, runs }, null, 2)}\n`,
);
writeFileSync(outPath.replace(/\.json$/, '.md'), `${markdown}\n`);
console.log(markdown);

if (samRuns.length > 0) {
  samRuns.sort((left, right) => left.seed - right.seed || left.method.localeCompare(right.method));
  const first = samRuns[0];
  const samRows = samRuns.map(
    (run) =>
      `| ${run.method === 'sam' ? `SAM(AdamW), ρ ${run.rho}` : 'AdamW'} | ${run.seed} | ${percent(run.testAccuracy)}% | ${run.testLoss.toFixed(4)} | ${run.hessianSubsetLoss.toFixed(4)} | ${run.hessianEigenvalue.toFixed(2)} (${run.hessianConverged ? 'converged' : 'not converged'} after ${run.hessianIterations}) | ${run.trainSeconds.toFixed(0)} s |`,
  );
  const samMarkdown = [
    `${first.model} (${first.parameters.toLocaleString('en-US')} parameters), the first ${first.trainImages.toLocaleString('en-US')} training images, ${first.epochs} epochs, batch ${first.batchSize}, AdamW lr ${first.learningRate} wd ${first.weightDecay}, cosine to 0 per step after ${first.warmupEpochs} warmup epoch(s); SAM wraps the same AdamW (same updates, two gradient evaluations each); tested on ${first.testImages.toLocaleString('en-US')} images; Hessian top eigenvalue of the training loss on the first ${first.hessianImages.toLocaleString('en-US')} training images (finite-difference power iteration, start vector seed 0); backend ${first.backend}.${values.where ? ` ${values.where}` : ''}`,
    '',
    '| optimizer | seed | test accuracy | test loss | train loss (Hessian subset) | Hessian top eigenvalue | train time |',
    '|---|---|---|---|---|---|---|',
    ...samRows,
  ].join('\n');
  const samPath = resolve(root, values['sam-out']);
  writeFileSync(samPath, `${JSON.stringify({ date: new Date().toISOString(), runs: samRuns }, null, 2)}\n`);
  writeFileSync(samPath.replace(/\.json$/, '.md'), `${samMarkdown}\n`);
  console.log(`\n${samMarkdown}`);
}
