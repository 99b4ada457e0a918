// The `mlzoo` command-line program (commander). `main` runs it in-process and returns the exit code
// instead of exiting, so tests call it directly; src/cli.ts is the executable entry.
import { Command, CommanderError } from 'commander';
import { benchCompare, COMPARE_MODELS, DEFAULT_PYTHON } from './bench-compare.js';
import { benchMeasure } from './bench-measure.js';
import { BENCH_MODELS, bench } from './commands/bench.js';
import { DEMO_SETTINGS, demo } from './commands/demo.js';
import { evalCommand } from './commands/eval.js';
import { info } from './commands/info.js';
import { predict } from './commands/predict.js';
import { TRAIN_DEFAULTS, train } from './commands/train.js';
import {
  errorMessage,
  parseNonNegativeInteger,
  parsePositiveInteger,
  parsePositiveNumber,
  UsageError,
} from './errors.js';
import { DEFAULT_MODEL } from './models.js';
import { Output, processStreams, type Streams } from './output.js';
import { LEARNING_RATE_SCHEDULES, OPTIMIZERS, parseChoice, parseNonNegativeNumber } from './training.js';
import { parseConfigOverrides } from './weights.js';

export const VERSION = '0.1.0';

/** Exit code after Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT_CODE = 130;

export interface MainOptions {
  /** Where output goes (default: the process's stdout and stderr). */
  streams?: Streams;
  /** Aborts a running `train` as Ctrl-C does (for tests and embedding). */
  signal?: AbortSignal;
}

interface GlobalOptions {
  verbose?: boolean;
  progress?: boolean;
}

type Action = (output: Output) => Promise<number | undefined>;

