import { gzipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { crc32, gunzipIfNeeded } from '../src/gzip.js';

/** 1000 bytes that are not all alike, so a prefix has a different CRC from the whole. */
const payload = Uint8Array.from({ length: 1000 }, (_, index) => (index * 37 + (index >> 3)) & 0xff);

function withTrailer(compressed: Uint8Array, crc: number, size: number): Uint8Array {
  const copy = compressed.slice();
  const view = new DataView(copy.buffer);
  view.setUint32(copy.length - 8, crc, true);
  view.setUint32(copy.length - 4, size, true);
  return copy;
}

function trailer(compressed: Uint8Array): { crc: number; size: number } {
  const view = new DataView(compressed.buffer, compressed.byteOffset, compressed.length);
  return {
    crc: view.getUint32(compressed.length - 8, true),
    size: view.getUint32(compressed.length - 4, true),
  };
}

describe('crc32', () => {
  it('matches the standard check value and the CRCs fflate writes, at any alignment and length', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    for (const length of [1, 7, 8, 9, 15, 16, 17, 999]) {
      for (const offset of [0, 1, 2, 3]) {
        const bytes = payload.subarray(offset, offset + length);
        expect(crc32(bytes)).toBe(trailer(gzipSync(bytes)).crc);
      }
    }
  });
});

describe('gunzipIfNeeded trailer checks', () => {
  const compressed = gzipSync(payload);
  const { crc, size } = trailer(compressed);

  it('returns the payload when the trailer is right', () => {
    expect(size).toBe(1000);
    expect(gunzipIfNeeded(compressed)).toEqual(payload);
    const named = gzipSync(payload, { filename: 'payload.bin', mtime: 0 });
    expect(gunzipIfNeeded(named)).toEqual(payload);
  });

  it('rejects a wrong CRC32', () => {
    const flipped = withTrailer(compressed, (crc ^ 1) >>> 0, size);
    expect(() => gunzipIfNeeded(flipped, { name: 'data.gz' })).toThrow(
      `data.gz: gzip CRC32 mismatch: the trailer says 0x${((crc ^ 1) >>> 0).toString(16).padStart(8, '0')} but the data inflates to bytes with CRC32 0x${crc.toString(16).padStart(8, '0')} (corrupt data)`,
    );
  });

  it('rejects a corrupted byte in a stored block (which inflates without error)', () => {
    const stored = gzipSync(payload, { level: 0 });
    const corrupted = stored.slice();
    corrupted[500] = corrupted[500]! ^ 0x40;
    expect(() => gunzipIfNeeded(corrupted, { name: 'data.gz' })).toThrow(/^data\.gz: gzip CRC32 mismatch: /);
  });

  it('rejects a trailer size smaller or larger than the inflated data', () => {
    expect(() => gunzipIfNeeded(withTrailer(compressed, crc, 10), { name: 'data.gz' })).toThrow(
      'data.gz: gzip trailer says 10 bytes but the data inflates to 1000 (corrupt or concatenated gzip data)',
    );
    expect(() => gunzipIfNeeded(withTrailer(compressed, crc, 2000), { name: 'data.gz' })).toThrow(
      'data.gz: gzip trailer says 2000 bytes but the data inflates to 1000',
    );
    // With a file name (FNAME) in the header, the true size is still measured past it.
    const named = gzipSync(payload, { filename: 'payload.bin', mtime: 0 });
    expect(() => gunzipIfNeeded(withTrailer(named, crc, 10), { name: 'data.gz' })).toThrow(
      'data.gz: gzip trailer says 10 bytes but the data inflates to 1000',
    );
  });

  it('rejects concatenated gzip members instead of returning part of the data', () => {
    const joined = new Uint8Array([...compressed, ...gzipSync(new Uint8Array([1, 2, 3]))]);
    expect(() => gunzipIfNeeded(joined, { name: 'data.gz' })).toThrow(
      'data.gz: gzip trailer says 3 bytes but the data inflates to 1000',
    );
  });
});
