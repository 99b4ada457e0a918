// Where a command writes: human text, or (with --json) one JSON object on stdout and everything else on
// stderr. Commands take an Output instead of touching process.stdout, so tests run them in-process.

/** A writable stream as far as the CLI needs one (process.stdout, a PassThrough in tests). */
export interface TextStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface Streams {
  stdout: TextStream;
  stderr: TextStream;
}

export interface OutputOptions {
  /** Print one JSON object on stdout at the end; human text goes to stderr. */
  json?: boolean;
  /** Show progress bars / periodic progress lines (default true). */
  progress?: boolean;
}

export class Output {
  readonly json: boolean;
  readonly progress: boolean;

  constructor(
    readonly streams: Streams,
    options: OutputOptions = {},
  ) {
    this.json = options.json ?? false;
    this.progress = options.progress ?? true;
  }

  /** The stream human-readable messages go to: stdout, or stderr when stdout carries JSON. */
  get textStream(): TextStream {
    return this.json ? this.streams.stderr : this.streams.stdout;
  }

  /** A line of human-readable output (on stderr in JSON mode, so stdout stays one JSON object). */
  line(text = ''): void {
    this.textStream.write(`${text}\n`);
  }

  /** A warning, always on stderr. */
  warn(text: string): void {
    this.streams.stderr.write(`mlzoo: ${text}\n`);
  }

  /** The command's result: JSON on stdout in JSON mode, nothing otherwise (commands print their own text). */
  result(value: unknown): void {
    if (this.json) this.streams.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }
}

/** Streams of the running process. */
export function processStreams(): Streams {
  return { stdout: process.stdout, stderr: process.stderr };
}

/** Formats a count with thousands separators: 535818 -> "535,818". */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Pads the columns of a plain-text table. */
export function formatTable(rows: string[][], alignRight: boolean[] = []): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, index) =>
          alignRight[index] ? cell.padStart(widths[index]!) : cell.padEnd(widths[index]!),
        )
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
