import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileCheckpoint, loadSafetensorsFile, saveSafetensorsFile, writeFileAtomic } from '../src/node.js';

let folder: string;
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), 'mlzoo-core-node-'));
});
afterEach(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe('Node file helpers', () => {
  it('save and load a safetensors file with metadata', async () => {
    const path = join(folder, 'weights.safetensors');
    const tensors = {
      'fc.weight': tf.tensor2d([
        [1, 2],
        [3, 4],
      ]),
      steps: tf.tensor1d([3], 'int32'),
    };
    await saveSafetensorsFile(path, tensors, { model: 'tiny' });
    const loaded = await loadSafetensorsFile(path);
    expect(loaded.metadata).toEqual({ model: 'tiny' });
    expect(loaded.tensors['fc.weight']!.arraySync()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(loaded.tensors.steps!.dtype).toBe('int32');
    tf.dispose([...Object.values(tensors), ...Object.values(loaded.tensors)]);
    expect(await readdir(folder)).toEqual(['weights.safetensors']); // no temporary files left
  });

  it('a failed write leaves the previous file untouched and no temporary file behind', async () => {
    const path = join(folder, 'model.safetensors');
    await writeFile(path, 'the good file');
    const disposed = tf.scalar(1);
    disposed.dispose();
    await expect(saveSafetensorsFile(path, { x: disposed })).rejects.toThrow(/tensor 'x' is disposed/);
    await expect(writeFileAtomic(join(folder, 'missing', 'f.bin'), new Uint8Array(1))).rejects.toThrow(
      /ENOENT/,
    );
    expect(await readFile(path, 'utf8')).toBe('the good file');
    expect(await readdir(folder)).toEqual(['model.safetensors']);
  });

  it('a rename that fails after the temporary file was written removes the temporary file', async () => {
    const target = join(folder, 'taken');
    await mkdir(join(target, 'inside'), { recursive: true }); // a non-empty directory cannot be replaced
    await expect(writeFileAtomic(target, new Uint8Array([1, 2, 3]))).rejects.toThrow(
      /EISDIR|ENOTEMPTY|EEXIST|EPERM/,
    );
    expect(await readdir(folder)).toEqual(['taken']);
    expect(await readdir(target)).toEqual(['inside']);
  });

  it('errors name the file', async () => {
    const path = join(folder, 'broken.safetensors');
    await writeFile(path, new Uint8Array([200, 0, 0, 0, 0, 0, 0, 0, 123]));
    await expect(loadSafetensorsFile(path)).rejects.toThrow(`${path}: safetensors: header claims 200 bytes`);
  });

  it('fileCheckpoint returns null before the first save and rejects files that are not checkpoints', async () => {
    const store = fileCheckpoint(join(folder, 'run.checkpoint.safetensors'));
    expect(await store.load()).toBeNull();
    const weightsOnly = join(folder, 'weights.safetensors');
    const x = tf.zeros([2]);
    await saveSafetensorsFile(weightsOnly, { x });
    x.dispose();
    const before = tf.memory().numTensors;
    await expect(fileCheckpoint(weightsOnly).load()).rejects.toThrow(/not an mlzoo training checkpoint/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
