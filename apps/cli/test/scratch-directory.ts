// A temporary directory for one test file: made before its tests, removed after them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/** Registers the hooks; call the returned function inside tests for the directory's path. */
export function scratchDirectory(prefix: string): () => string {
  let directory: string | undefined;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (directory) await rm(directory, { recursive: true, force: true });
  });
  return () => {
    if (!directory) throw new Error(`scratchDirectory(${prefix}): used outside a test`);
    return directory;
  };
}
