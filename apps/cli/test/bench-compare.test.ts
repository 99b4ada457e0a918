// `mlzoo bench --reference pytorch`: the ratio logic and the writers on given numbers, the zoo-side
// measurement in this process, the errors when Python or torch is missing, and a tiny real run of both
// sides (the MLP, one round) when /usr/bin/python3 has torch; without torch that same command must fail
// with the message that names the apt command. Throughputs are checked for being finite, never timed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BenchCompareReport,
  benchCompare,
  comparisonMarkdown,
  DEFAULT_PYTHON,
  summarizeComparison,
} from '../src/bench-compare.js';
import { benchMeasure, median, type RoundMeasurement } from '../src/bench-measure.js';
import { Output } from '../src/output.js';
import { main } from '../src/program.js';
import { captureStreams } from './run-mlzoo.js';

/** A measurement as a bench process reports it, with only the fields the summary reads varied. */
function measured(
  side: 'zoo' | 'pytorch',
  measure: string,
  mode: RoundMeasurement['mode'],
  round: number,
  value: number,
  peakRssBytes = 100 * 2 ** 20,
): RoundMeasurement {
  return {
    side,
    measure,
    mode,
    batch: mode === 'matmul' ? null : 128,
    unit: mode === 'matmul' ? 'GFLOP/s' : 'images/s',
    detail: mode === 'matmul' ? '[1024, 1024] x [1024, 1024] float32' : 'batch 128, Adam',
    ...(mode === 'matmul' ? {} : { parameters: 535_818 }),
    warmupSteps: 1,
    blocks: [{ steps: 1, seconds: 1, perSecond: value }],
    median: value,
    peakRssBytes,
    baselineRssBytes: 50 * 2 ** 20,
    round,
    loadAverage1m: 1,
  };
}

const TINY_TIMING = { warmupSeconds: 0.01, minSeconds: 0.01, repeats: 2 };