/** Builds the program; `run` wraps each command's work with its output settings. */
function buildProgram(
  streams: Streams,
  run: (command: Command, json: boolean, action: Action) => Promise<void>,
  signal?: AbortSignal,
): Command {
  const program = new Command('mlzoo')
    .description('mlzoo: train, evaluate, run and benchmark model-zoo models on TensorFlow.js')
    .version(VERSION)
    .option('--verbose', 'print stack traces with errors')
    .option('--no-progress', 'no progress bars or progress lines')
    .showHelpAfterError('(run mlzoo --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => streams.stdout.write(text),
      writeErr: (text) => streams.stderr.write(text),
    });

  program
    .command('info')
    .description('list registered models with parameter counts, or show one model in detail')
    .argument('[model]', 'a model name (see `mlzoo info`)')
    .option('--filter <glob>', "list only matching models, e.g. 'vit_*'")
    .option('--verify', 'build every listed model and check its parameter count (slow for big models)')
    .option('--backend <name>', 'backend to build the models on (default: $MLZOO_BACKEND or auto)')
    .option('--json', 'print JSON')
    .action(
      async (
        model: string | undefined,
        options: { json?: boolean; backend?: string; filter?: string; verify?: boolean },
        command: Command,
      ) =>
        run(command, options.json ?? false, async (output) => {
          const result = await info(model, output, {
            ...(options.backend ? { backend: options.backend } : {}),
            ...(options.filter ? { filter: options.filter } : {}),
            verify: options.verify ?? false,
          });
          return result.mismatches.length > 0 ? 1 : 0;
        }),
    );

  program
    .command('train')
    .description('train a model on a dataset, with a checkpoint per epoch; writes safetensors weights')
    .argument('<model>', 'a model name (see `mlzoo info`)')
    .option('--dataset <name>', 'dataset', 'fashion-mnist')
    .option('--data-dir <dir>', 'folder with the full dataset files (default: the bundled subset)')
    .option('--epochs <n>', 'epochs', String(TRAIN_DEFAULTS.epochs))
    .option('--batch-size <n>', 'batch size', String(TRAIN_DEFAULTS.batchSize))
    .option('--lr <x>', 'learning rate (the peak of a cosine schedule)', String(TRAIN_DEFAULTS.learningRate))
    .option('--optimizer <name>', 'adam or adamw (decoupled weight decay)', TRAIN_DEFAULTS.optimizer)
    .option('--weight-decay <x>', 'AdamW weight decay (default 0.01; needs --optimizer adamw)')
    .option(
      '--lr-schedule <name>',
      'constant, or cosine: per step, linear warmup from 0, then cosine to 0 at the last step',
      TRAIN_DEFAULTS.learningRateSchedule,
    )
    .option(
      '--warmup-epochs <n>',
      'warmup epochs of the cosine schedule',
      String(TRAIN_DEFAULTS.warmupEpochs),
    )
    .option('--seed <n>', 'seed for initial weights and shuffling', String(TRAIN_DEFAULTS.seed))
    .option('--checkpoint <path>', 'checkpoint file (default: <out>.checkpoint.safetensors)')
    .option('--resume', 'continue from the checkpoint if it exists')
    .option('--out <path>', 'final weights (default: runs/<model>/model.safetensors)')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default: $MLZOO_BACKEND or auto)')
    .option('--limit-train <n>', 'train on the first n training images only')
    .option('--limit-test <n>', 'evaluate on the first n test images only')
    .option(
      '--config <json>',
      `overrides of the preset's config as a JSON object, e.g. '{"patchSize": 7, "depth": 4}' (see \`mlzoo info <model>\`)`,
    )
    .option('--json', 'print one JSON object at the end (progress on stderr)')
    .action(async (model: string, options: Record<string, string | boolean | undefined>, command: Command) =>
      run(command, Boolean(options.json), async (output) => {
        const result = await train(
          model,
          {
            dataset: options.dataset as string,
            ...(options.dataDir ? { dataDirectory: options.dataDir as string } : {}),
            epochs: parsePositiveInteger('--epochs', options.epochs as string)!,
            batchSize: parsePositiveInteger('--batch-size', options.batchSize as string)!,
            learningRate: parsePositiveNumber('--lr', options.lr as string)!,
            optimizer: parseChoice('--optimizer', options.optimizer as string, OPTIMIZERS),
            ...(options.weightDecay != null
              ? { weightDecay: parseNonNegativeNumber('--weight-decay', options.weightDecay as string) }
              : {}),
            learningRateSchedule: parseChoice(
              '--lr-schedule',
              options.lrSchedule as string,
              LEARNING_RATE_SCHEDULES,
            ),
            warmupEpochs: parseNonNegativeInteger('--warmup-epochs', options.warmupEpochs as string)!,
            seed: parseNonNegativeInteger('--seed', options.seed as string)!,
            ...(options.checkpoint ? { checkpoint: options.checkpoint as string } : {}),
            resume: Boolean(options.resume),
            ...(options.out ? { out: options.out as string } : {}),
            ...(options.backend ? { backend: options.backend as string } : {}),
            ...(options.limitTrain
              ? { limitTrain: parsePositiveInteger('--limit-train', options.limitTrain as string)! }
              : {}),
            ...(options.limitTest
              ? { limitTest: parsePositiveInteger('--limit-test', options.limitTest as string)! }
              : {}),
            ...(options.config != null
              ? { config: parseConfigOverrides(model, options.config as string) }
              : {}),
            ...(signal ? { signal } : {}),
          },
          output,
        );
        return result.aborted ? INTERRUPTED_EXIT_CODE : 0;
      }),
    );

  program
    .command('eval')
    .description('accuracy, top-5 accuracy and loss of trained weights on the test set')
    .argument('<model>', 'the model the weights belong to')
    .requiredOption('--weights <path>', 'safetensors weights (from mlzoo train, or a checkpoint)')
    .option('--dataset <name>', 'dataset', 'fashion-mnist')
    .option('--data-dir <dir>', 'folder with the full dataset files (default: the bundled subset)')
    .option('--limit <n>', 'evaluate on the first n test images only')
    .option('--batch-size <n>', 'batch size', '256')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default: $MLZOO_BACKEND or auto)')
    .option('--json', 'print JSON')
    .action(async (model: string, options: Record<string, string | boolean | undefined>, command: Command) =>
      run(command, Boolean(options.json), async (output) => {
        await evalCommand(
          model,
          {
            weights: options.weights as string,
            dataset: options.dataset as string,
            ...(options.dataDir ? { dataDirectory: options.dataDir as string } : {}),
            ...(options.limit ? { limit: parsePositiveInteger('--limit', options.limit as string)! } : {}),
            batchSize: parsePositiveInteger('--batch-size', options.batchSize as string)!,
            ...(options.backend ? { backend: options.backend as string } : {}),
          },
          output,
        );
        return 0;
      }),
    );

  program
    .command('predict')
    .description('top-k classes for PNG images (28x28 grey for Fashion-MNIST models) or test-set examples')
    .argument('<model>', 'the model the weights belong to')
    .argument('<inputs...>', 'PNG files, or test-set indices (test:12, train:3, or a bare 12)')
    .requiredOption('--weights <path>', 'safetensors weights (from mlzoo train, or a checkpoint)')
    .option('--top-k <k>', 'classes to list per input', '3')
    .option('--dataset <name>', 'dataset the indices refer to', 'fashion-mnist')
    .option('--data-dir <dir>', 'folder with the full dataset files (default: the bundled subset)')
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default: $MLZOO_BACKEND or auto)')
    .option('--json', 'print JSON')
    .action(
      async (
        model: string,
        inputs: string[],
        options: Record<string, string | boolean | undefined>,
        command: Command,
      ) =>
        run(command, Boolean(options.json), async (output) => {
          await predict(
            model,
            inputs,
            {
              weights: options.weights as string,
              topK: parsePositiveInteger('--top-k', options.topK as string)!,
              dataset: options.dataset as string,
              ...(options.dataDir ? { dataDirectory: options.dataDir as string } : {}),
              ...(options.backend ? { backend: options.backend as string } : {}),
            },
            output,
          );
          return 0;
        }),
    );

  program
    .command('demo')
    .description(
      `train ${DEFAULT_MODEL} on the bundled Fashion-MNIST subset with the fastest backend, save it, reload it and check it`,
    )
    .option('--backend <name>', 'auto, cpu, wasm, webgpu or tensorflow (default: $MLZOO_BACKEND or auto)')
    .option('--out-dir <dir>', 'where model.safetensors goes', 'runs/demo')
    .option('--seed <n>', 'seed', String(DEMO_SETTINGS.seed))
    .option('--epochs <n>', 'epochs', String(DEMO_SETTINGS.epochs))
    .option('--json', 'print one JSON object at the end (progress on stderr)')
    .action(async (options: Record<string, string | boolean | undefined>, command: Command) =>
      run(command, Boolean(options.json), async (output) => {
        await demo(
          {
            ...(options.backend ? { backend: options.backend as string } : {}),
            outDirectory: options.outDir as string,
            seed: parseNonNegativeInteger('--seed', options.seed as string)!,
            epochs: parsePositiveInteger('--epochs', options.epochs as string)!,
          },
          output,
        );
        return 0;
      }),
    );

  program
    .command('bench')
    .description(
      'GFLOP/s of matmul and conv2d, and model train/inference images/s, per backend; with --reference ' +
        'pytorch, the zoo and PyTorch side by side (ratios zoo/PyTorch)',
    )
    .option('--backends <list>', 'comma-separated backends', 'cpu,wasm')
    .option('--json [path]', 'write the JSON report to a file (or print it when no path is given)')
    .option('--markdown <path>', 'write a markdown table')
    .option('--min-time <seconds>', 'time each measurement (each timed block) for at least this long', '1')
    .option('--max-iterations <n>', 'at most this many timed iterations per measurement', '50')
    .option(
      '--models <list>',
      `comma-separated 28x28x1 models to time (default ${BENCH_MODELS.join(',')}; with --reference ${COMPARE_MODELS.join(',')})`,
    )
    .option('--train-batch <n>', 'train-step batch size', '128')
    .option('--inference-batch <n>', 'inference batch size (default: twice the train batch)')
    .option('--reference <name>', 'compare with pytorch: each measurement in fresh processes, side by side')
    .option('--backend <name>', 'with --reference: the zoo backend (default: $MLZOO_BACKEND or auto)')
    .option('--rounds <n>', 'with --reference: rounds of every measurement on both sides', '2')
    .option('--repeats <n>', 'with --reference: timed blocks per measurement (the median is kept)', '3')
    .option('--warmup-time <seconds>', 'with --reference: warm-up per measurement (at least one step)', '1')
    .option('--python <path>', 'with --reference: the Python with torch', DEFAULT_PYTHON)
    .option('--threads <n>', 'with --reference: torch threads', '2')
    .option('--out <prefix>', 'with --reference: write <prefix>.json and <prefix>.md')
    .option('--reference-script <path>', 'with --reference: tools/reference/bench_pytorch.py elsewhere')
    .option('--matmul-size <n>', 'with --reference: the square matmul size', '1024')
    .action(async (options: Record<string, string | boolean | undefined>, command: Command) =>
      run(command, options.json === true, async (output) => {
        const list = (value: string) =>
          value
            .split(',')
            .map((name) => name.trim())
            .filter(Boolean);
        const trainBatch = parsePositiveInteger('--train-batch', options.trainBatch as string)!;
        const inferenceBatch = parsePositiveInteger('--inference-batch', options.inferenceBatch as string);
        if (options.reference != null) {
          await benchCompare(
            {
              reference: options.reference as string,
              ...(options.models ? { models: list(options.models as string) } : {}),
              ...(options.backend ? { backend: options.backend as string } : {}),
              rounds: parsePositiveInteger('--rounds', options.rounds as string)!,
              repeats: parsePositiveInteger('--repeats', options.repeats as string)!,
              warmupSeconds: parsePositiveNumber('--warmup-time', options.warmupTime as string)!,
              minSeconds: parsePositiveNumber('--min-time', options.minTime as string)!,
              trainBatch,
              inferenceBatch: inferenceBatch ?? 2 * trainBatch,
              python: options.python as string,
              threads: parsePositiveInteger('--threads', options.threads as string)!,
              matmulSize: parsePositiveInteger('--matmul-size', options.matmulSize as string)!,
              ...(options.out ? { outPrefix: options.out as string } : {}),
              ...(options.referenceScript ? { referenceScript: options.referenceScript as string } : {}),
            },
            output,
          );
          return 0;
        }
        await bench(
          {
            backends: list(options.backends as string),
            ...(typeof options.json === 'string' ? { jsonPath: options.json } : {}),
            ...(options.markdown ? { markdownPath: options.markdown as string } : {}),
            minSeconds: parsePositiveNumber('--min-time', options.minTime as string)!,
            maxIterations: parsePositiveInteger('--max-iterations', options.maxIterations as string)!,
            models: options.models ? list(options.models as string) : BENCH_MODELS,
            trainBatch,
            ...(inferenceBatch != null ? { inferenceBatch } : {}),
          },
          output,
        );
        return 0;
      }),
    );

  program
    .command('bench-measure', { hidden: true })
    .description('one measurement of `bench --reference` in this process, printed as JSON')
    .requiredOption('--measure <name>', 'a registered 28x28x1 model, or matmul')
    .option('--mode <mode>', 'train or inference', 'train')
    .option('--batch <n>', 'images per step', '128')
    .option('--backend <name>', 'backend (default: $MLZOO_BACKEND or auto)')
    .option('--warmup-seconds <seconds>', 'warm-up (at least one step)', '1')
    .option('--min-seconds <seconds>', 'each timed block runs at least this long', '2')
    .option('--repeats <n>', 'timed blocks', '3')
    .option('--matmul-size <n>', 'matmul size', '1024')
    .option('--json', 'print JSON')
    .action(async (options: Record<string, string | boolean | undefined>, command: Command) =>
      run(command, Boolean(options.json), async (output) => {
        const result = await benchMeasure({
          measure: options.measure as string,
          mode: options.mode as 'train' | 'inference',
          batch: parsePositiveInteger('--batch', options.batch as string)!,
          ...(options.backend ? { backend: options.backend as string } : {}),
          warmupSeconds: parsePositiveNumber('--warmup-seconds', options.warmupSeconds as string)!,
          minSeconds: parsePositiveNumber('--min-seconds', options.minSeconds as string)!,
          repeats: parsePositiveInteger('--repeats', options.repeats as string)!,
          matmulSize: parsePositiveInteger('--matmul-size', options.matmulSize as string)!,
        });
        output.line(
          `${result.measure}${result.mode === 'matmul' ? '' : ` ${result.mode}`} on ${result.backend}: ` +
            `${result.median.toFixed(1)} ${result.unit}, peak RSS ${Math.round(result.peakRssBytes / 2 ** 20)} MiB`,
        );
        output.result(result);
        return 0;
      }),
    );

  return program;
}

/**
 * Runs the CLI with `argv` (user arguments only, without `node` and the script) and returns the exit
 * code: 0 on success, 1 on any error (one line on stderr, the stack with --verbose), 130 when training
 * was interrupted.
 */
export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const streams = options.streams ?? processStreams();
  let exitCode = 0;
  const run = async (command: Command, json: boolean, action: Action) => {
    const globals = command.optsWithGlobals() as GlobalOptions;
    const output = new Output(streams, { json, progress: globals.progress ?? true });
    exitCode = (await action(output)) ?? 0;
  };
  const program = buildProgram(streams, run, options.signal);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const verbose = (program.opts() as GlobalOptions).verbose || argv.includes('--verbose');
    const message = errorMessage(error);
    streams.stderr.write(`mlzoo: ${message}\n`);
    if (verbose && error instanceof Error && error.stack) streams.stderr.write(`${error.stack}\n`);
    else if (!(error instanceof UsageError))
      streams.stderr.write('(run with --verbose for the stack trace)\n');
    return error instanceof UsageError ? error.exitCode : 1;
  }
}
