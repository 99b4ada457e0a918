// The wasm BatchMatMul installed by installWasmKernelFixes alone (without installWasmBatchMatMul): the same kernel as setBackend's,
// so the same products match cpu.
import '@tensorflow/tfjs-backend-wasm';
import { installWasmKernelFixes } from '../src/index.js';
import { describeEntryPoint } from './wasm-batch-matmul-cases.js';

describeEntryPoint('installWasmKernelFixes', installWasmKernelFixes);
