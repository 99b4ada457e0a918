import { describe, expect, it } from 'vitest';
import { parseCsv } from '../src/index.js';

describe('parseCsv', () => {
  it('reads plain rows and objects keyed by the header', () => {
    expect(parseCsv('a,b\n1,2\n3,4\n')).toEqual([
      ['a', 'b'],
      ['1', '2'],
      ['3', '4'],
    ]);
    expect(parseCsv('userId,movieId,rating\n1,31,2.5\n1,1029,3.0', { header: true })).toEqual([
      { userId: '1', movieId: '31', rating: '2.5' },
      { userId: '1', movieId: '1029', rating: '3.0' },
    ]);
  });

  it('handles quoted fields, doubled quotes, delimiters and line breaks inside quotes', () => {
    const text =
      'title,genres\n"Toy Story (1995)",Adventure|Animation\n"American President, The (1995)","Comedy"\n"He said ""hi""",x\n"two\nlines",y\n';
    expect(parseCsv(text, { header: true })).toEqual([
      { title: 'Toy Story (1995)', genres: 'Adventure|Animation' },
      { title: 'American President, The (1995)', genres: 'Comedy' },
      { title: 'He said "hi"', genres: 'x' },
      { title: 'two\nlines', genres: 'y' },
    ]);
  });

  it('accepts CRLF and CR line endings, a BOM, empty fields and blank lines', () => {
    expect(parseCsv('\ufeffa,b\r\n1,\r\n\r\n,2\r\n')).toEqual([
      ['a', 'b'],
      ['1', ''],
      ['', '2'],
    ]);
    expect(parseCsv('a\rb\rc')).toEqual([['a'], ['b'], ['c']]);
    expect(parseCsv('"",""\n')).toEqual([['', '']]);
    expect(parseCsv('"a\r\nb",c\r\n')).toEqual([['a\r\nb', 'c']]);
    expect(parseCsv('')).toEqual([]);
    expect(parseCsv('', { header: true })).toEqual([]);
    expect(parseCsv('only,header\n', { header: true })).toEqual([]);
  });

  it('keeps a quote inside an unquoted field and supports other delimiters', () => {
    expect(parseCsv('5\'11",tall')).toEqual([['5\'11"', 'tall']]);
    expect(parseCsv('a;"b;c"\n1;2', { delimiter: ';' })).toEqual([
      ['a', 'b;c'],
      ['1', '2'],
    ]);
    expect(parseCsv('a\tb', { delimiter: '\t' })).toEqual([['a', 'b']]);
  });

  it('keeps columns named like Object.prototype members, __proto__ included', () => {
    const [record] = parseCsv('__proto__,b\n1,2', { header: true });
    expect(Object.entries(record!)).toEqual([
      ['__proto__', '1'],
      ['b', '2'],
    ]);
    const [other] = parseCsv('constructor,toString,hasOwnProperty\nx,y,z', { header: true });
    expect(Object.entries(other!)).toEqual([
      ['constructor', 'x'],
      ['toString', 'y'],
      ['hasOwnProperty', 'z'],
    ]);
    expect(() => parseCsv('__proto__,__proto__\n1,2\n', { header: true })).toThrow(
      'CSV: line 1: duplicate column name "__proto__"',
    );
    // A record has no prototype, so nothing is inherited (and nothing leaks into Object.prototype).
    expect(Object.getPrototypeOf(record)).toBeNull();
    expect(({} as Record<string, unknown>).b).toBeUndefined();
  });

  it('reports malformed input with the line number', () => {
    expect(() => parseCsv('a,b\n1,2\n"open,3\n4,5\n', { name: 'ratings.csv' })).toThrow(
      'ratings.csv: line 3: quoted field is never closed',
    );
    expect(() => parseCsv('a,b\n"x"y,2\n')).toThrow('CSV: line 2: unexpected "y" after a closing quote');
    expect(() => parseCsv('a,b\n1,2\n\n3\n', { header: true })).toThrow(
      'CSV: line 4: expected 2 fields (as in the header), got 1',
    );
    expect(() => parseCsv('"multi\nline",b\n1,2,3\n', { header: true })).toThrow(
      'CSV: line 3: expected 2 fields',
    );
    expect(() => parseCsv('a,a\n1,2\n', { header: true })).toThrow('CSV: line 1: duplicate column name "a"');
    expect(() => parseCsv('a', { delimiter: '::' })).toThrow('CSV: delimiter must be one character');
  });
});
