// AdamW vs SAM(AdamW) on Fashion-MNIST as a plain node program (bundled by tools/device/pack-compare.sh):
// one (seed, method) pair per process, one JSON line on stdout, progress on stderr.
//
//   node sam-fashion-mnist.mjs --data-dir DIR --model mixer_fashion_mnist --method sam --seed 0 \
//     --epochs 3 --train-size 10000 [--batch-size 64 --lr 0.001 --warmup-epochs 1 --weight-decay 0.05
//     --rho 0.05 --hessian-size 1024 --hessian-chunk-size 128 --hessian-iterations 20 --backend wasm
//     --config '{"patchSize":7,"embedDim":64,"numBlocks":4}']
import { parseArgs } from 'node:util';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { setBackend } from '@mlzoo/core';
import { runSamComparison, type SamModelName } from './sam-fashion-mnist.js';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    model: { type: 'string', default: 'mixer_fashion_mnist' },
    method: { type: 'string', default: 'adamw' },
    seed: { type: 'string', default: '0' },
    epochs: { type: 'string', default: '3' },
    'train-size': { type: 'string' },
    'test-size': { type: 'string' },
    'batch-size': { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.001' },
    'warmup-epochs': { type: 'string', default: '1' },
    'weight-decay': { type: 'string', default: '0.05' },
    rho: { type: 'string', default: '0.05' },
    'hessian-size': { type: 'string', default: '1024' },
    'hessian-chunk-size': { type: 'string', default: '128' },
    config: { type: 'string' },
    'hessian-iterations': { type: 'string', default: '20' },
    backend: { type: 'string', default: 'wasm' },
  },
});
if (!values['data-dir'])
  throw new Error('sam-fashion-mnist: --data-dir (the Fashion-MNIST idx files) is required');
if (values.method !== 'adamw' && values.method !== 'sam')
  throw new Error(`sam-fashion-mnist: --method must be adamw or sam, got '${values.method}'`);
await setBackend(values.backend as 'wasm' | 'cpu', { quiet: true });
const result = await runSamComparison({
  directory: values['data-dir'],
  model: values.model as SamModelName,
  ...(values.config ? { modelConfig: JSON.parse(values.config) } : {}),
  method: values.method,
  seed: Number(values.seed),
  epochs: Number(values.epochs),
  ...(values['train-size'] ? { trainSize: Number(values['train-size']) } : {}),
  ...(values['test-size'] ? { testSize: Number(values['test-size']) } : {}),
  batchSize: Number(values['batch-size']),
  learningRate: Number(values.lr),
  warmupEpochs: Number(values['warmup-epochs']),
  weightDecay: Number(values['weight-decay']),
  rho: Number(values.rho),
  hessianSize: Number(values['hessian-size']),
  hessianChunkSize: Number(values['hessian-chunk-size']),
  hessianIterations: Number(values['hessian-iterations']),
  log: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${JSON.stringify(result)}\n`);
