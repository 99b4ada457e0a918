// Backend selection for the CLI. The app depends on the cpu and wasm backends and imports them here, so
// they are registered whatever the package manager's layout; webgpu and tfjs-node are found by core's
// setBackend when the user installed them.
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { type BackendName, type BackendRequest, setBackend } from '@mlzoo/core';
import { UsageError } from './errors.js';

export const BACKEND_CHOICES: readonly BackendRequest[] = ['auto', 'cpu', 'wasm', 'webgpu', 'tensorflow'];

/**
 * Selects the backend: the `--backend` option when given, else the `MLZOO_BACKEND` environment
 * variable, else `auto` (fastest available). Returns the backend in use.
 */
export async function selectBackend(request?: string): Promise<BackendName> {
  const chosen = (request ?? process.env.MLZOO_BACKEND?.trim() ?? '') || 'auto';
  if (!BACKEND_CHOICES.includes(chosen as BackendRequest)) {
    throw new UsageError(`unknown backend '${chosen}' (expected one of ${BACKEND_CHOICES.join(', ')})`);
  }
  try {
    return await setBackend(chosen as BackendRequest, { quiet: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
