// @mlzoo/data: datasets and input pipelines for TensorFlow.js. This entry is browser-safe (no node:fs,
// no node:zlib); the file helpers and PNG decoding live in '@mlzoo/data/node'.
export { type BatchOptions, batchCount, batches, shuffleIndices } from './batches.js';
export { type ParseCsvOptions, parseCsv } from './csv.js';
export {
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_FILES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  type FashionMnist,
  type FashionMnistSplit,
  fashionMnistFromIdx,
  type LoadFashionMnistFromUrlOptions,
  loadFashionMnist,
} from './fashion-mnist.js';
export { type FetchBytesOptions, fetchBytes, type LoadProgress } from './fetch.js';
export { type GunzipOptions, gunzipIfNeeded, isGzip } from './gzip.js';
export { type IdxArray, type IdxDataType, type ParseIdxOptions, parseIdx } from './idx.js';
export { normalize } from './normalize.js';
