// Multi-threaded wasm in Node.
//
// tfjs-backend-wasm 4.22 ships a threaded SIMD build (XNNPACK on a pthreadpool of Web Workers) but
// hard-codes threads off in Node (`WASM_HAS_MULTITHREAD_SUPPORT` returns false there: tfjs issue
// #3830). Two things stand in the way, both in how tfjs starts the module, not in the module itself:
//   1. tfjs hands Emscripten the pthread worker script and the main script as `blob:` URLs, which
//      Node's `worker_threads` cannot load. Here the worker script (shipped as a string in
//      `wasm-out/*.worker.js`) is written once to a real file and the main script is named by path.
//   2. The C++ side sizes its thread pool as `emscripten_num_logical_cores() / 2` (it assumes two
//      hyper-threads per core), so a 2-core machine gets one thread whatever `setThreadsCount` asks.
//      Here the module's `emscripten_num_logical_cores` import answers `2 * threads`, so the pool
//      gets exactly the threads asked for.
// The backend object is tfjs's own `BackendWasm` on that module, registered under the name `wasm`, so
// every wasm kernel (and mlzoo's kernel fixes) applies unchanged. Where any step is impossible (no
// `process.getBuiltinModule`, a bundle without the package's files, a failing start) the stock
// single-threaded factory is used and the reason is reported.
import * as tf from '@tensorflow/tfjs-core';

/** The most threads `MLZOO_WASM_THREADS=auto` starts (XNNPACK's gains flatten past this for zoo-sized ops). */
export const MAX_DEFAULT_WASM_THREADS = 8;

// biome-ignore lint/suspicious/noExplicitAny: Emscripten's module object is untyped
type EmscriptenModule = any;

interface NodeBuiltins {
  fs: typeof import('node:fs');
  os: typeof import('node:os');
  path: typeof import('node:path');
  crypto: typeof import('node:crypto');
  module: typeof import('node:module');
}

export interface WasmPackage {
  BackendWasm: new (module: EmscriptenModule) => tf.KernelBackend;
  setThreadsCount(threads: number): void;
  getThreadsCount(): number;
}

const isNode = typeof process !== 'undefined' && process.versions?.node != null;

let installedThreads: number | undefined;
let lastFallbackReason: string | undefined;
let loadedPackage: WasmPackage | undefined;

function nodeBuiltins(): NodeBuiltins | undefined {
  // process.getBuiltinModule (Node >= 20.16) keeps node: imports out of browser bundles.
  const getBuiltin = (
    process as unknown as { getBuiltinModule?: (id: string) => unknown }
  ).getBuiltinModule?.bind(process);
  if (!getBuiltin) return undefined;
  return {
    fs: getBuiltin('node:fs') as NodeBuiltins['fs'],
    os: getBuiltin('node:os') as NodeBuiltins['os'],
    path: getBuiltin('node:path') as NodeBuiltins['path'],
    crypto: getBuiltin('node:crypto') as NodeBuiltins['crypto'],
    module: getBuiltin('node:module') as NodeBuiltins['module'],
  };
}

/**
 * The thread count mlzoo uses for wasm in Node: `MLZOO_WASM_THREADS` when set (a positive integer, or
 * `auto` for the machine's available parallelism, at most {@link MAX_DEFAULT_WASM_THREADS}), else 1.
 *
 * One thread is the default because the pool synchronises on every kernel: measured on a 2-core
 * machine with two other busy processes, a ViT train step ran at 5 images/s with two threads against
 * 19-24 with one, and attention-sized products ([256,50,32] x [256,32,50]) took 214 ms against 11 ms.
 * Threads pay off only on cores nothing else uses, for large products.
 */
export function defaultWasmThreadCount(): number {
  if (!isNode) return 1;
  const fromEnvironment = process.env.MLZOO_WASM_THREADS?.trim();
  if (!fromEnvironment) return 1;
  if (fromEnvironment === 'auto') {
    const builtins = nodeBuiltins();
    if (!builtins) return 1;
    const available =
      typeof builtins.os.availableParallelism === 'function'
        ? builtins.os.availableParallelism()
        : builtins.os.cpus().length;
    return Math.max(1, Math.min(available, MAX_DEFAULT_WASM_THREADS));
  }
  const value = Number(fromEnvironment);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`MLZOO_WASM_THREADS: expected a positive integer or 'auto', got '${fromEnvironment}'`);
  }
  return value;
}

/**
 * Checks a `wasmThreads` option by the rules of `MLZOO_WASM_THREADS` (a positive integer; `auto` is
 * for the environment variable only, leave the option out instead). Throws an error naming `where`
 * and the value; returns the value.
 */
export function checkWasmThreads(value: unknown, where = 'wasmThreads'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    const shown = typeof value === 'string' ? `'${value}'` : String(value);
    throw new Error(`${where}: expected a positive integer, got ${shown}`);
  }
  return value;
}

