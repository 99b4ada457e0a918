#!/usr/bin/env node
// Consumer smoke test: packs the built packages as npm would publish them, installs them with
// tfjs-core into an empty project, and checks from plain Node, both `import` and `require`, that they
// load, that gradients work (tfjs-core alone registers none in Node), and that only one copy of
// tfjs-core is installed. Run after `turbo run build`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const packages = ['core', 'layers'];
const work = mkdtempSync(join(tmpdir(), 'mlzoo-smoke-'));
const packed = join(work, 'packed');
const consumer = join(work, 'consumer');
mkdirSync(packed);
mkdirSync(consumer);

const run = (command, args, cwd) =>
  execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

try {
  const tarballs = {};
  for (const name of packages) {
    run('pnpm', ['pack', '--pack-destination', packed], join(root, 'packages', name));
    const file = readdirSync(packed).find(
      (entry) => entry.startsWith(`mlzoo-${name}-`) && !Object.values(tarballs).includes(entry),
    );
    if (!file) throw new Error(`smoke: pnpm pack produced no tarball for @mlzoo/${name}`);
    tarballs[`@mlzoo/${name}`] = `file:../packed/${file}`;
  }
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify(
      {
        name: 'mlzoo-smoke-consumer',
        private: true,
        dependencies: {
          ...tarballs,
          '@tensorflow/tfjs-core': '4.22.0',
          '@tensorflow/tfjs-backend-cpu': '4.22.0',
        },
        // the packed layers depends on @mlzoo/core by version; point it at the local tarball
        overrides: { '@mlzoo/core': tarballs['@mlzoo/core'] },
      },
      null,
      2,
    ),
  );
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefer-offline'], consumer);

  const copies = run('npm', ['ls', '@tensorflow/tfjs-core', '--all', '--parseable'], consumer)
    .split('\n')
    .filter((line) => line.endsWith('tfjs-core'));
  const unique = new Set(copies);
  if (unique.size !== 1)
    throw new Error(`smoke: expected one tfjs-core, found ${unique.size}: ${[...unique].join(', ')}`);

  const body = `
    const backend = await core.setBackend('cpu');
    core.manualSeed(0);
    const linear = new layers.Linear({ inFeatures: 3, outFeatures: 2 });
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const { value, grads } = tf.variableGrads(() => linear.forward(x).square().sum(), linear.parameters());
    const gradientCount = Object.keys(grads).length;
    const state = linear.stateDict();
    const bytes = core.encodeSafetensors(state);
    const decoded = core.decodeSafetensors(bytes);
    const shape = decoded.weight.shape.join('x');
    if (backend !== 'cpu' || gradientCount !== 2 || shape !== '2x3' || !(value.dataSync()[0] > 0)) {
      throw new Error('unexpected result: ' + JSON.stringify({ backend, gradientCount, shape }));
    }
    console.log('ok', ${JSON.stringify('FORMAT')}, 'gradients:', gradientCount, 'weight:', shape);
  `;
  writeFileSync(
    join(consumer, 'esm.mjs'),
    `import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as core from '@mlzoo/core';
import * as layers from '@mlzoo/layers';
${body.replace('FORMAT', 'import')}`,
  );
  writeFileSync(
    join(consumer, 'cjs.cjs'),
    `const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const core = require('@mlzoo/core');
const layers = require('@mlzoo/layers');
(async () => {${body.replace('FORMAT', 'require')}})().catch((error) => { console.error(error); process.exit(1); });`,
  );
  process.stdout.write(run(process.execPath, ['esm.mjs'], consumer));
  process.stdout.write(run(process.execPath, ['cjs.cjs'], consumer));
  console.log(
    'smoke: packed @mlzoo/core and @mlzoo/layers install and work from import and require, one tfjs-core',
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
