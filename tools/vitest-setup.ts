// Runs before every test file: selects the backend from MLZOO_BACKEND (cpu when unset) so the whole
// suite can run on cpu, wasm or webgpu without code changes.
import { setBackend } from '../packages/core/src/backend.ts';

const requested = (process.env.MLZOO_BACKEND ?? 'cpu') as Parameters<typeof setBackend>[0];
await setBackend(requested, { quiet: true });
