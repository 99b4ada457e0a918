#!/usr/bin/env node
// Regenerates test/fixtures/chelsea-crop.png: a 40x30 RGB crop (rows 40..69, columns 120..159) of
// scikit-image's chelsea.png (CC0), small enough to commit. The source path defaults to the Debian
// python3-skimage copy; pass another path as the first argument.
//
//   node scripts/make-png-fixture.mjs /work/shared/data/images/chelsea.png
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pngjs from 'pngjs';

const source = process.argv[2] ?? '/usr/lib/python3/dist-packages/skimage/data/chelsea.png';
const output = join(dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'chelsea-crop.png');
const crop = { top: 40, left: 120, width: 40, height: 30 };

const image = pngjs.PNG.sync.read(readFileSync(source));
const rgb = Buffer.alloc(crop.width * crop.height * 3);
for (let row = 0; row < crop.height; row++) {
  for (let column = 0; column < crop.width; column++) {
    const from = ((crop.top + row) * image.width + crop.left + column) * 4;
    const to = (row * crop.width + column) * 3;
    image.data.copy(rgb, to, from, from + 3);
  }
}
const encoded = pngjs.PNG.sync.write(
  { width: crop.width, height: crop.height, data: rgb },
  { colorType: 2, inputColorType: 2, inputHasAlpha: false },
);
writeFileSync(output, encoded);
console.log(`${output}: ${crop.width}x${crop.height} RGB, ${encoded.length} bytes`);
