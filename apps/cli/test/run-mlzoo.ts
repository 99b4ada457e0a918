// Runs `mlzoo ...args` in-process through `main`, capturing its output, and checks that no tensor is left
// behind. (cli.test.ts and train-every-model.test.ts carry their own copies of this; they can use it.)
import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';
import type { Streams } from '../src/output.js';
import { main } from '../src/program.js';

export async function runMlzoo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const written = { stdout: '', stderr: '' };
  const stream = (name: keyof typeof written) => ({
    write: (text: string) => {
      written[name] += text;
      return true;
    },
    isTTY: false,
  });
  const streams: Streams = { stdout: stream('stdout'), stderr: stream('stderr') };
  const before = tf.memory().numTensors;
  const code = await main(args, { streams });
  expect(tf.memory().numTensors, `tensors leaked by mlzoo ${args.join(' ')}`).toBe(before);
  return { code, ...written };
}
