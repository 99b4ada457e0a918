import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { FASHION_MNIST_MEAN, FASHION_MNIST_STD, gunzipIfNeeded, isGzip, parseIdx } from '../src/index.js';
import { BUNDLED_FASHION_MNIST_DIRECTORY, readIdxFile } from '../src/node.js';

const bundled = (name: string) => join(BUNDLED_FASHION_MNIST_DIRECTORY, `${name}.gz`);
const fullDirectory = ['/usr/share/datasets/fashion-mnist', '/work/shared/data/fashion-mnist'].find(
  (directory) => existsSync(join(directory, 'train-images-idx3-ubyte.gz')),
);

/** Builds an IDX file by hand: magic 0x0000TTNN, big-endian dims, then the payload. */
function idxBytes(typeCode: number, dims: number[], payload: Uint8Array): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint32(0, (typeCode << 8) | dims.length);
  for (const [index, size] of dims.entries()) header.setUint32(4 + 4 * index, size >>> 0);
  const bytes = new Uint8Array(header.byteLength + payload.length);
  bytes.set(new Uint8Array(header.buffer), 0);
  bytes.set(payload, header.byteLength);
  return bytes;
}

describe('parseIdx on the bundled Fashion-MNIST subset', () => {
  it('reads shapes, types and labels of both splits', async () => {
    const trainImages = await readIdxFile(bundled('train-images-idx3-ubyte'));
    const trainLabels = await readIdxFile(bundled('train-labels-idx1-ubyte'));
    const testImages = await readIdxFile(bundled('t10k-images-idx3-ubyte'));
    const testLabels = await readIdxFile(bundled('t10k-labels-idx1-ubyte'));
    expect(trainImages).toMatchObject({ dtype: 'uint8', shape: [2000, 28, 28] });
    expect(trainLabels).toMatchObject({ dtype: 'uint8', shape: [2000] });
    expect(testImages).toMatchObject({ dtype: 'uint8', shape: [500, 28, 28] });
    expect(testLabels).toMatchObject({ dtype: 'uint8', shape: [500] });
    expect(Math.max(...trainLabels.data)).toBe(9);
    expect(Math.min(...trainLabels.data)).toBe(0);
    // The subset is the head of the official files; these labels were read from them with Python's gzip.
    expect([...testLabels.data.subarray(0, 10)]).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
    expect([...trainLabels.data.subarray(0, 10)]).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    // Every class is present in both splits (train: 186..216 per class, test: 39..65).
    const histogram = new Array<number>(10).fill(0);
    for (const label of testLabels.data) histogram[label]!++;
    expect(histogram).toEqual([55, 52, 65, 46, 57, 39, 47, 47, 44, 48]);
    // Row 13 (0-based) of the first test image, columns 10..13, read with Python: [3, 0, 0, 89].
    expect([...testImages.data.subarray(13 * 28 + 10, 13 * 28 + 14)]).toEqual([3, 0, 0, 89]);
  });

  it.skipIf(fullDirectory == null)(
    'reads the full training set and confirms the mean/std constants',
    async () => {
      const images = await readIdxFile(join(fullDirectory!, 'train-images-idx3-ubyte.gz'));
      expect(images.shape).toEqual([60000, 28, 28]);
      let sum = 0;
      let sumOfSquares = 0;
      for (const value of images.data) {
        sum += value;
        sumOfSquares += value * value;
      }
      const count = images.data.length;
      const mean = sum / count / 255;
      const std = Math.sqrt(sumOfSquares / count / 255 ** 2 - mean * mean);
      expect(mean).toBeCloseTo(0.286041, 5);
      expect(std).toBeCloseTo(0.353024, 5);
      expect(Math.abs(mean - FASHION_MNIST_MEAN)).toBeLessThan(5e-5);
      expect(Math.abs(std - FASHION_MNIST_STD)).toBeLessThan(5e-5);
    },
  );
});

