// Node-only helpers (`@mlzoo/core/node`): file I/O that never reaches a browser bundle.
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import {
  type DecodeOptions,
  decodeSafetensorsWithMetadata,
  type EncodeOptions,
  encodeSafetensorsAsync,
} from './safetensors.js';
import type { CheckpointState, CheckpointStore } from './training.js';
import { decodeCheckpoint, encodeCheckpoint } from './training.js';

/**
 * Writes a file atomically: the bytes go to a temporary file beside the target, are flushed to disk,
 * and the temporary file is renamed over the target. A crash leaves either the old file or the new
 * one, never half of either.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  const handle = await open(temporary, 'wx');
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Reads and decodes a safetensors file; errors name the file. */
export async function loadSafetensorsFile(
  path: string,
  options: DecodeOptions = {},
): Promise<{ tensors: Record<string, tf.Tensor>; metadata: Record<string, string> }> {
  const bytes = await readFile(path);
  try {
    return decodeSafetensorsWithMetadata(
      new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      options,
    );
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

/** Encodes tensors as safetensors and writes them atomically. */
export async function saveSafetensorsFile(
  path: string,
  tensors: Record<string, tf.Tensor>,
  metadata?: Record<string, string>,
  options: EncodeOptions = {},
): Promise<void> {
  await writeFileAtomic(path, await encodeSafetensorsAsync(tensors, metadata, options));
}

/**
 * A {@link CheckpointStore} backed by one safetensors file, written atomically, so a crash or a
 * non-finite loss never damages the last good checkpoint.
 */
export function fileCheckpoint(path: string): CheckpointStore {
  return {
    location: path,
    async save(state: CheckpointState) {
      const { tensors, metadata } = encodeCheckpoint(state);
      await saveSafetensorsFile(path, tensors, metadata);
    },
    async load() {
      let loaded: Awaited<ReturnType<typeof loadSafetensorsFile>>;
      try {
        loaded = await loadSafetensorsFile(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
      try {
        return decodeCheckpoint(loaded.tensors, loaded.metadata, path);
      } catch (error) {
        for (const tensor of Object.values(loaded.tensors)) tensor.dispose();
        throw error;
      }
    },
  };
}
