#!/usr/bin/env node
// Sums the vitest JSON reports of every workspace package into one closing line,
// "mlzoo tests: N passed, N failed, N skipped", and exits non-zero if any test failed or no report exists.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const folders = ['packages', 'apps'].flatMap((group) =>
  readdirSync(join(root, group), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(root, group, entry.name)),
);
folders.push(join(root, 'docs'));

let passed = 0;
let failed = 0;
let skipped = 0;
const rows = [];
for (const folder of folders) {
  const file = join(folder, '.vitest-report.json');
  if (!existsSync(join(folder, 'package.json')) || !existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const pending = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += pending;
  rows.push(
    `${folder.slice(root.length + 1)}: ${report.numPassedTests} passed, ${report.numFailedTests} failed`,
  );
}
console.log(rows.join('\n'));
if (rows.length === 0) {
  console.error('test-summary: no vitest reports found; run the tests first');
  process.exit(1);
}
console.log(`mlzoo tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 ? 1 : 0);
