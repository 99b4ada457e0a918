// The wasm BatchMatMul installed by installWasmBatchMatMul alone (without the other kernel fixes): the same kernel as setBackend's,
// so the same products match cpu.
import '@tensorflow/tfjs-backend-wasm';
import { installWasmBatchMatMul } from '../src/index.js';
import { describeEntryPoint } from './wasm-batch-matmul-cases.js';

describeEntryPoint('installWasmBatchMatMul', installWasmBatchMatMul);
