// Gzip detection and decompression for dataset files, through fflate (browser-safe, no node:zlib).
import { gunzipSync } from 'fflate';

/** Options for {@link gunzipIfNeeded}. */
export interface GunzipOptions {
  /** Name used in error messages (a file name or URL). */
  name?: string;
  /** Refuse data whose gzip trailer declares more bytes than this (default 1 GiB). */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 2 ** 30;

/** True when `bytes` starts with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Returns `bytes` unchanged unless they start with the gzip magic number, in which case they are
 * decompressed. Corrupt or truncated gzip data is rejected with an error naming the input.
 */
export function gunzipIfNeeded(bytes: Uint8Array, options: GunzipOptions = {}): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  const name = options.name ?? 'gzip data';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  // A gzip member is at least a 10-byte header and an 8-byte trailer (CRC32, size modulo 2^32).
  if (bytes.length < 18) throw new Error(`${name}: gzip data is truncated (${bytes.length} bytes)`);
  const end = bytes.length;
  const declaredSize =
    (bytes[end - 4]! | (bytes[end - 3]! << 8) | (bytes[end - 2]! << 16) | (bytes[end - 1]! << 24)) >>> 0;
  if (declaredSize > maxBytes) {
    throw new Error(
      `${name}: gzip trailer declares ${declaredSize} decompressed bytes, more than the limit of ${maxBytes}`,
    );
  }
  try {
    return gunzipSync(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${name}: gzip data is corrupt or truncated (${reason})`);
  }
}
