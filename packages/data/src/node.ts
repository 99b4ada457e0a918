// @mlzoo/data/node: the Node-only part of @mlzoo/data (node:fs, pngjs). Browser code imports '@mlzoo/data'.
import { access, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type FashionMnist,
  type FashionMnistSplit,
  fashionMnistFromIdx,
  loadFashionMnist as loadFromUrl,
  splitFiles,
} from './fashion-mnist.js';
import type { FetchBytesOptions, LoadProgress } from './fetch.js';
import { type IdxArray, type ParseIdxOptions, parseIdx } from './idx.js';

export { type DecodedPng, type DecodePngOptions, decodePng, decodePngToTensor } from './png.js';

/** Where Debian's `dataset-fashion-mnist` package installs the four official files. */
export const DEBIAN_FASHION_MNIST_DIRECTORY = '/usr/share/datasets/fashion-mnist';

/**
 * The folder of the bundled subset (the first 2,000 training and first 500 test examples of the
 * official files, same file names), inside the installed package.
 */
export const BUNDLED_FASHION_MNIST_DIRECTORY = fileURLToPath(
  new URL('../assets/fashion-mnist-subset/', import.meta.url),
);

/**
 * Where to load Fashion-MNIST from: the subset bundled with the package (default), the Debian package's
 * folder ('system'), any folder with the official file names (gzip or not), or a base URL.
 */
export type FashionMnistSource = 'bundled' | 'system' | { directory: string } | { url: string };

/** Options for {@link loadFashionMnist}. */
export interface LoadFashionMnistOptions {
  split: FashionMnistSplit;
  source?: FashionMnistSource;
  onProgress?: (progress: LoadProgress) => void;
  fetch?: FetchBytesOptions['fetch'];
  signal?: AbortSignal;
}

/**
 * Loads a Fashion-MNIST split as tensors: images [N, 28, 28, 1] float32 in [0, 1], labels [N] int32.
 * The caller disposes `images` and `labels`.
 *
 * @example
 * ```ts
 * import { loadFashionMnist } from '@mlzoo/data/node';
 * const subset = await loadFashionMnist({ split: 'train' }); // bundled: 2,000 images
 * const full = await loadFashionMnist({ split: 'test', source: { directory: '/usr/share/datasets/fashion-mnist' } });
 * ```
 */
export async function loadFashionMnist(options: LoadFashionMnistOptions): Promise<FashionMnist> {
  const source = options.source ?? 'bundled';
  if (typeof source === 'object' && source != null && 'url' in source) {
    return loadFromUrl({ ...options, source });
  }
  let directory: string;
  if (source === 'bundled') directory = BUNDLED_FASHION_MNIST_DIRECTORY;
  else if (source === 'system') directory = DEBIAN_FASHION_MNIST_DIRECTORY;
  else if (typeof source === 'object' && source != null && typeof source.directory === 'string')
    directory = source.directory;
  else {
    throw new Error(
      `loadFashionMnist: source must be 'bundled', 'system', { directory } or { url }, got ${JSON.stringify(source)}`,
    );
  }
  const files = splitFiles(options.split);
  const images = await readIdxFromDirectory(directory, files.images, options.onProgress);
  const labels = await readIdxFromDirectory(directory, files.labels, options.onProgress);
  return fashionMnistFromIdx(images, labels, `Fashion-MNIST ${options.split} in ${directory}`);
}

/** Reads and parses an IDX file (gzip or not); errors name the file. */
export async function readIdxFile(path: string, options: ParseIdxOptions = {}): Promise<IdxArray> {
  const bytes = await readFile(path);
  return parseIdx(bytes, { name: options.name ?? path });
}

async function readIdxFromDirectory(
  directory: string,
  fileName: string,
  onProgress: ((progress: LoadProgress) => void) | undefined,
): Promise<IdxArray> {
  const candidates = [join(directory, `${fileName}.gz`), join(directory, fileName)];
  for (const path of candidates) {
    if (!(await exists(path))) continue;
    const bytes = await readFile(path);
    onProgress?.({ source: path, loadedBytes: bytes.length, totalBytes: bytes.length });
    return parseIdx(bytes, { name: path });
  }
  throw new Error(
    `Fashion-MNIST: ${basename(fileName)} not found in ${directory} (looked for ${candidates.map((path) => basename(path)).join(' and ')})`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
