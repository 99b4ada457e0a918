#!/usr/bin/env node
// Regenerates the Fashion-MNIST subset bundled in assets/fashion-mnist-subset/ from the four official files.
//
//   node scripts/make-fashion-mnist-subset.mjs [sourceDirectory] [--train 2000] [--test 500]
//
// sourceDirectory holds the official gzip IDX files (train-images-idx3-ubyte.gz, ...); it defaults to the
// Debian package's /usr/share/datasets/fashion-mnist. The subset is the FIRST N examples of each official
// file (2,000 train, 500 test), so example i of the subset is example i of the full set. Output files keep
// the official names, with the first dimension rewritten to N, and are gzip level 9 (deterministic: zlib
// writes mtime 0).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const packageDirectory = join(dirname(fileURLToPath(import.meta.url)), '..');
const outputDirectory = join(packageDirectory, 'assets', 'fashion-mnist-subset');

const argumentsList = process.argv.slice(2);
const counts = { train: 2000, test: 500 };
let sourceDirectory = '/usr/share/datasets/fashion-mnist';
for (let index = 0; index < argumentsList.length; index++) {
  const argument = argumentsList[index];
  if (argument === '--train' || argument === '--test') {
    const value = Number(argumentsList[++index]);
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${argument} needs a positive integer`);
    counts[argument.slice(2)] = value;
  } else {
    sourceDirectory = argument;
  }
}

const files = {
  train: ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  test: ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
};

function readIdx(name) {
  for (const candidate of [join(sourceDirectory, `${name}.gz`), join(sourceDirectory, name)]) {
    if (!existsSync(candidate)) continue;
    const raw = readFileSync(candidate);
    return raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw;
  }
  throw new Error(`${name}: not found in ${sourceDirectory} (with or without .gz)`);
}

mkdirSync(outputDirectory, { recursive: true });
for (const [split, names] of Object.entries(files)) {
  const count = counts[split];
  for (const name of names) {
    const bytes = readIdx(name);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magic = view.getUint32(0);
    if (magic !== 0x00000803 && magic !== 0x00000801)
      throw new Error(`${name}: unexpected magic 0x${magic.toString(16)}`);
    const numDims = magic & 0xff;
    const headerLength = 4 + 4 * numDims;
    const total = view.getUint32(4);
    if (count > total) throw new Error(`${name}: asked for ${count} examples, the file has ${total}`);
    let perExample = 1;
    for (let dim = 1; dim < numDims; dim++) perExample *= view.getUint32(4 + 4 * dim);
    const subset = Buffer.from(bytes.subarray(0, headerLength + count * perExample));
    subset.writeUInt32BE(count, 4);
    const output = gzipSync(subset, { level: 9 });
    writeFileSync(join(outputDirectory, `${name}.gz`), output);
    if (name.includes('labels')) {
      const histogram = new Array(10).fill(0);
      for (const label of subset.subarray(headerLength)) histogram[label]++;
      console.log(`${name}.gz: ${count} labels, per class ${histogram.join(' ')}, ${output.length} bytes`);
    } else {
      console.log(`${name}.gz: ${count} images, ${output.length} bytes`);
    }
  }
}
