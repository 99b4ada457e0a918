// Bundles the demo for the browser with esbuild into dist/ (one tfjs-core: the ESM graph through the
// "module" field) and copies the bundled Fashion-MNIST subset next to it.
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(here, 'dist');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src/main.ts')],
  outfile: join(out, 'main.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  mainFields: ['browser', 'module', 'main'],
  // Bundles the built packages (dist/), exactly what a user's bundler gets from npm; set
  // MLZOO_BUNDLE_FROM=source to bundle the workspace sources instead while developing.
  conditions: [
    ...(process.env.MLZOO_BUNDLE_FROM === 'source' ? ['@mlzoo/source'] : []),
    'browser',
    'module',
    'import',
  ],
  sourcemap: true,
  logLevel: 'warning',
});
cpSync(join(here, 'index.html'), join(out, 'index.html'));
cpSync(join(here, '../../packages/data/assets/fashion-mnist-subset'), join(out, 'data'), { recursive: true });
console.log(`browser-demo: built ${out}`);
