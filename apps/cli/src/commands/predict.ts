// `mlzoo predict <model> --weights PATH <image.png | test:INDEX ...>`: top-k classes for PNG images or
// for examples of the dataset's test (or train) split.
import { readFile } from 'node:fs/promises';
import { FASHION_MNIST_CLASS_NAMES } from '@mlzoo/data';
import { decodePng } from '@mlzoo/data/node';
import * as tf from '@tensorflow/tfjs-core';
import { selectBackend } from '../backend.js';
import { checkDatasetName, type LoadedSplit, loadSplit } from '../data.js';
import { isMissingFile, UsageError } from '../errors.js';
import type { Output } from '../output.js';
import { loadWeights } from '../weights.js';

export interface PredictOptions {
  weights: string;
  /** How many classes to list per input (default 3). */
  topK?: number;
  dataset?: string;
  dataDirectory?: string;
  backend?: string;
}

export interface Prediction {
  index: number;
  className: string;
  probability: number;
}

export interface PredictItem {
  input: string;
  /** The true label, for dataset examples. */
  label?: { index: number; className: string };
  predictions: Prediction[];
}

export interface PredictResult {
  model: string;
  weights: string;
  backend: string;
  items: PredictItem[];
}

const DATASET_INDEX = /^(?:(test|train):)?(\d+)$/;

interface InputImage {
  input: string;
  pixels: tf.Tensor3D;
  label?: number;
}

function modelImageShape(config: Record<string, unknown>): {
  height: number;
  width: number;
  channels: number;
} {
  const size = config.imgSize ?? 28;
  const [height, width] = Array.isArray(size) ? (size as number[]) : [size as number, size as number];
  return { height: height!, width: width!, channels: (config.inChans as number | undefined) ?? 1 };
}

/** Decodes a PNG file into [H, W, channels] floats in [0, 1], checking the size the model expects. */
async function readPng(
  path: string,
  expected: { height: number; width: number; channels: number },
): Promise<tf.Tensor3D> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if (isMissingFile(error)) throw new UsageError(`image not found: ${path}`);
    throw new UsageError(`${path}: ${(error as Error).message}`);
  }
  let image: ReturnType<typeof decodePng>;
  try {
    image = decodePng(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), { name: path });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (image.width !== expected.width || image.height !== expected.height) {
    throw new UsageError(
      `${path}: image is ${image.width}x${image.height}, the model expects ${expected.width}x${expected.height} ` +
        `(${expected.channels === 1 ? 'grey' : `${expected.channels} channels`}); resize it first`,
    );
  }
  const maximum = image.bitDepth === 16 ? 65535 : 255;
  const colour = image.channels >= 3;
  const pixelCount = image.width * image.height;
  const values = new Float32Array(pixelCount * expected.channels);
  for (let pixel = 0; pixel < pixelCount; pixel++) {
    const base = pixel * image.channels;
    const red = image.data[base]! / maximum;
    const green = colour ? image.data[base + 1]! / maximum : red;
    const blue = colour ? image.data[base + 2]! / maximum : red;
    if (expected.channels === 1) {
      values[pixel] = colour ? 0.299 * red + 0.587 * green + 0.114 * blue : red;
    } else {
      const rgb = [red, green, blue];
      for (let channel = 0; channel < expected.channels; channel++) {
        values[pixel * expected.channels + channel] = rgb[channel % 3]!;
      }
    }
  }
  return tf.tensor3d(values, [image.height, image.width, expected.channels], 'float32');
}

export async function predict(
  modelName: string,
  inputs: string[],
  options: PredictOptions,
  output: Output,
): Promise<PredictResult> {
  if (!options.weights) throw new UsageError('predict needs --weights PATH');
  if (inputs.length === 0) throw new UsageError('predict needs at least one image.png or test:INDEX');
  const topK = options.topK ?? 3;
  const dataset = checkDatasetName(options.dataset);
  const backend = await selectBackend(options.backend);
  const loaded = await loadWeights(options.weights, modelName);
  const splits = new Map<string, LoadedSplit>();
  const images: InputImage[] = [];
  try {
    const expected = modelImageShape(loaded.config);
    let classNames: string[] = dataset === 'fashion-mnist' ? [...FASHION_MNIST_CLASS_NAMES] : [];
    if (loaded.metadata.class_names) {
      try {
        classNames = JSON.parse(loaded.metadata.class_names) as string[];
      } catch {
        // keep the dataset's names
      }
    }
    for (const input of inputs) {
      const match = DATASET_INDEX.exec(input);
      if (match && !input.toLowerCase().endsWith('.png')) {
        const splitName = (match[1] ?? 'test') as 'train' | 'test';
        const index = Number(match[2]);
        let split = splits.get(splitName);
        if (!split) {
          split = await loadSplit({
            dataset,
            split: splitName,
            ...(options.dataDirectory ? { dataDirectory: options.dataDirectory } : {}),
          });
          splits.set(splitName, split);
        }
        const count = split.images.shape[0];
        if (index >= count) {
          throw new UsageError(`${input}: index out of range (${split.source} has ${count} images)`);
        }
        const pixels = tf.tidy(() => tf.squeeze(tf.slice(split.images, index, 1), [0])) as tf.Tensor3D;
        const labelTensor = tf.slice(split.labels, index, 1);
        const label = (await labelTensor.data())[0]!;
        labelTensor.dispose();
        images.push({ input, pixels, label });
      } else {
        images.push({ input, pixels: await readPng(input, expected) });
      }
    }
    const probabilities = tf.tidy(() =>
      tf.softmax(loaded.model.forward(tf.stack(images.map((image) => image.pixels)), { training: false })),
    );
    const numClasses = probabilities.shape[1]!;
    const k = Math.min(topK, numClasses);
    const { values, indices } = tf.topk(probabilities, k);
    const [topValues, topIndices] = [await values.data(), await indices.data()];
    tf.dispose([probabilities, values, indices]);
    const className = (index: number) => classNames[index] ?? `class ${index}`;
    const items: PredictItem[] = images.map((image, row) => ({
      input: image.input,
      ...(image.label != null ? { label: { index: image.label, className: className(image.label) } } : {}),
      predictions: Array.from({ length: k }, (_, column) => {
        const index = topIndices[row * k + column]!;
        return { index, className: className(index), probability: topValues[row * k + column]! };
      }),
    }));
    for (const item of items) {
      const label = item.label ? ` (label: ${item.label.className})` : '';
      const list = item.predictions
        .map((prediction) => `${prediction.className} ${(prediction.probability * 100).toFixed(1)}%`)
        .join(', ');
      output.line(`${item.input}${label}: ${list}`);
    }
    const result: PredictResult = { model: loaded.name, weights: options.weights, backend, items };
    output.result(result);
    return result;
  } finally {
    loaded.model.dispose();
    tf.dispose(images.map((image) => image.pixels));
    for (const split of splits.values()) tf.dispose([split.images, split.labels]);
  }
}
