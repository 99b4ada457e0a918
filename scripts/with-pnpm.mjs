#!/usr/bin/env node
// Entry point for the README's two commands (`npm run demo`, `npm test`) on a machine that has only
// Node >= 20 and npm: finds pnpm (or fetches the pinned version through npx), installs the workspace
// when needed, then runs the task. Keeps the quick start to exactly two commands.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pinned = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager; // "pnpm@x.y.z"
const pinnedVersion = pinned.split('@')[1];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function pnpmCommand() {
  const probe = spawnSync('pnpm', ['--version'], { cwd: root, encoding: 'utf8' });
  if (probe.status === 0 && probe.stdout.trim() === pinnedVersion) return ['pnpm', []];
  // npx caches the pinned pnpm after the first call; corepack is avoided on purpose (it cannot
  // verify signatures on registries that serve none).
  return ['npx', ['--yes', pinned]];
}

const [pnpm, prefix] = pnpmCommand();
const pnpmRun = (...args) => run(pnpm, [...prefix, ...args]);

const task = process.argv[2];
const rest = process.argv.slice(3);
const installed = existsSync(join(root, 'node_modules', '.modules.yaml'));
if (!installed || process.env.CI) {
  const status = pnpmRun('install', '--frozen-lockfile');
  if (status !== 0) process.exit(status);
}

let status;
switch (task) {
  case 'demo':
    status = pnpmRun('exec', 'turbo', 'run', 'build', '--filter=@mlzoo/cli...', '--output-logs=errors-only');
    if (status === 0) status = run(process.execPath, [join(root, 'apps/cli/dist/cli.js'), 'demo', ...rest]);
    break;
  case 'test':
    status = pnpmRun('run', 'test:all', ...rest);
    break;
  default:
    console.error(`with-pnpm: unknown task '${task}' (expected 'demo' or 'test')`);
    status = 2;
}
process.exit(status);
