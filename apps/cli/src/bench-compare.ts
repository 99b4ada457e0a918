// `mlzoo bench --reference pytorch`: the zoo and PyTorch side by side in one run. For every model (and a
// 1024^3 matmul) it runs the zoo measurement (`mlzoo bench-measure`, a fresh Node process) and the
// PyTorch one (tools/reference/bench_pytorch.py, a fresh Python process) back to back, alternating which
// goes first, for several rounds, so both see the same machine load. The headline is the ratio
// zoo/PyTorch; absolute numbers depend on the machine and on what else runs on it.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, type RoundMeasurement, type SideMeasurement } from './bench-measure.js';
import { UsageError } from './errors.js';
import { formatCount, formatTable, type Output } from './output.js';
import { modelPreset } from './weights.js';

/** The models `mlzoo bench --reference pytorch` compares by default (the Fashion-MNIST presets). */
export const COMPARE_MODELS = [
  'vit_fashion_mnist',
  'mixer_fashion_mnist',
  'mlp_fashion_mnist',
  'kan_fashion_mnist',
];

/** The interpreter with Debian's `python3-torch` (a pyenv python earlier on PATH cannot see it). */
export const DEFAULT_PYTHON = '/usr/bin/python3';

export const PYTORCH_INSTALL_HINT =
  'install it with: sudo apt-get install python3-torch libopenblas0-openmp (then use /usr/bin/python3)';

export interface BenchCompareOptions {
  /** The reference framework: only `pytorch`. */
  reference: string;
  /** Registered 28x28x1 models with a PyTorch builder (default `COMPARE_MODELS`). */
  models?: string[];
  /** Zoo backend request for the measurement processes (default: $MLZOO_BACKEND or auto). */
  backend?: string;
  /** Rounds of every measurement on both sides (default 2). */
  rounds?: number;
  /** Train-step batch (default 128) and inference batch (default 256), the same on both sides. */
  trainBatch?: number;
  inferenceBatch?: number;
  /** Warm-up seconds (at least one step), seconds per timed block and timed blocks (defaults 1, 1, 3). */
  warmupSeconds?: number;
  minSeconds?: number;
  repeats?: number;
  /** Matmul size (default 1024). */
  matmulSize?: number;
  /** Python interpreter (default /usr/bin/python3) and torch threads (default 2). */
  python?: string;
  threads?: number;
  /** Writes `<prefix>.json` and `<prefix>.md`. */
  outPrefix?: string;
  /** tools/reference/bench_pytorch.py (default: found above this file in an mlzoo checkout). */
  referenceScript?: string;
  /** The built CLI that runs the zoo measurements (default: apps/cli/dist/cli.js). */
  cliScript?: string;
}

/** One row of the comparison: a (model, mode) or the matmul, both sides' medians and the ratio. */
export interface ComparisonRow {
  measure: string;
  mode: SideMeasurement['mode'];
  unit: SideMeasurement['unit'];
  detail: string;
  parameters?: number;
  /** Median over rounds of each side's per-round median. */
  zoo: number;
  pytorch: number;
  /** Median over rounds of the per-round ratio zoo/PyTorch (each round's pair ran back to back). */
  ratio: number;
  roundRatios: number[];
  /** Largest peak resident set over the rounds, bytes. */
  zooPeakRssBytes: number;
  pytorchPeakRssBytes: number;
}

/** Forced OpenBLAS cores probed besides OpenBLAS's own detection (x86-64 kernels; a core the CPU cannot run fails its probe). */
export const OPENBLAS_CORE_CANDIDATES: readonly string[] = ['Haswell', 'SkylakeX'];

/** How the PyTorch processes' OpenBLAS core was chosen, and the probe rates it was chosen from. */
export interface OpenblasCoreChoice {
  /** The OPENBLAS_CORETYPE every PyTorch process ran with; absent: OpenBLAS's own detection. */
  coreType?: string;
  /** `probe`: the fastest probe; `user`: OPENBLAS_CORETYPE was set; `not-openblas`: torch uses another BLAS. */
  source: 'probe' | 'user' | 'not-openblas';
  /** One per probe, in the order run: the core (`default` for OpenBLAS's detection), its GFLOP/s or why it failed. */
  probes: Array<{ coreType: string; gflops?: number; error?: string }>;
}

