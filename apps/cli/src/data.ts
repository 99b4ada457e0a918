// Datasets the CLI trains and evaluates on. Fashion-MNIST only for now: the subset bundled with
// @mlzoo/data by default, or the full official files from a folder (--data-dir).
import { loadFashionMnist } from '@mlzoo/data/node';
import * as tf from '@tensorflow/tfjs-core';
import { UsageError } from './errors.js';

export const DATASETS = ['fashion-mnist'] as const;
export type DatasetName = (typeof DATASETS)[number];

export interface LoadedSplit {
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
  classNames: string[];
  /** Where it came from, for messages. */
  source: string;
}

export interface LoadSplitOptions {
  dataset?: string;
  split: 'train' | 'test';
  /** Folder holding the official files (gzip or not); the bundled subset when absent. */
  dataDirectory?: string;
  /** Keep only the first `limit` examples. */
  limit?: number;
}

export function checkDatasetName(name: string | undefined): DatasetName {
  const dataset = name ?? 'fashion-mnist';
  if (!(DATASETS as readonly string[]).includes(dataset)) {
    throw new UsageError(`unknown dataset '${dataset}' (available: ${DATASETS.join(', ')})`);
  }
  return dataset as DatasetName;
}

/** Loads one split as tensors (the caller disposes `images` and `labels`). */
export async function loadSplit(options: LoadSplitOptions): Promise<LoadedSplit> {
  checkDatasetName(options.dataset);
  const source = options.dataDirectory ? { directory: options.dataDirectory } : 'bundled';
  let loaded: Awaited<ReturnType<typeof loadFashionMnist>>;
  try {
    loaded = await loadFashionMnist({ split: options.split, source });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const description = options.dataDirectory
    ? `Fashion-MNIST ${options.split} from ${options.dataDirectory}`
    : `Fashion-MNIST ${options.split} (bundled subset)`;
  const count = loaded.images.shape[0];
  if (options.limit == null || options.limit >= count) {
    return { ...loaded, source: description };
  }
  const limit = options.limit;
  const images = tf.slice(loaded.images, 0, limit) as tf.Tensor4D;
  const labels = tf.slice(loaded.labels, 0, limit) as tf.Tensor1D;
  loaded.images.dispose();
  loaded.labels.dispose();
  return { images, labels, classNames: loaded.classNames, source: `${description}, first ${limit}` };
}

/** Model config overrides that fit a dataset split: image size, channels, classes. */
export function datasetOverrides(split: Pick<LoadedSplit, 'images' | 'classNames'>): Record<string, unknown> {
  const [, height, width, channels] = split.images.shape;
  return {
    imgSize: height === width ? height : [height, width],
    inChans: channels,
    numClasses: split.classNames.length,
  };
}
