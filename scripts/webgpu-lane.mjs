#!/usr/bin/env node
// The webgpu test lane: the shared model suite (every `model suite: <model>` test, runModelSuite in
// @mlzoo/testing) of the model packages on the webgpu backend, in Node through Dawn (the `webgpu` npm
// package) on Mesa's software Vulkan driver (lavapipe), prepared by .ci/webgpu-setup.sh. On a backend
// other than cpu the suite adds a check that outputs and gradients equal the cpu backend's within
// BACKEND_AGREEMENT_TOLERANCE (packages/testing/src/checks.ts): that is the lane's "equal to cpu".
//
// Why a subset: lavapipe runs WebGPU on the CPU, ~10-50x slower than wasm, so the whole suite would not
// fit CI's time; and many other tests read tensors synchronously (dataSync/arraySync), which the webgpu
// backend cannot do in Node. The model suite covers every registered model with async reads.
// Known webgpu failures are excluded by name below, each with its reason, printed on every run; a
// kernel that webgpu lacks fails its test with tfjs's "Kernel '<name>' not registered" error. WebGPU
// reports an invalid shader or pipeline as an event, not an exception (Dawn prints it and the
// results are garbage): a package whose output shows one fails the lane, with the messages.
//
//   node scripts/webgpu-lane.mjs              run the lane (writes each package's .vitest-report.json)
//   node scripts/webgpu-lane.mjs --list       print the packages, the pattern and the exclusions
//   node scripts/webgpu-lane.mjs vit kan      only these packages
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Packages whose model suites run on webgpu (the browser demo has its own WebGPU test). */
export const WEBGPU_LANE_PACKAGES = ['layers', 'kan', 'mixers', 'vit'];

/**
 * Tests left out of the lane: a regular expression over the full test name, and why. Each entry is
 * a bug to fix, not a place to hide one: remove it when the cause is fixed.
 */
export const WEBGPU_LANE_EXCLUSIONS = [];

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// vitest matches -t against "<describe> <test>"; a negative lookahead leaves the exclusions out
const pattern =
  WEBGPU_LANE_EXCLUSIONS.length === 0
    ? '^model suite: '
    : `^(?!.*(?:${WEBGPU_LANE_EXCLUSIONS.map((entry) => escapeRegExp(entry.tests)).join('|')}))model suite: `;

function describeLane() {
  console.log(`webgpu lane: packages ${WEBGPU_LANE_PACKAGES.join(', ')}; tests matching /${pattern}/`);
  for (const entry of WEBGPU_LANE_EXCLUSIONS)
    console.log(`webgpu lane: EXCLUDED '${entry.tests.trim()}': ${entry.reason}`);
}

if (process.argv.includes('--list')) {
  describeLane();
  process.exit(0);
}

// The setup prints the lane's environment as `export NAME=value` lines (values quoted by printf %q;
// paths under the repository have no characters that need it).
const setup = spawnSync('bash', [join(root, '.ci', 'webgpu-setup.sh')], {
  cwd: root,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
});
if (setup.status !== 0) {
  console.error('webgpu lane: .ci/webgpu-setup.sh failed (see above)');
  process.exit(1);
}
const environment = { ...process.env, MLZOO_BACKEND: 'webgpu' };
for (const line of setup.stdout.split('\n')) {
  const match = /^export ([A-Z_]+)=(.*)$/.exec(line.trim());
  if (match) environment[match[1]] = match[2];
}

describeLane();
const chosen = process.argv.slice(2).filter((argument) => !argument.startsWith('--'));
for (const name of chosen) {
  if (!WEBGPU_LANE_PACKAGES.includes(name)) {
    console.error(
      `webgpu lane: unknown package '${name}'; expected some of ${WEBGPU_LANE_PACKAGES.join(', ')}`,
    );
    process.exit(2);
  }
}
let failed = false;
for (const name of chosen.length > 0 ? chosen : WEBGPU_LANE_PACKAGES) {
  const started = Date.now();
  console.log(`webgpu lane: ${name}`);
  const result = spawnSync(
    join(root, 'node_modules', '.bin', 'vitest'),
    ['run', '--testNamePattern', pattern],
    {
      cwd: join(root, 'packages', name),
      env: environment,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // Dawn warns on every adapter request that lavapipe's huge limits were lowered: noise
  const output = `${result.stdout}${result.stderr}`
    .split('\n')
    .filter((line) => !line.includes('artificially reduced'))
    .join('\n');
  // all of it when something failed; the summary lines otherwise
  process.stdout.write(result.status === 0 ? output.split('\n').slice(-8).join('\n') : output);
  console.log(
    `\nwebgpu lane: ${name} finished in ${((Date.now() - started) / 1000).toFixed(0)} s, exit ${result.status}`,
  );
  if (result.status !== 0) failed = true;
  const gpuErrors = [
    ...new Set(
      output.split('\n').filter((line) => /Error while parsing WGSL|^\[Invalid |^ - While /.test(line)),
    ),
  ];
  if (gpuErrors.length > 0) {
    console.log(`webgpu lane: FAILED: ${name}: the GPU reported errors (the affected results are garbage):`);
    for (const line of gpuErrors.slice(0, 10)) console.log(`  ${line}`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
