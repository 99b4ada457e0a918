// Progress reporting: a cli-progress bar on a terminal, plain lines every few seconds when the stream
// is not a terminal (CI logs stay readable), nothing when turned off.
import cliProgress from 'cli-progress';
import type { Output, TextStream } from './output.js';

export interface ProgressValues {
  /** Text before the bar, e.g. "epoch 2/10". */
  label: string;
  /** Free text after the counts, e.g. "loss 0.4123 | 5,120 img/s". */
  detail: string;
}

export interface ProgressOptions {
  /** Unit of the counts ("steps"). */
  unit?: string;
  /** Seconds between plain lines when not on a terminal (default 5). */
  lineIntervalSeconds?: number;
  /** Force a mode instead of choosing from the stream. */
  mode?: ProgressMode;
}

export type ProgressMode = 'bar' | 'lines' | 'off';

/** One progress display that can be started several times (once per epoch). */
export interface Progress {
  readonly mode: ProgressMode;
  start(total: number, values: ProgressValues): void;
  update(value: number, values: ProgressValues): void;
  /** Ends the current bar; `finalLine` is printed in lines mode (and after the bar). */
  stop(finalLine?: string): void;
}

/**
 * Creates the progress display for `output`: on the human-text stream (stderr in --json mode), a bar on
 * a terminal, periodic lines otherwise, off with --no-progress.
 */
export function createProgress(output: Output, options: ProgressOptions = {}): Progress {
  const stream = output.textStream;
  const mode: ProgressMode = options.mode ?? (!output.progress ? 'off' : stream.isTTY ? 'bar' : 'lines');
  const unit = options.unit ?? 'steps';
  if (mode === 'bar') return new BarProgress(stream, unit);
  if (mode === 'lines') return new LineProgress(stream, unit, (options.lineIntervalSeconds ?? 5) * 1000);
  return { mode: 'off', start() {}, update() {}, stop() {} };
}

class BarProgress implements Progress {
  readonly mode = 'bar' as const;
  #bar: cliProgress.SingleBar;
  #active = false;

  constructor(
    readonly stream: TextStream,
    unit: string,
  ) {
    this.#bar = new cliProgress.SingleBar(
      {
        stream: stream as NodeJS.WritableStream,
        format: `{label} |{bar}| {value}/{total} ${unit} | {detail} | eta {eta_formatted}`,
        barCompleteChar: '\u2588',
        barIncompleteChar: '\u2591',
        hideCursor: true,
        clearOnComplete: false,
        stopOnComplete: false,
        etaBuffer: 20,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  start(total: number, values: ProgressValues): void {
    if (this.#active) this.#bar.stop();
    this.#bar.start(total, 0, { ...values });
    this.#active = true;
  }

  update(value: number, values: ProgressValues): void {
    if (this.#active) this.#bar.update(value, { ...values });
  }

  stop(finalLine?: string): void {
    if (this.#active) {
      this.#bar.stop();
      this.#active = false;
    }
    if (finalLine) this.stream.write(`${finalLine}\n`);
  }
}

class LineProgress implements Progress {
  readonly mode = 'lines' as const;
  #total = 0;
  #lastPrinted = 0;

  constructor(
    readonly stream: TextStream,
    readonly unit: string,
    readonly intervalMilliseconds: number,
  ) {}

  start(total: number, _values: ProgressValues): void {
    this.#total = total;
    this.#lastPrinted = Date.now();
  }

  update(value: number, values: ProgressValues): void {
    const now = Date.now();
    if (now - this.#lastPrinted < this.intervalMilliseconds || value >= this.#total) return;
    this.#lastPrinted = now;
    this.stream.write(`${values.label}: ${value}/${this.#total} ${this.unit} | ${values.detail}\n`);
  }

  stop(finalLine?: string): void {
    if (finalLine) this.stream.write(`${finalLine}\n`);
  }
}