export interface BenchCompareReport {
  date: string;
  reference: 'pytorch';
  machine: { platform: string; cpus: number; cpuModel: string; totalMemoryBytes: number };
  /** 1, 5 and 15 minute load averages before the first and after the last measurement. */
  loadAverage: { before: number[]; after: number[] };
  /** Present only in a report written before the last round finished (a run cut short keeps these). */
  roundsCompleted?: number;
  settings: {
    models: string[];
    rounds: number;
    trainBatch: number;
    inferenceBatch: number;
    warmupSeconds: number;
    minSeconds: number;
    repeats: number;
    matmulSize: number;
    optimizer: 'Adam';
  };
  zoo: { backend: string; wasmThreads?: number; node: string; tfjs: string };
  pytorch: {
    python: string;
    pythonVersion: string;
    torch: string;
    threads: number;
    blas: string;
    blasLibraries: string[];
    parallelBackend: string;
    /** Absent in reports written before the core was probed. */
    openblasCore?: OpenblasCoreChoice;
  };
  rows: ComparisonRow[];
  /** Every process's result, in the order they ran. */
  measurements: RoundMeasurement[];
}

/** A measurement process still running after this long is killed (a hung process must not hang the run). */
export const PROCESS_TIMEOUT_SECONDS = 30 * 60;

/** Wait before the one retry of a failed measurement process. */
const RETRY_SECONDS = 10;

interface ProcessResult {
  /** Exit code, or a description of the signal that ended the process. */
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (in `environment`, default this process's); a missing executable rejects with ENOENT. */
function runProcess(file: string, args: string[], environment?: NodeJS.ProcessEnv): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      file,
      args,
      {
        maxBuffer: 64 * 1024 * 1024,
        timeout: PROCESS_TIMEOUT_SECONDS * 1000,
        killSignal: 'SIGKILL',
        ...(environment ? { env: environment } : {}),
      },
      (error, stdout, stderr) => {
        if (error == null) return resolvePromise({ code: 0, stdout, stderr });
        const { code, signal, killed } = error as {
          code?: unknown;
          signal?: string | null;
          killed?: boolean;
        };
        if (typeof code === 'string') return reject(error); // ENOENT, EACCES: it never ran
        resolvePromise({
          code:
            typeof code === 'number'
              ? code
              : killed
                ? `killed after ${PROCESS_TIMEOUT_SECONDS} s`
                : `ended by ${signal ?? 'a signal'}`,
          stdout,
          stderr,
        });
      },
    );
  });
}

function describeExit(code: ProcessResult['code']): string {
  return typeof code === 'number' ? `exit code ${code}` : code;
}

function lastLines(text: string, count = 8): string {
  return text.trim().split('\n').slice(-count).join('\n');
}

/** The first file that exists among candidates relative to this module (src/ in tests, dist/ when built). */
function findAbove(relativePath: string, levels = 6): string | undefined {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level <= levels; level++) {
    const candidate = join(directory, relativePath);
    if (existsSync(candidate)) return candidate;
    directory = dirname(directory);
  }
  return undefined;
}

/** The built CLI: this bundle's own cli.js when running built, apps/cli/dist/cli.js when running from src. */
function cliScriptPath(override?: string): string {
  const path = override ?? findAbove('cli.js', 0) ?? findAbove(join('dist', 'cli.js'), 1);
  if (!path || !existsSync(path)) {
    throw new UsageError(
      `bench --reference: the built CLI (apps/cli/dist/cli.js) was not found${override ? ` at ${override}` : ''}; ` +
        'build it with pnpm turbo run build --filter=@mlzoo/cli...',
    );
  }
  return resolve(path);
}

function referenceScriptPath(override?: string): string {
  const path = override ?? findAbove(join('tools', 'reference', 'bench_pytorch.py'));
  if (!path || !existsSync(path)) {
    throw new UsageError(
      `bench --reference pytorch: the reference script tools/reference/bench_pytorch.py was not found${
        override ? ` at ${override}` : ''
      }; it lives in the mlzoo repository: run from a checkout or pass --reference-script <path>`,
    );
  }
  return resolve(path);
}

