import * as tf from '@tensorflow/tfjs-core';
import { tfjsRegistered } from './register-tfjs.js';
import { installWasmBatchMatMul } from './wasm-batch-matmul.js';
import { installWasmIdentity } from './wasm-identity.js';
import { installWasmKernelFixes } from './wasm-kernels.js';
import {
  checkWasmThreads,
  defaultWasmThreadCount,
  installNodeWasmThreads,
  type WasmPackage,
  wasmThreadCount,
  wasmThreadsFallbackReason,
} from './wasm-threads.js';
import { installNodeWebGPU, NODE_WEBGPU_PACKAGE } from './webgpu-node.js';

/** Backends mlzoo knows how to select. `tensorflow` is the native `@tensorflow/tfjs-node` backend. */
export type BackendName = 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendRequest = BackendName | 'auto';

export interface SetBackendOptions {
  /** Do not print which backend was chosen (`auto` prints it by default). */
  quiet?: boolean;
  /**
   * Threads for the wasm backend in Node (default {@link defaultWasmThreadCount}: `MLZOO_WASM_THREADS`,
   * else 1). A positive integer (anything else throws, whichever backend is asked for). Takes effect
   * only when wasm starts for the first time.
   */
  wasmThreads?: number;
  /** Order that `auto` tries; defaults to {@link AUTO_BACKEND_ORDER}. */
  order?: readonly BackendName[];
}

const isNode = typeof process !== 'undefined' && process.versions?.node != null;

/**
 * The order `auto` tries: fastest first. In Node it leaves out webgpu: Dawn on a machine without a
 * GPU runs on Mesa's software Vulkan driver, slower than wasm, so Node uses webgpu only when asked
 * (`setBackend('webgpu')`, or an `order` that names it).
 */
export const AUTO_BACKEND_ORDER: readonly BackendName[] = isNode
  ? ['tensorflow', 'wasm', 'cpu']
  : ['webgpu', 'tensorflow', 'wasm', 'cpu'];

/** The npm package that provides each backend (all optional peer dependencies of @mlzoo/core). */
export const BACKEND_PACKAGES: Readonly<Record<BackendName, string>> = {
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

// A variable specifier keeps bundlers from resolving optional peers the user did not install; in a
// browser the user imports the backend package themselves and it is found in tfjs's registry.
async function importOptional(specifier: string): Promise<boolean> {
  try {
    await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);
    return true;
  } catch {
    return false;
  }
}

// In Node, tfjs starts wasm single-threaded; mlzoo starts its threaded build (wasm-threads.ts) unless
// the backend already runs or one thread is asked for.
async function startWasmThreads(threads: number): Promise<void> {
  if (threads <= 1 || tf.engine().registry.wasm != null) return;
  try {
    const namespace = (await import(/* @vite-ignore */ BACKEND_PACKAGES.wasm)) as WasmPackage & {
      default?: WasmPackage;
    };
    const wasmPackage = typeof namespace.BackendWasm === 'function' ? namespace : namespace.default;
    if (wasmPackage && !installNodeWasmThreads(wasmPackage, threads)) {
      const reason = wasmThreadsFallbackReason();
      if (reason) console.warn(`mlzoo: wasm runs one thread: ${reason}`);
    }
  } catch {
    // the package import failed: ensureRegistered already reported wasm unavailable
  }
}

// Why webgpu could not be set up in Node (the `webgpu` package or a Vulkan driver missing), for the
// error of an explicit setBackend('webgpu').
let nodeWebGPUFailure: string | undefined;

async function ensureRegistered(name: BackendName): Promise<boolean> {
  if (tf.findBackendFactory(name) != null) return true;
  if (name === 'webgpu' && isNode && (typeof navigator === 'undefined' || !('gpu' in navigator))) {
    // Dawn's navigator.gpu must exist before tfjs-backend-webgpu is imported: it registers only then
    try {
      await installNodeWebGPU();
      nodeWebGPUFailure = undefined;
    } catch (error) {
      nodeWebGPUFailure = (error as Error).message;
      return false;
    }
  }
  if (name === 'webgpu' && (typeof navigator === 'undefined' || !('gpu' in navigator))) return false;
  if (name === 'tensorflow' && !isNode) return false;
  await importOptional(BACKEND_PACKAGES[name]);
  return tf.findBackendFactory(name) != null;
}

