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
  chooseOpenblasCore,
  comparisonMarkdown,
  DEFAULT_PYTHON,
  probeOpenblasCore,
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
        openblasCore: {
          coreType: 'SkylakeX',
          source: 'probe',
          probes: [
            { coreType: 'default', gflops: 21.04 },
            { coreType: 'Haswell', gflops: 80.5 },
            { coreType: 'SkylakeX', gflops: 150.25 },
          ],
        },
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
    expect(markdown).toContain(
      'BLAS openblas-openmp, OpenMP; OpenBLAS core SkylakeX, the fastest 1024^3 GEMM probe ' +
        '(GFLOP/s: default 21.0, Haswell 80.5, SkylakeX 150.3).',
    );
    const userCore = comparisonMarkdown({
      ...report,
      pytorch: { ...report.pytorch, openblasCore: { coreType: 'Haswell', source: 'user', probes: [] } },
    });
    expect(userCore).toContain('OpenMP; OPENBLAS_CORETYPE=Haswell (set by the user).');
    const { openblasCore: _, ...withoutCore } = report.pytorch;
    expect(comparisonMarkdown({ ...report, pytorch: withoutCore })).toContain(
      'BLAS openblas-openmp, OpenMP.',
    );
    expect(markdown).not.toContain('Busy machine');
    const busy = comparisonMarkdown({ ...report, loadAverage: { before: [1, 1, 1], after: [12.5, 8, 4] } });
    expect(busy).toContain('**Busy machine: the load average reached 12.5 on 2 cores. Under contention');
  });
});

describe("choosing PyTorch's OpenBLAS core", () => {
  // probe rates by core type, as a VM whose detected core runs GEMM slowly reports them
  const rates: Record<string, number> = { default: 20, Haswell: 90, SkylakeX: 160, Slow: 5 };
  const fakeProbe = (failing: string[] = []) => {
    const asked: Array<string | undefined> = [];
    const probe = async (coreType: string | undefined) => {
      asked.push(coreType);
      if (failing.includes(coreType ?? 'default')) throw new Error('ended by SIGILL');
      return rates[coreType ?? 'default']!;
    };
    return { asked, probe };
  };

  it('probes the detected core and each candidate, and keeps the fastest', async () => {
    const { asked, probe } = fakeProbe();
    const choice = await chooseOpenblasCore(probe, { blas: 'openblas-openmp' });
    expect(asked).toEqual([undefined, 'Haswell', 'SkylakeX']);
    expect(choice).toEqual({
      coreType: 'SkylakeX',
      source: 'probe',
      probes: [
        { coreType: 'default', gflops: 20 },
        { coreType: 'Haswell', gflops: 90 },
        { coreType: 'SkylakeX', gflops: 160 },
      ],
    });
  });

  it('keeps the detected core when it is the fastest, and never chooses a core whose probe failed', async () => {
    const detected = await chooseOpenblasCore(fakeProbe().probe, { blas: 'openblas', candidates: ['Slow'] });
    expect(detected).toEqual({
      source: 'probe',
      probes: [
        { coreType: 'default', gflops: 20 },
        { coreType: 'Slow', gflops: 5 },
      ],
    });
    const failing = await chooseOpenblasCore(fakeProbe(['SkylakeX']).probe, { blas: 'openblas-openmp' });
    expect(failing.coreType).toBe('Haswell');
    expect(failing.probes[2]).toEqual({ coreType: 'SkylakeX', error: 'ended by SIGILL' });
    await expect(
      chooseOpenblasCore(fakeProbe(['default', 'Haswell', 'SkylakeX']).probe, { blas: 'openblas' }),
    ).rejects.toThrow(/every OpenBLAS core probe failed \(default: ended by SIGILL; Haswell/);
  });

  it("probes nothing when the user set OPENBLAS_CORETYPE or torch's BLAS is not OpenBLAS", async () => {
    const { asked, probe } = fakeProbe();
    expect(await chooseOpenblasCore(probe, { blas: 'openblas-openmp', userCoreType: 'Zen' })).toEqual({
      coreType: 'Zen',
      source: 'user',
      probes: [],
    });
    expect(await chooseOpenblasCore(probe, { blas: 'mkl' })).toEqual({ source: 'not-openblas', probes: [] });
    expect(asked).toEqual([]);
  });

  it('runs each probe in a fresh process with OPENBLAS_CORETYPE set, or removed for the detected core', async () => {
    // a stand-in for bench_pytorch.py --probe: the rate depends on the core type it sees; SkylakeX dies
    // as a CPU without AVX-512 would
    const python = join(directory, 'python-probe');
    await writeFile(
      python,
      [
        '#!/bin/sh',
        'core=$(printenv OPENBLAS_CORETYPE || echo unset)',
        'case "$core" in',
        '  unset) rate=20 ;;',
        '  Haswell) rate=90 ;;',
        '  SkylakeX) kill -ILL $$ ;;',
        '  *) rate=1 ;;',
        'esac',
        `printf '{"side": "pytorch", "probe": true, "gflops": %s}\\n' "$rate"`,
        '',
      ].join('\n'),
    );
    await chmod(python, 0o755);
    const saved = process.env.OPENBLAS_CORETYPE;
    process.env.OPENBLAS_CORETYPE = 'Inherited';
    try {
      expect(await probeOpenblasCore(python, 'bench_pytorch.py', 2, undefined)).toBe(20);
      expect(await probeOpenblasCore(python, 'bench_pytorch.py', 2, 'Haswell')).toBe(90);
      await expect(probeOpenblasCore(python, 'bench_pytorch.py', 2, 'SkylakeX')).rejects.toThrow(/SIGILL/);
      const choice = await chooseOpenblasCore(
        (coreType) => probeOpenblasCore(python, 'bench_pytorch.py', 2, coreType),
        { blas: 'openblas-openmp' },
      );
      expect(choice.coreType).toBe('Haswell');
      expect(choice.probes.map((entry) => entry.coreType)).toEqual(['default', 'Haswell', 'SkylakeX']);
    } finally {
      if (saved === undefined) delete process.env.OPENBLAS_CORETYPE;
      else process.env.OPENBLAS_CORETYPE = saved;
    }
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
    // the OpenBLAS core: chosen from probes (or the user's OPENBLAS_CORETYPE), recorded in the report
    const core = report.pytorch.openblasCore!;
    if (process.env.OPENBLAS_CORETYPE) expect(core).toMatchObject({ source: 'user', probes: [] });
    else if (report.pytorch.blas.startsWith('openblas')) {
      expect(core.source).toBe('probe');
      expect(core.probes[0]).toMatchObject({ coreType: 'default', gflops: expect.any(Number) });
      const best = Math.max(...core.probes.map((entry) => entry.gflops ?? 0));
      expect(core.probes.find((entry) => entry.gflops === best)?.coreType).toBe(core.coreType ?? 'default');
    }
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