let directory: string;
beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mlzoo-bench-compare-'));
});
afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('summarizeComparison and comparisonMarkdown', () => {
  const rounds = [
    measured('zoo', 'matmul', 'matmul', 1, 20),
    measured('pytorch', 'matmul', 'matmul', 1, 200),
    measured('zoo', 'vit_fashion_mnist', 'train', 1, 100, 300 * 2 ** 20),
    measured('pytorch', 'vit_fashion_mnist', 'train', 1, 400, 250 * 2 ** 20),
    measured('pytorch', 'vit_fashion_mnist', 'inference', 1, 1000),
    measured('zoo', 'vit_fashion_mnist', 'inference', 1, 500),
    measured('pytorch', 'matmul', 'matmul', 2, 100),
    measured('zoo', 'matmul', 'matmul', 2, 20),
    measured('pytorch', 'vit_fashion_mnist', 'train', 2, 200, 260 * 2 ** 20),
    measured('zoo', 'vit_fashion_mnist', 'train', 2, 80, 310 * 2 ** 20),
    measured('zoo', 'vit_fashion_mnist', 'inference', 2, 300),
    measured('pytorch', 'vit_fashion_mnist', 'inference', 2, 1000),
    measured('zoo', 'vit_fashion_mnist', 'inference', 3, 400),
    measured('pytorch', 'vit_fashion_mnist', 'inference', 3, 1000),
  ];

  it('pairs each round, keeps the median per side and the median of the per-round ratios', () => {
    const rows = summarizeComparison(rounds);
    expect(rows.map((row) => `${row.measure} ${row.mode}`)).toEqual([
      'matmul matmul',
      'vit_fashion_mnist train',
      'vit_fashion_mnist inference',
    ]);
    const [matmul, train, inference] = rows as [(typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];
    expect(matmul).toMatchObject({ zoo: 20, pytorch: 150, unit: 'GFLOP/s', roundRatios: [0.1, 0.2] });
    expect(matmul.ratio).toBeCloseTo(0.15, 12);
    // round ratios 0.25 and 0.4: the ratio is their median, not the ratio of the medians (90 / 300)
    expect(train).toMatchObject({ zoo: 90, pytorch: 300, roundRatios: [0.25, 0.4], parameters: 535_818 });
    expect(train.ratio).toBeCloseTo(0.325, 12);
    expect(train.zooPeakRssBytes).toBe(310 * 2 ** 20);
    expect(train.pytorchPeakRssBytes).toBe(260 * 2 ** 20);
    expect(inference).toMatchObject({ zoo: 400, pytorch: 1000, roundRatios: [0.5, 0.3, 0.4] });
    expect(inference.ratio).toBeCloseTo(0.4, 12);
  });

  it('refuses a measurement that has no partner on the other side', () => {
    expect(() => summarizeComparison(rounds.filter((entry) => entry.side === 'zoo'))).toThrow(
      /matmul matmul has 2 zoo and 0 PyTorch results/,
    );
    expect(() =>
      summarizeComparison([
        measured('zoo', 'matmul', 'matmul', 1, 20),
        measured('pytorch', 'matmul', 'matmul', 2, 200),
      ]),
    ).toThrow(/no round has both/);
  });

  it('writes one markdown row per model with the ratios as the headline', () => {
    const report: BenchCompareReport = {
      date: '2026-11-22T21:00:00.000Z',
      reference: 'pytorch',
      machine: { platform: 'linux x64', cpus: 2, cpuModel: 'Test CPU', totalMemoryBytes: 2 ** 34 },
      loadAverage: { before: [1.5, 1, 0.5], after: [2, 1.25, 0.75] },
      settings: {
        models: ['vit_fashion_mnist'],
        rounds: 2,
        trainBatch: 128,
        inferenceBatch: 256,
        warmupSeconds: 1,
        minSeconds: 1,
        repeats: 3,
        matmulSize: 1024,
        optimizer: 'Adam',
      },
      zoo: { backend: 'wasm', wasmThreads: 2, node: '20.20.0', tfjs: '4.22.0' },
      pytorch: {
        python: DEFAULT_PYTHON,
        pythonVersion: '3.11.2',
        torch: '1.13.0',
        threads: 2,
        blas: 'openblas-openmp',
        blasLibraries: [],
        parallelBackend: 'OpenMP',
      },
      rows: summarizeComparison(rounds),
      measurements: rounds,
    };
    const markdown = comparisonMarkdown(report);
    const lines = markdown.split('\n');
    expect(lines[0]).toBe(
      '| model | params | train img/s mlzoo (wasm) | train img/s PyTorch | **train mlzoo/PyTorch** | ' +
        'inference img/s mlzoo | inference img/s PyTorch | **inference mlzoo/PyTorch** | ' +
        'peak RSS MiB train, mlzoo / PyTorch |',
    );
    expect(lines[2]).toBe(
      '| vit_fashion_mnist | 535,818 | 90 | 300 | **0.33x** | 400 | 1,000 | **0.40x** | 310 / 260 |',
    );
    expect(markdown).toContain(
      'matmul [1024, 1024] x [1024, 1024] float32: mlzoo 20.0 GFLOP/s, PyTorch 150.0',
    );
    expect(markdown).toContain(
      'load average (1/5/15 min) 1.50 / 1.00 / 0.50 before and 2.00 / 1.25 / 0.75 after',
    );
    expect(markdown).toContain('wasm backend (2 threads), Node 20.20.0');
    expect(markdown).toContain('BLAS openblas-openmp');
    expect(markdown).not.toContain('Busy machine');
    const busy = comparisonMarkdown({ ...report, loadAverage: { before: [1, 1, 1], after: [12.5, 8, 4] } });
    expect(busy).toContain('**Busy machine: the load average reached 12.5 on 2 cores. Under contention');
  });
});

describe('the zoo side', () => {
  it('measures an MLP train step and inference in this process, with the fields PyTorch reports', async () => {
    const before = tf.memory().numTensors;
    for (const mode of ['train', 'inference'] as const) {
      const result = await benchMeasure({ measure: 'mlp_fashion_mnist', mode, batch: 4, ...TINY_TIMING });
      expect(result).toMatchObject({
        side: 'zoo',
        measure: 'mlp_fashion_mnist',
        mode,
        batch: 4,
        unit: 'images/s',
        parameters: 535_818,
        backend: tf.getBackend(),
      });
      expect(result.blocks).toHaveLength(2);
      expect(result.median).toBe(median(result.blocks.map((block) => block.perSecond)));
      expect(Number.isFinite(result.median) && result.median > 0).toBe(true);
      expect(result.peakRssBytes).toBeGreaterThan(0);
      expect(result.peakTensorBytes).toBeGreaterThan(0);
    }
    const matmul = await benchMeasure({ measure: 'matmul', mode: 'train', matmulSize: 64, ...TINY_TIMING });
    expect(matmul).toMatchObject({ mode: 'matmul', unit: 'GFLOP/s', batch: null });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('missing Python or torch', () => {
  it('names the apt command when the interpreter is missing', async () => {
    await expect(
      benchCompare(
        { reference: 'pytorch', models: ['mlp_fashion_mnist'], python: join(directory, 'no-python') },
        new Output(captureStreams().streams),
      ),
    ).rejects.toThrow(
      /no Python at .*no-python; install it with: sudo apt-get install python3-torch libopenblas0-openmp/,
    );
  });

  it('names the apt command when the interpreter cannot import torch', async () => {
    // `python3 -S` skips site-packages (Debian's dist-packages): a Python without torch.
    const python = join(directory, 'python-without-torch');
    await writeFile(python, `#!/bin/sh\nexec ${DEFAULT_PYTHON} -S "$@"\n`);
    await chmod(python, 0o755);
    const run = benchCompare(
      { reference: 'pytorch', models: ['mlp_fashion_mnist'], python },
      new Output(captureStreams().streams),
    );
    if (existsSync(DEFAULT_PYTHON)) {
      await expect(run).rejects.toThrow(
        /cannot import torch \(No module named 'torch'\); install it with: sudo apt-get install python3-torch libopenblas0-openmp/,
      );
    } else {
      await expect(run).rejects.toThrow(/bench --reference pytorch: .*exit code 127/);
    }
  });

  it('rejects an unknown reference and models without a PyTorch builder', async () => {
    const output = new Output(captureStreams().streams);
    await expect(benchCompare({ reference: 'jax' }, output)).rejects.toThrow(
      "bench: unknown --reference 'jax' (expected pytorch)",
    );
    await expect(benchCompare({ reference: 'pytorch', models: ['not_a_model'] }, output)).rejects.toThrow(
      /unknown model 'not_a_model'/,
    );
  });
});

const hasTorch = existsSync(DEFAULT_PYTHON) && spawnSync(DEFAULT_PYTHON, ['-c', 'import torch']).status === 0;

describe(`mlzoo bench --reference pytorch (${hasTorch ? 'with' : 'without'} torch at ${DEFAULT_PYTHON})`, () => {
  it(hasTorch
    ? 'runs both sides in fresh processes and writes JSON and markdown'
    : 'fails with the apt command, before measuring', async () => {
    const prefix = join(directory, 'speed');
    const captured = captureStreams();
    const code = await main(
      [
        'bench',
        '--reference',
        'pytorch',
        '--models',
        'mlp_fashion_mnist',
        '--rounds',
        '1',
        '--repeats',
        '1',
        '--min-time',
        '0.05',
        '--warmup-time',
        '0.01',
        '--train-batch',
        '8',
        '--matmul-size',
        '128',
        '--backend',
        tf.getBackend(),
        '--out',
        prefix,
        '--no-progress',
      ],
      { streams: captured.streams },
    );
    if (!hasTorch) {
      expect(code).toBe(1);
      expect(captured.stderr()).toMatch(/apt-get install python3-torch libopenblas0-openmp/);
      expect(existsSync(`${prefix}.json`)).toBe(false);
      return;
    }
    expect(code, captured.stderr()).toBe(0);
    const report = JSON.parse(await readFile(`${prefix}.json`, 'utf8')) as BenchCompareReport;
    expect(await readFile(`${prefix}.md`, 'utf8')).toBe(comparisonMarkdown(report));
    expect(report.settings).toMatchObject({ rounds: 1, trainBatch: 8, inferenceBatch: 16, matmulSize: 128 });
    expect(report.zoo.backend).toBe(tf.getBackend());
    expect(report.pytorch.threads).toBe(2);
    expect(report.pytorch.blas).not.toBe('reference');
    expect(report.measurements.map((entry) => `${entry.side} ${entry.measure} ${entry.mode}`)).toEqual([
      'zoo matmul matmul',
      'pytorch matmul matmul',
      'zoo mlp_fashion_mnist train',
      'pytorch mlp_fashion_mnist train',
      'zoo mlp_fashion_mnist inference',
      'pytorch mlp_fashion_mnist inference',
    ]);
    for (const entry of report.measurements) {
      expect(Number.isFinite(entry.median) && entry.median > 0).toBe(true);
      expect(entry.peakRssBytes).toBeGreaterThanOrEqual(entry.baselineRssBytes ?? 0);
    }
    // both sides build the same model
    const parameters = report.measurements
      .filter((entry) => entry.mode === 'train')
      .map((entry) => entry.parameters);
    expect(parameters).toEqual([535_818, 535_818]);
    expect(captured.stderr()).not.toContain('not the same model');
    expect(report.rows.map((row) => `${row.measure} ${row.mode}`)).toEqual([
      'matmul matmul',
      'mlp_fashion_mnist train',
      'mlp_fashion_mnist inference',
    ]);
    for (const row of report.rows) {
      const zoo = report.measurements.find(
        (entry) => entry.side === 'zoo' && entry.measure === row.measure && entry.mode === row.mode,
      )!;
      const pytorch = report.measurements.find(
        (entry) => entry.side === 'pytorch' && entry.measure === row.measure && entry.mode === row.mode,
      )!;
      expect(row.ratio).toBeCloseTo(zoo.median / pytorch.median, 12);
    }
    expect(captured.stdout()).toContain(`wrote ${prefix}.json and ${prefix}.md`);
  }, 300_000);
});
