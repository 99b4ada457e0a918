// WebGPU in Node: the optional `webgpu` npm package (Dawn, Chromium's WebGPU implementation, built for
// Node) provides `navigator.gpu`, which @tensorflow/tfjs-backend-webgpu needs at import time to register
// itself. Dawn drives the machine's Vulkan driver: a GPU's driver, or Mesa's software driver lavapipe
// (Mesa >= 25; older lavapipe lacks features Dawn requires) on machines without a GPU.
//
// This file imports nothing from Node, so the browser build may contain it: there `navigator.gpu`
// exists already and `installNodeWebGPU` is never called.

/** The npm package that provides WebGPU in Node (an optional peer dependency of @mlzoo/core). */
export const NODE_WEBGPU_PACKAGE = 'webgpu';

export interface NodeWebGPUOptions {
  /**
   * Dawn toggles passed to the package's `create(flags)`, e.g. `['backend=vulkan']` or
   * `['adapter=NVIDIA']` (see the `webgpu` package's README). Default: none.
   */
  dawnFlags?: readonly string[];
}

/** What {@link installNodeWebGPU} found: the adapter Dawn picked. */
export interface NodeWebGPUInfo {
  /** `GPUAdapterInfo` fields as Dawn reports them (vendor, architecture, device, description). */
  adapter: Record<string, string>;
  /** True when `navigator.gpu` existed before the call (a browser, or a second call). */
  alreadyInstalled: boolean;
}

interface GpuEntryPoint {
  requestAdapter(options?: object): Promise<DawnAdapter | null>;
}

interface DawnDevice {
  addEventListener(type: 'uncapturederror', listener: (event: { error: { message: string } }) => void): void;
}

interface DawnModule {
  create(flags: string[]): GpuEntryPoint;
  globals: Record<string, unknown>;
}

interface DawnAdapter {
  info?: Record<string, unknown>;
  requestDevice(descriptor?: object): Promise<DawnDevice>;
}

const uncapturedErrors: string[] = [];

/**
 * Returns and forgets the errors that WebGPU devices created through {@link installNodeWebGPU}
 * reported outside an error scope: invalid shaders, pipelines or command buffers. WebGPU does not
 * throw for these (Dawn only prints them), and the results of the failed commands are garbage, so a
 * test on webgpu should fail when this returns anything.
 */
export function takeNodeWebGPUErrors(): string[] {
  return uncapturedErrors.splice(0, uncapturedErrors.length);
}

// Every device created from this entry point records its uncaptured errors (tfjs creates its device
// itself, inside the backend's factory).
function recordDeviceErrors(gpu: GpuEntryPoint): void {
  const requestAdapter = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = async (options?: object) => {
    const adapter = await requestAdapter(options);
    if (adapter == null) return adapter;
    const requestDevice = adapter.requestDevice.bind(adapter);
    adapter.requestDevice = async (descriptor?: object) => {
      const device = await requestDevice(descriptor);
      device.addEventListener('uncapturederror', (event) => {
        uncapturedErrors.push(event.error.message);
      });
      return device;
    };
    return adapter;
  };
}

function hasNavigatorGpu(): boolean {
  const navigatorObject = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  return navigatorObject?.gpu != null;
}

function adapterInfo(adapter: DawnAdapter): Record<string, string> {
  const result: Record<string, string> = {};
  const info = adapter.info ?? {};
  for (const key of ['vendor', 'architecture', 'device', 'description']) {
    const value = info[key];
    if (typeof value === 'string' && value !== '') result[key] = value;
  }
  return result;
}

let installed: Promise<NodeWebGPUInfo> | undefined;

/**
 * Installs `navigator.gpu` in Node from the optional `webgpu` package, so that importing
 * `@tensorflow/tfjs-backend-webgpu` afterwards registers the `webgpu` backend. Call it before the
 * first import of that package; `setBackend('webgpu')` calls it for you in Node.
 *
 * Throws a sentence saying what is missing: the `webgpu` package, or a Vulkan driver (Dawn found
 * no adapter). Idempotent: later calls return the first call's result.
 *
 * @example
 * ```ts
 * import { installNodeWebGPU, setBackend } from '@mlzoo/core';
 * await installNodeWebGPU(); // { adapter: { vendor: 'mesa', ... }, alreadyInstalled: false }
 * await setBackend('webgpu');
 * ```
 */
export function installNodeWebGPU(options: NodeWebGPUOptions = {}): Promise<NodeWebGPUInfo> {
  installed ??= install(options);
  // a failed attempt may be retried (after installing the package or a driver)
  installed.catch(() => {
    installed = undefined;
  });
  return installed;
}

async function install(options: NodeWebGPUOptions): Promise<NodeWebGPUInfo> {
  if (hasNavigatorGpu()) {
    const gpu = (globalThis as unknown as { navigator: { gpu: GpuEntryPoint } }).navigator.gpu;
    const adapter = await gpu.requestAdapter();
    return { adapter: adapter ? adapterInfo(adapter) : {}, alreadyInstalled: true };
  }
  const isNode = typeof process !== 'undefined' && process.versions?.node != null;
  if (!isNode) {
    throw new Error(
      'installNodeWebGPU: this environment has no navigator.gpu and is not Node; use a browser with WebGPU enabled',
    );
  }
  let dawn: DawnModule;
  try {
    // a variable specifier keeps bundlers from resolving an optional peer the user did not install
    const specifier = NODE_WEBGPU_PACKAGE;
    dawn = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as DawnModule;
  } catch (error) {
    throw new Error(
      `installNodeWebGPU: cannot load the '${NODE_WEBGPU_PACKAGE}' package (Dawn for Node), an optional peer ` +
        `dependency of @mlzoo/core: install it with 'npm install ${NODE_WEBGPU_PACKAGE}' ` +
        `(${(error as Error).message.split('\n')[0]})`,
    );
  }
  const gpu = dawn.create([...(options.dawnFlags ?? [])]);
  recordDeviceErrors(gpu);
  const adapter = await gpu.requestAdapter();
  if (adapter == null) {
    throw new Error(
      'installNodeWebGPU: Dawn found no WebGPU adapter, so this machine has no usable Vulkan driver. ' +
        'It needs the Vulkan loader (libvulkan.so.1, Debian/Ubuntu: libvulkan1) and a driver: a GPU ' +
        "vendor's Vulkan driver, or without a GPU Mesa >= 25's lavapipe (mesa-vulkan-drivers; Debian 12: from " +
        'bookworm-backports), selected with VK_ICD_FILENAMES=<path>/lvp_icd.json. ' +
        "Dawn's own message, if any, was printed above.",
    );
  }
  // WebGPU's constants and classes (GPUBufferUsage, GPUMapMode, ...) as globals, as in a browser;
  // globals Node already defines are left alone.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis))
      Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
  const existing = (globalThis as { navigator?: object }).navigator;
  if (existing != null) {
    // Node >= 21 defines a navigator object (without gpu)
    Object.defineProperty(existing, 'gpu', { value: gpu, configurable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  return { adapter: adapterInfo(adapter), alreadyInstalled: false };
}
