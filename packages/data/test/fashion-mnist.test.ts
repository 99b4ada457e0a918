import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { gunzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FASHION_MNIST_CLASS_NAMES,
  FASHION_MNIST_MEAN,
  FASHION_MNIST_STD,
  type LoadProgress,
  loadFashionMnist as loadFromUrl,
} from '../src/index.js';
import { BUNDLED_FASHION_MNIST_DIRECTORY, loadFashionMnist } from '../src/node.js';

const fullDirectory = ['/usr/share/datasets/fashion-mnist', '/work/shared/data/fashion-mnist'].find(
  (directory) => existsSync(join(directory, 't10k-images-idx3-ubyte.gz')),
);

describe('loadFashionMnist from the bundled subset', () => {
  it('returns NHWC float32 images in [0, 1] and int32 labels, without leaking', async () => {
    const before = tf.memory().numTensors;
    const progress: LoadProgress[] = [];
    const { images, labels, classNames } = await loadFashionMnist({
      split: 'test',
      onProgress: (event) => progress.push(event),
    });
    expect(images.shape).toEqual([500, 28, 28, 1]);
    expect(images.dtype).toBe('float32');
    expect(labels.shape).toEqual([500]);
    expect(labels.dtype).toBe('int32');
    expect(classNames).toEqual([...FASHION_MNIST_CLASS_NAMES]);
    expect(classNames[9]).toBe('Ankle boot');
    const labelValues = await labels.data();
    expect(labelValues[0]).toBe(9); // the first official test image is an ankle boot
    const pixels = (await images.data()) as Float32Array;
    expect(pixels.reduce((low, value) => Math.min(low, value), Number.POSITIVE_INFINITY)).toBe(0);
    expect(pixels.reduce((high, value) => Math.max(high, value), Number.NEGATIVE_INFINITY)).toBe(1);
    // Image 0, row 13, columns 10..13 are the bytes [3, 0, 0, 89] (read with Python's gzip).
    const offset = 13 * 28 + 10;
    expect([...pixels.subarray(offset, offset + 4)]).toEqual([3 / 255, 0, 0, 89 / 255].map(Math.fround));
    // The subset's statistics are close to the full training set's constants.
    const mean = pixels.reduce((sum, value) => sum + value, 0) / pixels.length;
    expect(Math.abs(mean - FASHION_MNIST_MEAN)).toBeLessThan(0.01);
    expect(progress.map((event) => event.source.split('/').pop())).toEqual([
      't10k-images-idx3-ubyte.gz',
      't10k-labels-idx1-ubyte.gz',
    ]);
    tf.dispose([images, labels]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('loads the training subset with every class present', async () => {
    const { images, labels } = await loadFashionMnist({ split: 'train', source: 'bundled' });
    expect(images.shape).toEqual([2000, 28, 28, 1]);
    const counts = tf.tidy(() => tf.sum(tf.oneHot(labels, 10), 0));
    expect(await counts.data()).toEqual(new Int32Array([194, 216, 202, 195, 186, 200, 194, 215, 198, 200]));
    tf.dispose([images, labels, counts]);
  });

  it('reads a directory of uncompressed files and names what is missing', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'mlzoo-fashion-'));
    try {
      for (const name of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
        const compressed = readFileSync(join(BUNDLED_FASHION_MNIST_DIRECTORY, `${name}.gz`));
        writeFileSync(join(directory, name), gunzipSync(compressed));
      }
      const { images, labels } = await loadFashionMnist({ split: 'test', source: { directory } });
      expect(images.shape).toEqual([500, 28, 28, 1]);
      tf.dispose([images, labels]);
      await expect(loadFashionMnist({ split: 'train', source: { directory } })).rejects.toThrow(
        `Fashion-MNIST: train-images-idx3-ubyte not found in ${directory} (looked for train-images-idx3-ubyte.gz and train-images-idx3-ubyte)`,
      );
      // A label file that does not match the images is refused.
      writeFileSync(join(directory, 't10k-labels-idx1-ubyte'), new Uint8Array([0, 0, 8, 1, 0, 0, 0, 1, 3]));
      await expect(loadFashionMnist({ split: 'test', source: { directory } })).rejects.toThrow(
        `Fashion-MNIST test in ${directory}: 500 images but 1 labels`,
      );
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('rejects unknown splits and sources with a sentence', async () => {
    await expect(loadFashionMnist({ split: 'validation' as 'train' })).rejects.toThrow(
      `loadFashionMnist: split must be 'train' or 'test', got "validation"`,
    );
    await expect(loadFashionMnist({ split: 'test', source: 'cloud' as 'bundled' })).rejects.toThrow(
      `loadFashionMnist: source must be 'bundled', 'system', { directory } or { url }, got "cloud"`,
    );
    // The browser-safe entry only fetches.
    await expect(
      loadFromUrl({ split: 'test', source: 'bundled' as unknown as { url: string } }),
    ).rejects.toThrow("'@mlzoo/data' loads only from { url }");
  });

  it("reads Debian's folder with source 'system', or says it is missing", async () => {
    const debian = '/usr/share/datasets/fashion-mnist';
    if (
      existsSync(join(debian, 't10k-images-idx3-ubyte.gz')) ||
      existsSync(join(debian, 't10k-images-idx3-ubyte'))
    ) {
      const { images, labels } = await loadFashionMnist({ split: 'test', source: 'system' });
      expect(images.shape).toEqual([10000, 28, 28, 1]);
      tf.dispose([images, labels]);
    } else {
      await expect(loadFashionMnist({ split: 'test', source: 'system' })).rejects.toThrow(
        `Fashion-MNIST: t10k-images-idx3-ubyte not found in ${debian} (looked for t10k-images-idx3-ubyte.gz and t10k-images-idx3-ubyte)`,
      );
    }
  });

  it.skipIf(fullDirectory == null)('loads the full test split from a directory', async () => {
    const { images, labels } = await loadFashionMnist({
      split: 'test',
      source: { directory: fullDirectory! },
    });
    expect(images.shape).toEqual([10000, 28, 28, 1]);
    expect(labels.shape).toEqual([10000]);
    // Summed in float64: a float32 reduction over 7.8 million pixels drifts by ~4e-4 on some backends.
    const pixels = await images.data();
    let sum = 0;
    let sumOfSquares = 0;
    for (let index = 0; index < pixels.length; index++) {
      sum += pixels[index]!;
      sumOfSquares += pixels[index]! * pixels[index]!;
    }
    const mean = sum / pixels.length;
    const std = Math.sqrt(sumOfSquares / pixels.length - mean * mean);
    // Test-set statistics, from numpy over the official file: mean 0.286849, std 0.352444.
    expect(mean).toBeCloseTo(0.286849, 5);
    expect(std).toBeCloseTo(0.352444, 5);
    expect(Math.abs(std - FASHION_MNIST_STD)).toBeLessThan(0.001);
    tf.dispose([images, labels]);
  });
});

describe('loadFashionMnist from a URL', () => {
  let server: Server;
  let baseUrl: string;
  const requested: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      const name = (request.url ?? '').split('/').pop() ?? '';
      requested.push(request.url ?? '');
      const path = join(BUNDLED_FASHION_MNIST_DIRECTORY, name);
      if (!request.url?.startsWith('/data/') || !existsSync(path)) {
        response.writeHead(404, 'Not Found').end();
        return;
      }
      const body = readFileSync(path);
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      // Send in several writes so the client sees more than one chunk.
      const third = Math.ceil(body.length / 3);
      response.write(body.subarray(0, third));
      response.write(body.subarray(third, 2 * third));
      response.end(body.subarray(2 * third));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('fetches both files with monotonic progress and gets the same tensors as the bundled load', async () => {
    const progress: LoadProgress[] = [];
    const fromUrl = await loadFromUrl({
      split: 'test',
      source: { url: `${baseUrl}/data` },
      onProgress: (event) => progress.push(event),
    });
    const fromDisk = await loadFashionMnist({ split: 'test' });
    expect(requested).toContain('/data/t10k-images-idx3-ubyte.gz');
    expect(requested).toContain('/data/t10k-labels-idx1-ubyte.gz');
    const imageEvents = progress.filter((event) => event.source.endsWith('t10k-images-idx3-ubyte.gz'));
    const imageSize = readFileSync(join(BUNDLED_FASHION_MNIST_DIRECTORY, 't10k-images-idx3-ubyte.gz')).length;
    expect(imageEvents.length).toBeGreaterThan(1);
    for (let index = 1; index < imageEvents.length; index++) {
      expect(imageEvents[index]!.loadedBytes).toBeGreaterThanOrEqual(imageEvents[index - 1]!.loadedBytes);
    }
    expect(imageEvents.at(-1)).toMatchObject({ loadedBytes: imageSize, totalBytes: imageSize });
    const difference = tf.tidy(() => tf.max(tf.abs(tf.sub(fromUrl.images, fromDisk.images))));
    expect((await difference.data())[0]).toBe(0);
    expect(await fromUrl.labels.data()).toEqual(await fromDisk.labels.data());
    tf.dispose([fromUrl.images, fromUrl.labels, fromDisk.images, fromDisk.labels, difference]);
  });

  it('goes through the node entry too, and reports HTTP errors with the URL', async () => {
    const { images, labels } = await loadFashionMnist({ split: 'test', source: { url: `${baseUrl}/data/` } });
    expect(images.shape).toEqual([500, 28, 28, 1]);
    tf.dispose([images, labels]);
    await expect(loadFromUrl({ split: 'train', source: { url: `${baseUrl}/missing/` } })).rejects.toThrow(
      `${baseUrl}/missing/train-images-idx3-ubyte.gz: server answered 404 Not Found`,
    );
  });
});
