// Runs a README's quick start exactly as printed: the first ```ts block is written to a scratch
// module beside the package (so its imports resolve as the package's own would) and imported;
// what it logs is returned for the test to check (strings as printed, other values as JSON). Node-only.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The first fenced block of `language` in the markdown file (throws if there is none). */
export function firstCodeBlock(markdownPath: string, language = 'ts'): string {
  const text = readFileSync(markdownPath, 'utf8');
  const fence = '```';
  const match = new RegExp(`${fence}${language}\\n([\\s\\S]*?)\\n${fence}`).exec(text);
  if (!match) throw new Error(`${markdownPath}: no \`\`\`${language} block`);
  return match[1]!;
}

/**
 * Imports the README's first ```ts block as a module and returns the lines it printed with
 * console.log (each call's arguments joined by spaces; strings as they are, other values as JSON).
 */
export async function runReadmeQuickStart(readme: URL | string): Promise<string[]> {
  const readmePath = typeof readme === 'string' ? readme : fileURLToPath(readme);
  const code = firstCodeBlock(readmePath);
  const folder = join(dirname(readmePath), 'node_modules', '.readme-quick-start');
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `quick-start-${process.pid}-${Date.now()}.ts`);
  writeFileSync(file, code);
  const lines: string[] = [];
  const original = console.log;
  console.log = (...values: unknown[]) => {
    lines.push(values.map((value) => (typeof value === 'string' ? value : JSON.stringify(value))).join(' '));
  };
  try {
    await import(pathToFileURL(file).href);
  } finally {
    console.log = original;
    rmSync(file, { force: true });
  }
  return lines;
}
