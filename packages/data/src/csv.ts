// A small RFC 4180 CSV parser: quoted fields, doubled quotes inside them, delimiters and line breaks
// inside quotes, LF / CRLF / CR line endings, an optional header row. Browser-safe, no dependencies.

/** Options for {@link parseCsv}. */
export interface ParseCsvOptions {
  /** Treat the first row as column names and return one object per following row (default false). */
  header?: boolean;
  /** Field separator, one character (default ','). */
  delimiter?: string;
  /** Name used in error messages (default "CSV"). */
  name?: string;
}

/**
 * Parses CSV text. Blank lines are skipped, a leading byte order mark is dropped, and a line break at
 * the end of the text does not make an empty row. With `header: true`, every row must have as many
 * fields as the header; without it, rows keep their own lengths. An unterminated quoted field, or text
 * after a closing quote, is an error that names the line. Header records are objects without a
 * prototype (`Object.create(null)`), so any column name, `__proto__` included, is kept as a key.
 *
 * @example
 * ```ts
 * import { parseCsv } from '@mlzoo/data';
 * parseCsv('name,quote\nAda,"said ""hi"", left"\n', { header: true });
 * // [{ name: 'Ada', quote: 'said "hi", left' }]
 * ```
 */
export function parseCsv(text: string, options: ParseCsvOptions & { header: true }): Record<string, string>[];
export function parseCsv(text: string, options?: ParseCsvOptions & { header?: false }): string[][];
export function parseCsv(text: string, options: ParseCsvOptions = {}): string[][] | Record<string, string>[] {
  const name = options.name ?? 'CSV';
  const delimiter = options.delimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new Error(
      `${name}: delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`,
    );
  }
  const { rows, lines } = tokenize(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, delimiter, name);
  if (!options.header) return rows;
  const [columns, ...body] = rows;
  if (columns == null) return [];
  const seen = new Set<string>();
  for (const column of columns) {
    if (seen.has(column))
      throw new Error(`${name}: line ${lines[0]}: duplicate column name ${JSON.stringify(column)}`);
    seen.add(column);
  }
  return body.map((fields, index) => {
    if (fields.length !== columns.length) {
      throw new Error(
        `${name}: line ${lines[index + 1]}: expected ${columns.length} fields (as in the header), got ${fields.length}`,
      );
    }
    // No prototype: a column named "__proto__" (or "constructor", "toString") is an ordinary key.
    const record = Object.create(null) as Record<string, string>;
    columns.forEach((column, position) => {
      record[column] = fields[position]!;
    });
    return record;
  });
}

function tokenize(text: string, delimiter: string, name: string): { rows: string[][]; lines: number[] } {
  const rows: string[][] = [];
  const lines: number[] = []; // the line where each row starts, for error messages
  let row: string[] = [];
  let field = '';
  let atFieldStart = true; // nothing read yet for the current field (a quote here opens a quoted field)
  let rowHasContent = false; // false on an empty line, which is skipped
  let line = 1;
  let rowLine = 1;
  let index = 0;
  const endRow = () => {
    if (rowHasContent) {
      row.push(field);
      rows.push(row);
      lines.push(rowLine);
    }
    row = [];
    field = '';
    atFieldStart = true;
    rowHasContent = false;
  };
  while (index < text.length) {
    const character = text[index]!;
    if (character === '"' && atFieldStart) {
      // Quoted field: read up to the closing quote, turning "" into ".
      const openedAt = line;
      index++;
      for (;;) {
        if (index >= text.length) throw new Error(`${name}: line ${openedAt}: quoted field is never closed`);
        const inner = text[index]!;
        if (inner === '"') {
          if (text[index + 1] === '"') {
            field += '"';
            index += 2;
            continue;
          }
          index++;
          break;
        }
        if (inner === '\n' || (inner === '\r' && text[index + 1] !== '\n')) line++;
        field += inner;
        index++;
      }
      atFieldStart = false;
      rowHasContent = true;
      const next = text[index];
      if (next !== undefined && next !== delimiter && next !== '\n' && next !== '\r') {
        throw new Error(`${name}: line ${line}: unexpected ${JSON.stringify(next)} after a closing quote`);
      }
      continue;
    }
    if (character === delimiter) {
      row.push(field);
      field = '';
      atFieldStart = true;
      rowHasContent = true;
      index++;
      continue;
    }
    if (character === '\n' || character === '\r') {
      endRow();
      index += character === '\r' && text[index + 1] === '\n' ? 2 : 1;
      line++;
      rowLine = line;
      continue;
    }
    // A quote inside an unquoted field is kept as it is (as most CSV writers and readers do).
    field += character;
    atFieldStart = false;
    rowHasContent = true;
    index++;
  }
  endRow();
  return { rows, lines };
}