/** Writes Emscripten's pthread worker script to a content-addressed file, atomically; returns its path. */
function writeWorkerScript(builtins: NodeBuiltins, contents: string): string {
  const { fs, os, path, crypto } = builtins;
  const hash = crypto.createHash('sha256').update(contents).digest('hex').slice(0, 16);
  const directory = path.join(os.tmpdir(), 'mlzoo-wasm');
  const file = path.join(directory, `tfjs-backend-wasm-threaded-simd.worker.${hash}.cjs`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(directory, { recursive: true });
  const temporary = `${file}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`;
  fs.writeFileSync(temporary, contents);
  fs.renameSync(temporary, file);
  return file;
}

async function startThreadedModule(
  builtins: NodeBuiltins,
  packageDirectory: string,
  threads: number,
): Promise<EmscriptenModule> {
  const { fs, path } = builtins;
  const require = builtins.module.createRequire(path.join(packageDirectory, 'package.json'));
  const mainScript = path.join(packageDirectory, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const binary = path.join(packageDirectory, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm');
  const factory = require(mainScript) as (config: object) => Promise<EmscriptenModule>;
  const { wasmWorkerContents } = require(
    path.join(packageDirectory, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js'),
  ) as { wasmWorkerContents: string };
  // tfjs escapes newlines the same way before making its blob (the string holds "\n" escapes that
  // became real newlines inside the template literal).
  const workerScript = writeWorkerScript(builtins, wasmWorkerContents.replace(/\n/g, '\\n'));
  return new Promise((resolve, reject) => {
    const config = {
      mainScriptUrlOrBlob: mainScript,
      locateFile: (file: string, prefix: string) => {
        if (file.endsWith('.worker.js')) return workerScript;
        if (file.endsWith('.wasm')) return binary;
        return prefix + file;
      },
      instantiateWasm: (
        imports: { env: Record<string, unknown> },
        receiveInstance: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void,
      ) => {
        imports.env.emscripten_num_logical_cores = () => 2 * threads;
        WebAssembly.instantiate(fs.readFileSync(binary), imports as WebAssembly.Imports).then(
          ({ instance, module }) => receiveInstance(instance, module),
          reject,
        );
        return {};
      },
      onAbort: (what: unknown) => reject(new Error(`wasm threads: the module aborted: ${String(what)}`)),
    };
    factory(config).then((module: EmscriptenModule) => {
      module.tfjs = {
        init: module.cwrap('init', null, []),
        initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
        getThreadsCount: module.cwrap('get_threads_count', 'number', []),
        registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
        disposeData: module.cwrap('dispose_data', null, ['number']),
        dispose: module.cwrap('dispose', null, []),
      };
      resolve(module);
    }, reject);
  });
}

/**
 * Makes the `wasm` backend start tfjs-backend-wasm's threaded SIMD build with `threads` threads in
 * Node (tfjs runs one thread there). Must run before the wasm backend is first initialised; the
 * backend package must already be imported. Returns whether the threaded factory was installed; the
 * reason when it was not is in {@link wasmThreadsFallbackReason}. `setBackend` calls it.
 */
export function installNodeWasmThreads(wasmPackage: WasmPackage, threads: number): boolean {
  loadedPackage = wasmPackage;
  if (installedThreads !== undefined) return installedThreads === threads;
  if (!isNode || threads <= 1) return false;
  const reject = (reason: string) => {
    lastFallbackReason = reason;
    return false;
  };
  const builtins = nodeBuiltins();
  if (!builtins) return reject('process.getBuiltinModule is missing (Node < 20.16)');
  if ((tf.engine().registry as Record<string, unknown>).wasm != null) {
    return reject('the wasm backend was already initialised single-threaded');
  }
  const original = tf.findBackendFactory('wasm');
  if (original == null) return reject('@tensorflow/tfjs-backend-wasm is not loaded');
  let packageDirectory: string;
  try {
    // resolved from this file (the CJS build gets import.meta.url from tsup's shim)
    const from = import.meta.url;
    const resolved = builtins.module
      .createRequire(from)
      .resolve('@tensorflow/tfjs-backend-wasm/package.json');
    packageDirectory = builtins.path.dirname(resolved);
    if (!builtins.fs.existsSync(builtins.path.join(packageDirectory, 'wasm-out'))) {
      return reject(`no wasm-out folder in ${packageDirectory}`);
    }
  } catch (error) {
    return reject(`cannot find @tensorflow/tfjs-backend-wasm's files (${(error as Error).message})`);
  }
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      try {
        const module = await startThreadedModule(builtins, packageDirectory, threads);
        wasmPackage.setThreadsCount(threads);
        const backend = new wasmPackage.BackendWasm(module);
        // The pool's threads must not keep Node alive once the program's own work is done.
        const { runningWorkers = [], unusedWorkers = [] } = module.PThread ?? {};
        for (const worker of [...runningWorkers, ...unusedWorkers]) worker.unref?.();
        return backend;
      } catch (error) {
        lastFallbackReason = `the threaded build failed to start (${(error as Error).message})`;
        installedThreads = 1;
        console.warn(`mlzoo: wasm threads: ${lastFallbackReason}; using one thread`);
        return original();
      }
    },
    2,
  );
  installedThreads = threads;
  return true;
}

/** Why the last {@link installNodeWasmThreads} call fell back to one thread (undefined if it did not). */
export function wasmThreadsFallbackReason(): string | undefined {
  return lastFallbackReason;
}

/**
 * The number of threads the running wasm backend computes with: 1 for tfjs's stock Node start, the
 * requested count when mlzoo started the threaded build; undefined before the wasm backend starts
 * (and in a browser, where tfjs decides).
 */
export function wasmThreadCount(): number | undefined {
  const running = (tf.engine().registry as Record<string, unknown>).wasm != null;
  if (!running) return undefined;
  if (loadedPackage) {
    try {
      return loadedPackage.getThreadsCount();
    } catch {
      // not started through this package object
    }
  }
  // tfjs's own start: one thread in Node; in a browser it depends on cross-origin isolation
  return isNode ? 1 : undefined;
}
