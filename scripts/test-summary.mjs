#!/usr/bin/env node
// Sums the vitest JSON reports of the workspace packages per test lane (a backend) and prints one
// closing line for CI, "tests: N passed, N failed, N skipped", over every lane.
//   node scripts/test-summary.mjs --lane cpu --reset   record the cpu lane (starting afresh)
//   node scripts/test-summary.mjs --lane wasm          record the wasm lane
//   node scripts/test-summary.mjs --close              print the closing line; exit 1 on any failure
//   node scripts/test-summary.mjs --clear              delete the packages' reports (after recording --lane)
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const lanesFile = join(root, '.tmp', 'test-lanes.json');
const args = process.argv.slice(2);
const lane = args.includes('--lane') ? args[args.indexOf('--lane') + 1] : undefined;

function readLanes() {
  if (args.includes('--reset') || !existsSync(lanesFile)) return {};
  return JSON.parse(readFileSync(lanesFile, 'utf8'));
}

const folders = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(root, group, entry.name)),
);
folders.push(join(root, 'docs'));

if (lane) {
  const totals = { passed: 0, failed: 0, skipped: 0 };
  for (const folder of folders) {
    const file = join(folder, '.vitest-report.json');
    if (!existsSync(join(folder, 'package.json')) || !existsSync(file)) continue;
    const report = JSON.parse(readFileSync(file, 'utf8'));
    const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    totals.passed += report.numPassedTests;
    totals.failed += report.numFailedTests;
    totals.skipped += skipped;
    console.log(
      `[${lane}] ${folder.slice(root.length + 1)}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`,
    );
  }
  if (totals.passed + totals.failed === 0) {
    console.error(`test-summary: no vitest reports found for lane ${lane}; run the tests first`);
    process.exit(1);
  }
  const lanes = readLanes();
  lanes[lane] = totals;
  mkdirSync(dirname(lanesFile), { recursive: true });
  writeFileSync(lanesFile, JSON.stringify(lanes, null, 2));
}

// after recording a lane: the next lane must not count this one's reports
if (args.includes('--clear')) {
  for (const folder of folders) rmSync(join(folder, '.vitest-report.json'), { force: true });
}

if (args.includes('--close')) {
  const lanes = readLanes();
  const names = Object.keys(lanes);
  if (names.length === 0) {
    console.error('test-summary: no lanes recorded');
    process.exit(1);
  }
  const sum = (key) => names.reduce((total, name) => total + lanes[name][key], 0);
  for (const name of names) {
    console.log(
      `lane ${name}: ${lanes[name].passed} passed, ${lanes[name].failed} failed, ${lanes[name].skipped} skipped`,
    );
  }
  console.log(`tests: ${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped`);
  process.exit(sum('failed') > 0 ? 1 : 0);
}
