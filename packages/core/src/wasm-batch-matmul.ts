// The fast BatchMatMul on wasm on its own: the kernel of ./wasm/batched-matmul.ts (every batched,
// broadcast and transposed product through XNNPACK), the same one `installWasmKernelFixes` registers.
import { batchMatMulKernel } from './wasm/batched-matmul.js';
import { replaceWasmKernel } from './wasm/kernel-calls.js';

/**
 * Registers mlzoo's BatchMatMul over wasm's (see ./wasm/batched-matmul.ts), without the other kernel
 * fixes. Idempotent; returns false when the wasm backend package is not loaded. `installWasmKernelFixes`
 * (and so `setBackend('wasm' | 'auto')`) installs the same kernel.
 */
export function installWasmBatchMatMul(): boolean {
  return replaceWasmKernel('BatchMatMul', batchMatMulKernel);
}