describe('parseIdx on hand-made files', () => {
  it('decodes big-endian multi-byte types', () => {
    const payload = new DataView(new ArrayBuffer(12));
    payload.setInt16(0, -2);
    payload.setInt16(2, 300);
    payload.setFloat32(4, 1.5);
    payload.setFloat32(8, -0.25);
    expect(parseIdx(idxBytes(0x0b, [2], new Uint8Array(payload.buffer, 0, 4)))).toEqual({
      dtype: 'int16',
      shape: [2],
      data: new Int16Array([-2, 300]),
    });
    const floats = parseIdx(idxBytes(0x0d, [1, 2], new Uint8Array(payload.buffer, 4, 8)));
    expect(floats.dtype).toBe('float32');
    expect(floats.shape).toEqual([1, 2]);
    expect([...floats.data]).toEqual([1.5, -0.25]);
    const ints = new DataView(new ArrayBuffer(8));
    ints.setInt32(0, -123456789);
    ints.setInt32(4, 7);
    expect([...parseIdx(idxBytes(0x0c, [2], new Uint8Array(ints.buffer))).data]).toEqual([-123456789, 7]);
  });

  it('does not alias the caller-owned bytes', () => {
    const bytes = idxBytes(0x08, [3], new Uint8Array([1, 2, 3]));
    const parsed = parseIdx(bytes);
    bytes[bytes.length - 1] = 99;
    expect([...parsed.data]).toEqual([1, 2, 3]);
  });

  it('rejects corrupt files with a sentence naming the file', () => {
    const good = idxBytes(0x08, [2, 3], new Uint8Array(6));
    const name = { name: 'images.idx' };
    expect(() => parseIdx(good.subarray(0, good.length - 1), name)).toThrow(
      'images.idx: dimensions [2, 3] of uint8 need 6 data bytes but the file has 5 after its header (the data is truncated',
    );
    expect(() => parseIdx(new Uint8Array([...good, 0]), name)).toThrow('there are trailing bytes');
    expect(() => parseIdx(good.subarray(0, 9), name)).toThrow(
      'images.idx: truncated header: the magic number declares 2 dimensions (12 header bytes) but the data has 9 bytes',
    );
    expect(() => parseIdx(new Uint8Array([0, 0]), name)).toThrow(
      'images.idx: too short for an IDX header (2 bytes',
    );
    const badMagic = good.slice();
    badMagic[0] = 0x89;
    expect(() => parseIdx(badMagic, name)).toThrow('images.idx: not an IDX file (magic number 0x89000802');
    const badType = good.slice();
    badType[2] = 0x07;
    expect(() => parseIdx(badType, name)).toThrow('images.idx: unknown IDX data type code 0x07');
    // Dimensions whose product overflows any real file: 2^31-1 squared elements.
    expect(() => parseIdx(idxBytes(0x08, [0x7fffffff, 0x7fffffff], new Uint8Array(4)), name)).toThrow(
      'images.idx: dimensions [2147483647, 2147483647] overflow: their product is more elements than any file can hold',
    );
    // Large but representable: a plain length mismatch.
    expect(() => parseIdx(idxBytes(0x0e, [60000, 28, 28], new Uint8Array(8)), name)).toThrow(
      'images.idx: dimensions [60000, 28, 28] of float64 need 376320000 data bytes but the file has 8 after its header',
    );
    expect(() => parseIdx(idxBytes(0x08, [0xffffffff], new Uint8Array(0)), name)).toThrow(
      'images.idx: dimension 0 has a negative size (-1)',
    );
    expect(() => parseIdx(new Uint8Array([1, 2, 3, 4, 5]))).toThrow(/^IDX data: not an IDX file/);
  });
});

describe('gzip handling', () => {
  it('parses gzip and plain bytes to the same array', () => {
    const plain = idxBytes(0x08, [2, 2], new Uint8Array([0, 64, 128, 255]));
    const compressed = gzipSync(plain);
    expect(isGzip(compressed)).toBe(true);
    expect(isGzip(plain)).toBe(false);
    expect(parseIdx(compressed)).toEqual(parseIdx(plain));
    expect(gunzipIfNeeded(plain)).toBe(plain);
    // The bundled files are gzip on disk.
    expect(isGzip(readFileSync(bundled('t10k-labels-idx1-ubyte')))).toBe(true);
  });

  it('rejects truncated or oversized gzip data', () => {
    const compressed = gzipSync(idxBytes(0x08, [1000], new Uint8Array(1000).fill(7)));
    expect(() => parseIdx(compressed.subarray(0, compressed.length - 12), { name: 'labels.gz' })).toThrow(
      /^labels\.gz: gzip data is corrupt or truncated \(/,
    );
    expect(() => parseIdx(compressed.subarray(0, 12), { name: 'labels.gz' })).toThrow(
      'labels.gz: gzip data is truncated (12 bytes)',
    );
    expect(() => gunzipIfNeeded(compressed, { name: 'labels.gz', maxBytes: 100 })).toThrow(
      'labels.gz: gzip trailer declares 1008 decompressed bytes, more than the limit of 100',
    );
  });
});