/** Parses the last JSON object a bench process printed (the zoo side pretty-prints, Python prints one line). */
function parseJson(text: string): Record<string, unknown> | undefined {
  const start = text.indexOf('{');
  if (start < 0) return undefined;
  try {
    return JSON.parse(text.slice(start)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Checks that the interpreter imports torch with an optimised BLAS; returns what bench_pytorch.py
 * --check reports (versions, BLAS, the models it can build). Throws a UsageError naming the apt
 * command when torch or OpenBLAS is missing.
 */
export async function checkPytorch(
  python: string,
  script: string,
  threads: number,
): Promise<Record<string, unknown> & { models: string[] }> {
  let result: ProcessResult;
  try {
    result = await runProcess(python, [script, '--check', '--threads', String(threads)]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new UsageError(
        `bench --reference pytorch: no Python at ${python}; ${PYTORCH_INSTALL_HINT}, or pass --python <path>`,
      );
    }
    throw error;
  }
  const parsed = parseJson(result.stdout);
  if (result.code !== 0 || !parsed || parsed.error) {
    const reason =
      typeof parsed?.message === 'string'
        ? parsed.message
        : `${python} ${script} --check failed (${describeExit(result.code)}): ${lastLines(result.stderr || result.stdout)}`;
    throw new UsageError(`bench --reference pytorch: ${reason}`);
  }
  return parsed as Record<string, unknown> & { models: string[] };
}

/** This process's environment with OPENBLAS_CORETYPE set to `coreType`, or removed when it is undefined. */
function withCoreType(coreType: string | undefined): NodeJS.ProcessEnv {
  const environment = { ...process.env };
  if (coreType === undefined) delete environment.OPENBLAS_CORETYPE;
  else environment.OPENBLAS_CORETYPE = coreType;
  return environment;
}

/**
 * GFLOP/s of PyTorch's 1024^3 GEMM under OPENBLAS_CORETYPE=`coreType` (undefined: OpenBLAS's own
 * detection), from bench_pytorch.py --probe in a fresh process. Throws when the process fails (a core the
 * CPU cannot run dies of SIGILL) or prints no rate.
 */
export async function probeOpenblasCore(
  python: string,
  script: string,
  threads: number,
  coreType: string | undefined,
): Promise<number> {
  const result = await runProcess(
    python,
    [script, '--probe', '--threads', String(threads)],
    withCoreType(coreType),
  );
  const parsed = parseJson(result.stdout);
  const gflops = parsed?.gflops;
  if (result.code !== 0 || parsed?.probe !== true || typeof gflops !== 'number' || !Number.isFinite(gflops)) {
    const reason =
      typeof parsed?.message === 'string' ? parsed.message : lastLines(result.stderr || result.stdout, 2);
    throw new Error(`${describeExit(result.code)}${reason ? `: ${reason}` : ''}`);
  }
  return gflops;
}

/**
 * Chooses the OpenBLAS core for the PyTorch processes: the one set in OPENBLAS_CORETYPE (`userCoreType`)
 * when there is one, else the fastest of `probe` under OpenBLAS's detection and each of `candidates`
 * (failed probes are recorded, never chosen). Other BLAS libraries are left alone. Throws when every
 * probe failed.
 */
export async function chooseOpenblasCore(
  probe: (coreType: string | undefined) => Promise<number>,
  options: { blas: string; userCoreType?: string | undefined; candidates?: readonly string[] },
): Promise<OpenblasCoreChoice> {
  if (options.userCoreType) return { coreType: options.userCoreType, source: 'user', probes: [] };
  if (!options.blas.startsWith('openblas')) return { source: 'not-openblas', probes: [] };
  const probes: OpenblasCoreChoice['probes'] = [];
  let best: { coreType: string | undefined; gflops: number } | undefined;
  for (const coreType of [undefined, ...(options.candidates ?? OPENBLAS_CORE_CANDIDATES)]) {
    const name = coreType ?? 'default';
    try {
      const gflops = await probe(coreType);
      probes.push({ coreType: name, gflops });
      if (!best || gflops > best.gflops) best = { coreType, gflops };
    } catch (error) {
      probes.push({ coreType: name, error: (error as Error).message });
    }
  }
  if (!best) {
    throw new UsageError(
      `bench --reference pytorch: every OpenBLAS core probe failed (${probes.map((entry) => `${entry.coreType}: ${entry.error}`).join('; ')})`,
    );
  }
  return { ...(best.coreType !== undefined ? { coreType: best.coreType } : {}), source: 'probe', probes };
}

/** The OpenBLAS core choice as a phrase for the report's notes ('' when torch does not use OpenBLAS). */
export function describeOpenblasCore(choice: OpenblasCoreChoice | undefined): string {
  if (!choice || choice.source === 'not-openblas') return '';
  if (choice.source === 'user') return `OPENBLAS_CORETYPE=${choice.coreType} (set by the user)`;
  const rates = choice.probes
    .map((entry) => `${entry.coreType} ${entry.gflops != null ? entry.gflops.toFixed(1) : 'failed'}`)
    .join(', ');
  return `OpenBLAS core ${choice.coreType ?? 'as detected'}, the fastest 1024^3 GEMM probe (GFLOP/s: ${rates})`;
}

/** Per (measure, mode), in first-run order: both sides' medians over rounds and the median round ratio. */
export function summarizeComparison(measurements: readonly RoundMeasurement[]): ComparisonRow[] {
  const keys: string[] = [];
  for (const measurement of measurements) {
    const key = `${measurement.measure}\u0000${measurement.mode}`;
    if (!keys.includes(key)) keys.push(key);
  }
  const rows: ComparisonRow[] = [];
  for (const key of keys) {
    const [measure, mode] = key.split('\u0000') as [string, SideMeasurement['mode']];
    const matching = measurements.filter((entry) => entry.measure === measure && entry.mode === mode);
    const zoo = matching.filter((entry) => entry.side === 'zoo');
    const pytorch = matching.filter((entry) => entry.side === 'pytorch');
    if (zoo.length === 0 || pytorch.length === 0) {
      throw new Error(
        `summarizeComparison: ${measure} ${mode} has ${zoo.length} zoo and ${pytorch.length} PyTorch results; both sides are needed`,
      );
    }
    const roundRatios: number[] = [];
    for (const entry of zoo) {
      const partner = pytorch.find((candidate) => candidate.round === entry.round);
      if (partner) roundRatios.push(entry.median / partner.median);
    }
    if (roundRatios.length === 0) {
      throw new Error(
        `summarizeComparison: ${measure} ${mode}: no round has both a zoo and a PyTorch result`,
      );
    }
    const first = zoo[0]!;
    rows.push({
      measure,
      mode,
      unit: first.unit,
      detail: first.detail,
      ...(first.parameters != null ? { parameters: first.parameters } : {}),
      zoo: median(zoo.map((entry) => entry.median)),
      pytorch: median(pytorch.map((entry) => entry.median)),
      ratio: median(roundRatios),
      roundRatios,
      zooPeakRssBytes: Math.max(...zoo.map((entry) => entry.peakRssBytes)),
      pytorchPeakRssBytes: Math.max(...pytorch.map((entry) => entry.peakRssBytes)),
    });
  }
  return rows;
}

function formatRate(value: number, unit: ComparisonRow['unit']): string {
  return unit === 'GFLOP/s' ? value.toFixed(1) : formatCount(value);
}

function formatRatio(value: number): string {
  return value >= 10
    ? `${value.toFixed(0)}x`
    : value >= 0.1
      ? `${value.toFixed(2)}x`
      : `${value.toFixed(3)}x`;
}

function mebibytes(bytes: number): string {
  return formatCount(bytes / 2 ** 20);
}

function loads(values: readonly number[]): string {
  return values.map((value) => value.toFixed(2)).join(' / ');
}

/**
 * A warning when the 1-minute load average, before or after the run, exceeded the number of cores: other
 * work then shares the cores with the measurements, and the two sides do not slow down alike.
 */
export function busyMachineWarning(
  report: Pick<BenchCompareReport, 'loadAverage' | 'machine'>,
): string | undefined {
  const load = Math.max(report.loadAverage.before[0] ?? 0, report.loadAverage.after[0] ?? 0);
  if (load <= report.machine.cpus) return undefined;
  return (
    `Busy machine: the load average reached ${load.toFixed(1)} on ${report.machine.cpus} cores. Under ` +
    "contention PyTorch's OpenMP threads and the zoo slow down by different factors, so these ratios are " +
    'not representative; rerun on a quiet machine.'
  );
}

/** The report as markdown: one row per model (train, inference, peak memory) and one for the matmul. */
export function comparisonMarkdown(report: BenchCompareReport): string {
  const { settings } = report;
  const threads = report.zoo.wasmThreads;
  const backend = `${report.zoo.backend} backend${threads != null ? ` (${threads} thread${threads === 1 ? '' : 's'})` : ''}`;
  const header = [
    'model',
    'params',
    `train img/s mlzoo (${report.zoo.backend})`,
    'train img/s PyTorch',
    '**train mlzoo/PyTorch**',
    `inference img/s mlzoo`,
    'inference img/s PyTorch',
    '**inference mlzoo/PyTorch**',
    'peak RSS MiB train, mlzoo / PyTorch',
  ];
  const lines = [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, index) => (index === 0 ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const model of settings.models) {
    const train = report.rows.find((row) => row.measure === model && row.mode === 'train');
    const inference = report.rows.find((row) => row.measure === model && row.mode === 'inference');
    const cell = (row: ComparisonRow | undefined, pick: (row: ComparisonRow) => string) =>
      row ? pick(row) : '-';
    lines.push(
      `| ${[
        model,
        cell(train ?? inference, (row) => (row.parameters != null ? formatCount(row.parameters) : '-')),
        cell(train, (row) => formatRate(row.zoo, row.unit)),
        cell(train, (row) => formatRate(row.pytorch, row.unit)),
        cell(train, (row) => `**${formatRatio(row.ratio)}**`),
        cell(inference, (row) => formatRate(row.zoo, row.unit)),
        cell(inference, (row) => formatRate(row.pytorch, row.unit)),
        cell(inference, (row) => `**${formatRatio(row.ratio)}**`),
        cell(train, (row) => `${mebibytes(row.zooPeakRssBytes)} / ${mebibytes(row.pytorchPeakRssBytes)}`),
      ].join(' | ')} |`,
    );
  }
  const matmul = report.rows.find((row) => row.mode === 'matmul');
  const busy = busyMachineWarning(report);
  const core = describeOpenblasCore(report.pytorch.openblasCore);
  const notes = [
    '',
    ...(busy ? [`**${busy}**`, ''] : []),
    ...(matmul
      ? [
          `matmul ${matmul.detail}: mlzoo ${formatRate(matmul.zoo, matmul.unit)} GFLOP/s, PyTorch ${formatRate(matmul.pytorch, matmul.unit)} GFLOP/s (**${formatRatio(matmul.ratio)}**).`,
          '',
        ]
      : []),
    ...(report.roundsCompleted != null
      ? [`Partial: ${report.roundsCompleted} of ${settings.rounds} rounds completed.`, '']
      : []),
    `Measured ${report.date} on ${report.machine.cpuModel} (${report.machine.cpus} cores), load average ` +
      `(1/5/15 min) ${loads(report.loadAverage.before)} before and ${loads(report.loadAverage.after)} after.`,
    `mlzoo: tfjs ${report.zoo.tfjs}, ${backend}, Node ${report.zoo.node}. PyTorch ${report.pytorch.torch} ` +
      `(Python ${report.pytorch.pythonVersion}), ${report.pytorch.threads} threads, BLAS ${report.pytorch.blas}, ` +
      `${report.pytorch.parallelBackend}${core ? `; ${core}` : ''}.`,
    `Train step: forward + cross-entropy + backward + Adam, batch ${settings.trainBatch}; inference: batch ` +
      `${settings.inferenceBatch}, no gradient. Each process warms up for ${settings.warmupSeconds} s (at least one ` +
      `step), then times ${settings.repeats} blocks of whole steps of at least ${settings.minSeconds} s and keeps ` +
      `the median block; ${settings.rounds} round${settings.rounds === 1 ? '' : 's'}, each pair run back to back ` +
      'in fresh processes (alternating which side goes first). Sides: the median over rounds; ratio: the median ' +
      "of the per-round ratios. Peak RSS: the measuring process's peak resident set (getrusage), runtime included.",
  ];
  return `${[...lines, ...notes].join('\n')}\n`;
}

interface Task {
  measure: string;
  mode: SideMeasurement['mode'];
}

/** Runs the comparison, prints a table, writes `<prefix>.json` and `<prefix>.md` when asked. */
export async function benchCompare(
  options: BenchCompareOptions,
  output: Output,
): Promise<BenchCompareReport> {
  if (options.reference !== 'pytorch') {
    throw new UsageError(`bench: unknown --reference '${options.reference}' (expected pytorch)`);
  }
  const models = options.models ?? COMPARE_MODELS;
  for (const model of models) modelPreset(model); // unknown names fail here, before any process starts
  const settings: BenchCompareReport['settings'] = {
    models,
    rounds: options.rounds ?? 2,
    trainBatch: options.trainBatch ?? 128,
    inferenceBatch: options.inferenceBatch ?? 256,
    warmupSeconds: options.warmupSeconds ?? 1,
    minSeconds: options.minSeconds ?? 1,
    repeats: options.repeats ?? 3,
    matmulSize: options.matmulSize ?? 1024,
    optimizer: 'Adam',
  };
  const python = options.python ?? DEFAULT_PYTHON;
  const threads = options.threads ?? 2;
  const script = referenceScriptPath(options.referenceScript);
  const cli = cliScriptPath(options.cliScript);
  const environment = await checkPytorch(python, script, threads);
  const missing = models.filter((model) => !environment.models.includes(model));
  if (missing.length > 0) {
    throw new UsageError(
      `bench --reference pytorch: no PyTorch builder for ${missing.join(', ')} in tools/reference/reference_models.py (it has ${environment.models.join(', ')})`,
    );
  }
  output.line(
    `PyTorch ${String(environment.torch)} at ${python}, ${String(environment.threads)} threads, BLAS ${String(environment.blas)}`,
  );
  // OpenBLAS's detected core can be far slower than the CPU allows (on these VMs 14-30 GFLOP/s against
  // 83-174 with SkylakeX): probe, and run every PyTorch process with the fastest.
  const openblasCore = await chooseOpenblasCore(
    (coreType) => probeOpenblasCore(python, script, threads, coreType),
    { blas: String(environment.blas), userCoreType: process.env.OPENBLAS_CORETYPE },
  );
  const pytorchEnvironment = withCoreType(openblasCore.coreType);
  const coreNote = describeOpenblasCore(openblasCore);
  if (coreNote) output.line(coreNote);

  // The same command line on both sides (the zoo's bench-measure mirrors bench_pytorch.py), plus each
  // side's own: the zoo backend; torch's threads and the preset config the PyTorch builder reads.
  const runSide = async (side: 'zoo' | 'pytorch', task: Task): Promise<SideMeasurement> => {
    const shared = [
      '--measure',
      task.measure,
      '--mode',
      task.mode === 'matmul' ? 'train' : task.mode,
      '--batch',
      String(task.mode === 'inference' ? settings.inferenceBatch : settings.trainBatch),
      '--warmup-seconds',
      String(settings.warmupSeconds),
      '--min-seconds',
      String(settings.minSeconds),
      '--repeats',
      String(settings.repeats),
      '--matmul-size',
      String(settings.matmulSize),
    ];
    const result =
      side === 'zoo'
        ? await runProcess(process.execPath, [
            cli,
            'bench-measure',
            ...shared,
            ...(options.backend ? ['--backend', options.backend] : []),
            '--json',
            '--no-progress',
          ])
        : await runProcess(
            python,
            [
              script,
              ...shared,
              '--threads',
              String(threads),
              ...(task.mode === 'matmul'
                ? []
                : ['--config', JSON.stringify(modelPreset(task.measure).config)]),
            ],
            pytorchEnvironment,
          );
    const parsed = parseJson(result.stdout);
    if (result.code !== 0 || !parsed || parsed.side !== side) {
      const reason =
        typeof parsed?.message === 'string' ? parsed.message : lastLines(result.stderr || result.stdout);
      throw new Error(
        `bench --reference: the ${side === 'zoo' ? 'zoo' : 'PyTorch'} measurement of ${task.measure} ${task.mode} failed (${describeExit(result.code)}): ${reason}`,
      );
    }
    return parsed as unknown as SideMeasurement;
  };

  const tasks: Task[] = [
    { measure: 'matmul', mode: 'matmul' },
    ...models.flatMap((model): Task[] => [
      { measure: model, mode: 'train' },
      { measure: model, mode: 'inference' },
    ]),
  ];
  const before = loadavg();
  const measurements: RoundMeasurement[] = [];
  const makeReport = (roundsCompleted: number): BenchCompareReport => {
    const firstZoo = measurements.find((entry) => entry.side === 'zoo')!;
    return {
      date: new Date().toISOString(),
      reference: 'pytorch',
      machine: {
        platform: `${platform()} ${process.arch}`,
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
        totalMemoryBytes: totalmem(),
      },
      loadAverage: { before, after: loadavg() },
      settings,
      ...(roundsCompleted < settings.rounds ? { roundsCompleted } : {}),
      zoo: {
        backend: firstZoo.backend ?? 'unknown',
        ...(firstZoo.wasmThreads != null ? { wasmThreads: firstZoo.wasmThreads } : {}),
        node: firstZoo.node ?? process.versions.node,
        tfjs: firstZoo.tfjs ?? 'unknown',
      },
      pytorch: {
        python,
        pythonVersion: String(environment.pythonVersion),
        torch: String(environment.torch),
        threads: Number(environment.threads),
        blas: String(environment.blas),
        blasLibraries: (environment.blasLibraries as string[] | undefined) ?? [],
        parallelBackend: String(environment.parallelBackend),
        openblasCore,
      },
      rows: summarizeComparison(measurements),
      measurements: [...measurements],
    };
  };
  const write = async (report: BenchCompareReport) => {
    if (!options.outPrefix) return;
    await writeFile(`${options.outPrefix}.json`, `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(`${options.outPrefix}.md`, comparisonMarkdown(report));
  };
  for (let round = 1; round <= settings.rounds; round++) {
    for (const task of tasks) {
      const sides = round % 2 === 1 ? (['zoo', 'pytorch'] as const) : (['pytorch', 'zoo'] as const);
      const pair: Partial<Record<'zoo' | 'pytorch', SideMeasurement>> = {};
      for (const side of sides) {
        const loadAverage1m = loadavg()[0]!;
        let measured: SideMeasurement;
        try {
          measured = await runSide(side, task);
        } catch (error) {
          // One retry: a process can fail for a reason outside it (a package rebuilt under it).
          output.warn(`${(error as Error).message.split('\n')[0]}; retrying once in ${RETRY_SECONDS} s`);
          await new Promise((resolveDelay) => setTimeout(resolveDelay, RETRY_SECONDS * 1000));
          measured = await runSide(side, task);
        }
        pair[side] = measured;
        measurements.push({ ...measured, round, loadAverage1m });
      }
      const { zoo, pytorch } = pair as Record<'zoo' | 'pytorch', SideMeasurement>;
      if (zoo.parameters !== pytorch.parameters) {
        output.warn(
          `bench: ${task.measure}: the zoo model has ${zoo.parameters} trainable parameters and the PyTorch one ${pytorch.parameters}: not the same model`,
        );
      }
      output.line(
        `round ${round}/${settings.rounds} ${task.measure}${task.mode === 'matmul' ? '' : ` ${task.mode}`}: ` +
          `mlzoo ${formatRate(zoo.median, zoo.unit)} ${zoo.unit}, PyTorch ${formatRate(pytorch.median, pytorch.unit)} ` +
          `${pytorch.unit} (${formatRatio(zoo.median / pytorch.median)})`,
      );
    }
    // after every round but the last, the report so far (a run cut short keeps its complete rounds)
    if (round < settings.rounds) await write(makeReport(round));
  }
  const report = makeReport(settings.rounds);
  const after = report.loadAverage.after;

  output.line(
    formatTable(
      [
        ['measure', 'mode', 'mlzoo', 'PyTorch', 'mlzoo/PyTorch', 'peak RSS MiB mlzoo / PyTorch'],
        ...report.rows.map((row) => [
          row.measure,
          row.mode,
          `${formatRate(row.zoo, row.unit)} ${row.unit}`,
          `${formatRate(row.pytorch, row.unit)} ${row.unit}`,
          formatRatio(row.ratio),
          `${mebibytes(row.zooPeakRssBytes)} / ${mebibytes(row.pytorchPeakRssBytes)}`,
        ]),
      ],
      [false, false, true, true, true, true],
    ),
  );
  output.line(`load average before ${loads(before)}, after ${loads(after)}`);
  const busy = busyMachineWarning(report);
  if (busy) output.warn(`bench: ${busy}`);
  if (options.outPrefix) {
    await write(report);
    output.line(`wrote ${options.outPrefix}.json and ${options.outPrefix}.md`);
  }
  output.result(report);
  return report;
}
