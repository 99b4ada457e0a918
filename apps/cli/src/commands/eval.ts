// `mlzoo eval <model> --weights PATH`: accuracy, top-5 accuracy and loss on a test set.
import { evaluate } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../backend.js';
import { checkDatasetName, loadSplit } from '../data.js';
import { UsageError } from '../errors.js';
import { formatCount, type Output } from '../output.js';
import { loadWeights } from '../weights.js';

export interface EvalOptions {
  weights: string;
  dataset?: string;
  dataDirectory?: string;
  /** Evaluate on the first N test images only. */
  limit?: number;
  batchSize?: number;
  backend?: string;
}

export interface EvalResult {
  model: string;
  weights: string;
  backend: string;
  dataset: string;
  source: string;
  count: number;
  accuracy: number;
  top5?: number;
  loss: number;
  seconds: number;
}

export async function evalCommand(
  modelName: string,
  options: EvalOptions,
  output: Output,
): Promise<EvalResult> {
  if (!options.weights) throw new UsageError('eval needs --weights PATH');
  const dataset = checkDatasetName(options.dataset);
  const backend = await selectBackend(options.backend);
  const loaded = await loadWeights(options.weights, modelName);
  try {
    const split = await loadSplit({
      dataset,
      split: 'test',
      ...(options.dataDirectory ? { dataDirectory: options.dataDirectory } : {}),
      ...(options.limit ? { limit: options.limit } : {}),
    });
    try {
      const started = performance.now();
      const evaluation = await evaluate(
        loaded.model,
        { x: split.images, y: split.labels },
        { batchSize: options.batchSize ?? 256, topK: [5] },
      );
      const result: EvalResult = {
        model: loaded.name,
        weights: options.weights,
        backend,
        dataset,
        source: split.source,
        count: evaluation.count,
        accuracy: evaluation.accuracy ?? Number.NaN,
        ...(evaluation.topK?.[5] != null ? { top5: evaluation.topK[5] } : {}),
        loss: evaluation.loss,
        seconds: (performance.now() - started) / 1000,
      };
      output.line(`${loaded.name} (${options.weights}) on ${split.source}, backend ${backend}`);
      output.line(
        `accuracy ${result.accuracy.toFixed(4)}` +
          (result.top5 != null ? `, top-5 ${result.top5.toFixed(4)}` : '') +
          `, loss ${result.loss.toFixed(4)} on ${formatCount(result.count)} images`,
      );
      output.result(result);
      return result;
    } finally {
      tf.dispose([split.images, split.labels]);
    }
  } finally {
    loaded.model.dispose();
  }
}
