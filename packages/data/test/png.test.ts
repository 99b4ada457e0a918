import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { zlibSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { decodePng, decodePngToTensor } from '../src/node.js';

const fixture = new Uint8Array(readFileSync(new URL('./fixtures/chelsea-crop.png', import.meta.url)));

// A minimal PNG writer independent of pngjs (filter 0 on every row, zlib from fflate), so the decoder is
// checked against bytes we laid out ourselves.
const CRC_TABLE = Array.from({ length: 256 }, (_, byte) => {
  let value = byte;
  for (let bit = 0; bit < 8; bit++) value = value & 1 ? 0xedb88320 ^ (value >>> 1) : value >>> 1;
  return value >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

interface PngSpec {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  rows: number[][]; // each row's packed sample bytes, without the filter byte
  palette?: number[];
  transparency?: number[];
}

function encodePng(spec: PngSpec): Uint8Array {
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, spec.width);
  view.setUint32(4, spec.height);
  header.set([spec.bitDepth, spec.colorType, 0, 0, 0], 8);
  const scanlines = new Uint8Array(spec.rows.flatMap((row) => [0, ...row]));
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    ...(spec.palette ? [chunk('PLTE', new Uint8Array(spec.palette))] : []),
    ...(spec.transparency ? [chunk('tRNS', new Uint8Array(spec.transparency))] : []),
    chunk('IDAT', zlibSync(scanlines)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

describe('decodePng on the committed fixture', () => {
  it('decodes the RGB crop to the pixel values read with a separate Python zlib decoder', () => {
    const image = decodePng(fixture);
    expect(image).toMatchObject({ width: 40, height: 30, channels: 3, bitDepth: 8 });
    expect(image.data).toBeInstanceOf(Uint8Array);
    expect(image.data.length).toBe(40 * 30 * 3);
    const pixel = (row: number, column: number) => [
      ...image.data.subarray((row * 40 + column) * 3, (row * 40 + column) * 3 + 3),
    ];
    expect(pixel(0, 0)).toEqual([136, 96, 61]);
    expect(pixel(0, 39)).toEqual([151, 116, 86]);
    expect(pixel(15, 20)).toEqual([145, 100, 67]);
    expect(pixel(29, 0)).toEqual([132, 93, 54]);
    expect(pixel(29, 39)).toEqual([121, 81, 56]);
  });

  it('gives a [H, W, C] float32 tensor equal to the bytes / 255, without leaking', async () => {
    const before = tf.memory().numTensors;
    const tensor = decodePngToTensor(fixture);
    expect(tensor.shape).toEqual([30, 40, 3]);
    expect(tensor.dtype).toBe('float32');
    const values = await tensor.data();
    const bytes = decodePng(fixture).data;
    expect(values).toEqual(Float32Array.from(bytes, (value) => value / 255));
    tensor.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects files that are not PNG with a sentence', () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]), { name: 'photo.png' })).toThrow(
      /^photo\.png: not a valid PNG file \(/,
    );
    expect(() => decodePng(fixture.subarray(0, 100))).toThrow(/^PNG: not a valid PNG file \(/);
  });
});

describe('decodePng colour types and bit depths', () => {
  it('keeps grey, grey + alpha and RGBA channels', () => {
    const grey = decodePng(
      encodePng({
        width: 2,
        height: 2,
        bitDepth: 8,
        colorType: 0,
        rows: [
          [0, 128],
          [255, 64],
        ],
      }),
    );
    expect(grey).toEqual({
      width: 2,
      height: 2,
      channels: 1,
      bitDepth: 8,
      data: new Uint8Array([0, 128, 255, 64]),
    });
    const greyAlpha = decodePng(
      encodePng({ width: 2, height: 1, bitDepth: 8, colorType: 4, rows: [[10, 200, 20, 100]] }),
    );
    expect(greyAlpha).toMatchObject({ channels: 2, data: new Uint8Array([10, 200, 20, 100]) });
    const rgba = decodePng(
      encodePng({
        width: 1,
        height: 2,
        bitDepth: 8,
        colorType: 6,
        rows: [
          [1, 2, 3, 4],
          [5, 6, 7, 8],
        ],
      }),
    );
    expect(rgba).toMatchObject({ channels: 4, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) });
  });

  it('keeps 16-bit samples and scales them by 65535 in the tensor', async () => {
    const greyBytes = encodePng({
      width: 2,
      height: 1,
      bitDepth: 16,
      colorType: 0,
      rows: [[0x01, 0x02, 0xff, 0xff]],
    });
    const grey = decodePng(greyBytes);
    expect(grey).toMatchObject({ channels: 1, bitDepth: 16 });
    expect(grey.data).toEqual(new Uint16Array([0x0102, 0xffff]));
    const rgb = decodePng(
      encodePng({
        width: 1,
        height: 1,
        bitDepth: 16,
        colorType: 2,
        rows: [[0x03, 0xe8, 0x07, 0xd0, 0xff, 0xff]],
      }),
    );
    expect(rgb).toMatchObject({ channels: 3, bitDepth: 16, data: new Uint16Array([1000, 2000, 65535]) });
    const tensor = decodePngToTensor(greyBytes);
    expect(tensor.shape).toEqual([1, 2, 1]);
    expect(await tensor.data()).toEqual(new Float32Array([0x0102 / 65535, 1]));
    tensor.dispose();
  });

  it('expands palettes, with alpha when a tRNS chunk is present', () => {
    const palette = [255, 0, 0, 0, 255, 0, 0, 0, 255];
    const opaque = decodePng(
      encodePng({ width: 3, height: 1, bitDepth: 8, colorType: 3, rows: [[2, 0, 1]], palette }),
    );
    expect(opaque).toMatchObject({
      channels: 3,
      bitDepth: 8,
      data: new Uint8Array([0, 0, 255, 255, 0, 0, 0, 255, 0]),
    });
    const translucent = decodePng(
      encodePng({
        width: 2,
        height: 1,
        bitDepth: 8,
        colorType: 3,
        rows: [[0, 1]],
        palette,
        transparency: [128],
      }),
    );
    expect(translucent).toMatchObject({
      channels: 4,
      data: new Uint8Array([255, 0, 0, 128, 0, 255, 0, 255]),
    });
  });

  it('rescales 1-bit grey to 0..255 and turns a colour key into alpha', () => {
    const bits = decodePng(
      encodePng({ width: 8, height: 1, bitDepth: 1, colorType: 0, rows: [[0b10110000]] }),
    );
    expect(bits).toMatchObject({
      channels: 1,
      bitDepth: 8,
      data: new Uint8Array([255, 0, 255, 255, 0, 0, 0, 0]),
    });
    const keyed = decodePng(
      encodePng({
        width: 3,
        height: 1,
        bitDepth: 8,
        colorType: 0,
        rows: [[0, 7, 200]],
        transparency: [0, 7],
      }),
    );
    expect(keyed).toMatchObject({ channels: 2, data: new Uint8Array([0, 255, 0, 0, 200, 255]) });
  });
});