async function tryBackend(name: BackendName, options: SetBackendOptions = {}): Promise<boolean> {
  if (!(await ensureRegistered(name))) return false;
  if (name === 'wasm') {
    installWasmKernelFixes();
    installWasmBatchMatMul();
    installWasmIdentity();
    if (isNode) await startWasmThreads(options.wasmThreads ?? defaultWasmThreadCount());
  }
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return false;
    await tf.ready();
    return tf.getBackend() === name;
  } catch {
    return false;
  }
}

function webgpuHint(): string {
  if (!isNode) return ' and run where navigator.gpu exists';
  return ` (in Node also ${NODE_WEBGPU_PACKAGE}, with a Vulkan driver)`;
}

function silenceCpuGreeting(): void {
  // tfjs-backend-cpu prints a banner suggesting tfjs-node on first use in Node; mlzoo says which
  // backend it picked instead.
  const backend = tf.engine().backend as { firstUse?: boolean };
  if (tf.getBackend() === 'cpu' && backend && 'firstUse' in backend) backend.firstUse = false;
}

/**
 * Selects the tfjs backend. `auto` tries webgpu (in browsers where `navigator.gpu` exists), then the
 * native tfjs-node backend if the user installed it, then wasm, then cpu, and reports its choice.
 * In Node, `setBackend('webgpu')` first installs `navigator.gpu` from the optional `webgpu` package
 * (Dawn) with {@link installNodeWebGPU}.
 * Returns the name of the backend in use.
 *
 * @example
 * ```ts
 * import { setBackend } from '@mlzoo/core';
 * const chosen = await setBackend('auto'); // 'wasm' in Node with @tensorflow/tfjs-backend-wasm installed
 * ```
 */
export async function setBackend(
  request: BackendRequest,
  options: SetBackendOptions = {},
): Promise<BackendName> {
  void tfjsRegistered;
  if (options.wasmThreads !== undefined) checkWasmThreads(options.wasmThreads, 'setBackend: wasmThreads');
  if (request !== 'auto') {
    if (!(request in BACKEND_PACKAGES)) {
      throw new Error(
        `setBackend: unknown backend '${String(request)}'; expected one of auto, ${Object.keys(BACKEND_PACKAGES).join(', ')}`,
      );
    }
    if (!(await tryBackend(request, options))) {
      // in Node, say what the WebGPU setup lacked (the webgpu package or a Vulkan driver)
      if (request === 'webgpu' && nodeWebGPUFailure != null) {
        throw new Error(`setBackend: backend 'webgpu' is not available: ${nodeWebGPUFailure}`);
      }
      throw new Error(
        `setBackend: backend '${request}' is not available; install ${BACKEND_PACKAGES[request]} ` +
          `(an optional peer dependency of @mlzoo/core)${request === 'webgpu' ? webgpuHint() : ''}`,
      );
    }
    silenceCpuGreeting();
    return request;
  }
  const order = options.order ?? AUTO_BACKEND_ORDER;
  const skipped: string[] = [];
  for (const name of order) {
    if (await tryBackend(name, options)) {
      silenceCpuGreeting();
      if (!options.quiet) {
        const note = skipped.length > 0 ? ` (not available: ${skipped.join(', ')})` : '';
        const threads = name === 'wasm' ? wasmThreadCount() : undefined;
        const threadNote = threads != null && threads > 1 ? ` with ${threads} threads` : '';
        console.info(`mlzoo: using the ${name} backend${threadNote}${note}`);
      }
      return name;
    }
    skipped.push(name);
  }
  throw new Error(
    `setBackend('auto'): no backend could be started; install one of ${order.map((name) => BACKEND_PACKAGES[name]).join(', ')}`,
  );
}

/**
 * Selects the backend named by the environment variable `MLZOO_BACKEND` (auto when unset).
 * The test suite and the CLI use this.
 */
export async function setBackendFromEnvironment(options: SetBackendOptions = {}): Promise<BackendName> {
  const value = (isNode ? process.env.MLZOO_BACKEND : undefined)?.trim() || 'auto';
  return setBackend(value as BackendRequest, options);
}
