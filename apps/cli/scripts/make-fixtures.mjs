#!/usr/bin/env node
// Regenerates the PNG fixtures of the CLI tests from the Fashion-MNIST subset bundled with @mlzoo/data:
// test image 0 as a 28x28 8-bit grey PNG (what `mlzoo predict` expects), and the same image padded
// to 32x32 (which predict must reject). Run: node apps/cli/scripts/make-fixtures.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, gunzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const subset = join(here, '../../../packages/data/assets/fashion-mnist-subset');
const fixtures = join(here, '../test/fixtures');

const images = gunzipSync(readFileSync(join(subset, 't10k-images-idx3-ubyte.gz')));
const labels = gunzipSync(readFileSync(join(subset, 't10k-labels-idx1-ubyte.gz')));
if (images.readUInt32BE(0) !== 0x803 || labels.readUInt32BE(0) !== 0x801) throw new Error('not IDX files');

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes) {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}
/** An 8-bit greyscale PNG (colour type 0), no filtering. */
function greyPng(width, height, pixels) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // greyscale
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) pixels.copy(raw, y * (width + 1) + 1, y * width, (y + 1) * width);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const index = 0;
const image = images.subarray(16 + index * 784, 16 + (index + 1) * 784);
const label = labels[8 + index];
writeFileSync(join(fixtures, `fashion-mnist-test-${index}.png`), greyPng(28, 28, Buffer.from(image)));
const padded = Buffer.alloc(32 * 32);
for (let y = 0; y < 28; y++) image.copy(padded, (y + 2) * 32 + 2, y * 28, (y + 1) * 28);
writeFileSync(join(fixtures, 'grey-32x32.png'), greyPng(32, 32, padded));
console.log(`wrote fashion-mnist-test-${index}.png (label ${label}) and grey-32x32.png to ${fixtures}`);
