// Fashion-MNIST: 70,000 28x28 greyscale images of clothing in 10 classes (Zalando SE, MIT licence).
// Xiao, Rasul and Vollgraf, "Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine Learning
// Algorithms", 2017, https://arxiv.org/abs/1708.07747. This module is browser-safe: it loads from URLs.
// Loading the bundled subset or a directory needs node:fs and lives in '@mlzoo/data/node'.
import * as tf from '@tensorflow/tfjs-core';
import { type FetchBytesOptions, fetchBytes, type LoadProgress, resolveUrl } from './fetch.js';
import { type IdxArray, parseIdx } from './idx.js';

/** The ten class names, indexed by label. */
export const FASHION_MNIST_CLASS_NAMES: readonly string[] = Object.freeze([
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
]);

/**
 * Mean pixel value of the 60,000 training images scaled to [0, 1] (computed over all 47,040,000 pixels:
 * 0.286041).
 */
export const FASHION_MNIST_MEAN = 0.286;

/** Standard deviation (population) of the training pixels scaled to [0, 1] (computed: 0.353024). */
export const FASHION_MNIST_STD = 0.353;

/** The two splits. */
export type FashionMnistSplit = 'train' | 'test';

/** The official file names of each split (the gzip files add `.gz`). */
export const FASHION_MNIST_FILES: Readonly<Record<FashionMnistSplit, { images: string; labels: string }>> =
  Object.freeze({
    train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
    test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
  });

/** A loaded split: images NHWC float32 in [0, 1], labels int32 in [0, 9]. Dispose both when done. */
export interface FashionMnist {
  images: tf.Tensor4D;
  labels: tf.Tensor1D;
  classNames: string[];
}

/** Options for the browser-safe {@link loadFashionMnist}. */
export interface LoadFashionMnistFromUrlOptions {
  split: FashionMnistSplit;
  /**
   * A base URL (taken as a directory) that serves the official gzip file names, e.g.
   * `train-images-idx3-ubyte.gz`. Relative URLs resolve against the page's location.
   */
  source: { url: string };
  onProgress?: (progress: LoadProgress) => void;
  fetch?: FetchBytesOptions['fetch'];
  signal?: AbortSignal;
}

/**
 * Builds tensors from parsed image and label IDX arrays, checking that they are Fashion-MNIST shaped:
 * uint8 images [N, 28, 28], uint8 labels [N] with values below 10.
 */
export function fashionMnistFromIdx(
  images: IdxArray,
  labels: IdxArray,
  name = 'Fashion-MNIST',
): FashionMnist {
  const [count, height, width] = images.shape;
  if (images.dtype !== 'uint8' || images.shape.length !== 3 || height !== 28 || width !== 28) {
    throw new Error(
      `${name}: expected uint8 images [N, 28, 28], got ${images.dtype} [${images.shape.join(', ')}]`,
    );
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new Error(`${name}: expected uint8 labels [N], got ${labels.dtype} [${labels.shape.join(', ')}]`);
  }
  if (labels.shape[0] !== count) {
    throw new Error(`${name}: ${count} images but ${labels.shape[0]} labels`);
  }
  const labelData = new Int32Array(labels.data.length);
  for (let index = 0; index < labelData.length; index++) {
    const label = labels.data[index]!;
    if (label >= FASHION_MNIST_CLASS_NAMES.length) {
      throw new Error(`${name}: label ${index} is ${label}, outside the 10 classes`);
    }
    labelData[index] = label;
  }
  const pixels = new Float32Array(images.data.length);
  for (let index = 0; index < pixels.length; index++) pixels[index] = images.data[index]! / 255;
  return {
    images: tf.tensor4d(pixels, [count!, 28, 28, 1], 'float32'),
    labels: tf.tensor1d(labelData, 'int32'),
    classNames: [...FASHION_MNIST_CLASS_NAMES],
  };
}

/**
 * Downloads a Fashion-MNIST split from a URL (browser-safe). For the bundled subset, a directory, or
 * the Debian package, use `loadFashionMnist` from `@mlzoo/data/node`.
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from '@mlzoo/data';
 * const { images, labels } = await loadFashionMnist({ split: 'test', source: { url: '/datasets/fashion-mnist/' } });
 * ```
 */
export async function loadFashionMnist(options: LoadFashionMnistFromUrlOptions): Promise<FashionMnist> {
  const source = options.source as unknown;
  if (source == null || typeof source !== 'object' || typeof (source as { url?: unknown }).url !== 'string') {
    throw new Error(
      "loadFashionMnist: '@mlzoo/data' loads only from { url }; import loadFashionMnist from '@mlzoo/data/node' for the bundled subset or a directory",
    );
  }
  const files = splitFiles(options.split);
  const fetchOptions: FetchBytesOptions = {};
  if (options.onProgress) fetchOptions.onProgress = options.onProgress;
  if (options.fetch) fetchOptions.fetch = options.fetch;
  if (options.signal) fetchOptions.signal = options.signal;
  const base = (source as { url: string }).url;
  const imagesUrl = resolveUrl(base, `${files.images}.gz`);
  const labelsUrl = resolveUrl(base, `${files.labels}.gz`);
  const imageBytes = await fetchBytes(imagesUrl, fetchOptions);
  const labelBytes = await fetchBytes(labelsUrl, fetchOptions);
  return fashionMnistFromIdx(
    parseIdx(imageBytes, { name: imagesUrl }),
    parseIdx(labelBytes, { name: labelsUrl }),
    `Fashion-MNIST ${options.split} from ${base}`,
  );
}

/** The file names of a split, with a clear error for anything but 'train' or 'test'. */
export function splitFiles(split: FashionMnistSplit): { images: string; labels: string } {
  const files = (FASHION_MNIST_FILES as Record<string, { images: string; labels: string } | undefined>)[
    split
  ];
  if (files == null)
    throw new Error(`loadFashionMnist: split must be 'train' or 'test', got ${JSON.stringify(split)}`);
  return files;
}
