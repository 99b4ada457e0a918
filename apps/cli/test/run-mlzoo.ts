// Test helpers for the CLI: output streams that capture what mlzoo writes, and `mlzoo ...args` run
// in-process through `main` with a check that no tensor is left behind.
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { Streams } from '../src/output.js';
import { main } from '../src/program.js';

export interface CapturedStreams {
  streams: Streams;
  stdout: () => string;
  stderr: () => string;
}

/** Streams (not TTYs) that keep what is written; `onOutput` also sees each write, for either stream. */
export function captureStreams(onOutput?: (text: string) => void): CapturedStreams {
  const written = { stdout: '', stderr: '' };
  const stream = (name: keyof typeof written) => ({
    write: (text: string) => {
      onOutput?.(text);
      written[name] += text;
      return true;
    },
    isTTY: false,
  });
  return {
    streams: { stdout: stream('stdout'), stderr: stream('stderr') },
    stdout: () => written.stdout,
    stderr: () => written.stderr,
  };
}

export interface RunMlzooOptions {
  /** Aborts the command as a user's Ctrl-C would. */
  signal?: AbortSignal;
  /** Sees each write to stdout or stderr as it happens. */
  onOutput?: (text: string) => void;
}

/** Runs `mlzoo ...args` in-process through `main`; checks that no tensor is left behind. */
export async function runMlzoo(
  args: string[],
  options: RunMlzooOptions = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = captureStreams(options.onOutput);
  const before = tf.memory().numTensors;
  const code = await main(args, {
    streams: captured.streams,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  expect(tf.memory().numTensors, `tensors leaked by mlzoo ${args.join(' ')}`).toBe(before);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}
