// safetensors (https://github.com/huggingface/safetensors): 8-byte little-endian header length, a JSON
// header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}, then the
// raw little-endian bytes. Files come from outside: everything in the header is validated before any
// tensor is made, and anything unexpected is rejected with a sentence that says what is wrong.
import * as tf from '@tensorflow/tfjs-core';

export type SafetensorsDtype =
  | 'BOOL'
  | 'U8'
  | 'I8'
  | 'I16'
  | 'U16'
  | 'F16'
  | 'BF16'
  | 'I32'
  | 'U32'
  | 'F32'
  | 'F64'
  | 'I64'
  | 'U64';

const ITEM_SIZE: Record<SafetensorsDtype, number> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

/** One tensor's header entry. */
export interface SafetensorsEntry {
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range relative to the start of the data section. */
  dataOffsets: [number, number];
}

export interface SafetensorsHeader {
  /** Tensor entries by name, in file order. */
  tensors: Map<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Byte offset of the data section in the file. */
  dataStart: number;
}

export interface DecodeOptions {
  /** Largest header accepted, in bytes (default 100 MiB, as the reference implementation). */
  maxHeaderBytes?: number;
}

export interface EncodeOptions {
  /** Storage type for float32 tensors (default F32). F16 and BF16 halve the file. */
  floatDtype?: 'F32' | 'F16' | 'BF16';
}

const DEFAULT_MAX_HEADER = 100 * 1024 * 1024;
const METADATA_KEY = '__metadata__';

function fail(message: string): never {
  throw new Error(`safetensors: ${message}`);
}

function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === 'string' && Object.hasOwn(ITEM_SIZE, value);
}

function readHeaderLength(bytes: Uint8Array): number {
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  if (high !== 0) fail('header length does not fit in 32 bits (corrupt file or not safetensors)');
  return low;
}

/**
 * Parses and validates the header without touching the tensor data. Throws on: a header longer than
 * the file or the limit, invalid JSON or UTF-8, unknown dtypes, bad shapes, offsets out of range,
 * overlapping, unordered or leaving gaps, a byte count that does not match dtype x shape, or metadata
 * that is not string to string.
 */
export function readSafetensorsHeader(bytes: Uint8Array, options: DecodeOptions = {}): SafetensorsHeader {
  if (!(bytes instanceof Uint8Array)) fail('expected a Uint8Array of the file bytes');
  const headerLength = readHeaderLength(bytes);
  const maxHeader = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  if (headerLength === 0) fail('header is empty');
  if (headerLength > maxHeader) fail(`header of ${headerLength} bytes exceeds the ${maxHeader}-byte limit`);
  if (8 + headerLength > bytes.byteLength) {
    fail(
      `header claims ${headerLength} bytes but the file has only ${bytes.byteLength - 8} after the length`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail('header is not valid UTF-8');
  }
  if (!text.trimStart().startsWith('{')) fail('header is not a JSON object');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    fail(`header is not valid JSON (${(error as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    fail('header is not a JSON object');

  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const metadata: Record<string, string> = Object.create(null);
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
        fail('__metadata__ is not an object');
      for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(`__metadata__ value for '${key}' is not a string`);
        metadata[key] = value;
      }
      continue;
    }
    if (name.length === 0) fail('a tensor has an empty name');
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
      fail(`entry '${name}' is not an object`);
    const entry = raw as Record<string, unknown>;
    const { dtype, shape, data_offsets: offsets } = entry;
    if (!isDtype(dtype)) fail(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
    if (
      !Array.isArray(shape) ||
      !shape.every((dimension) => Number.isSafeInteger(dimension) && dimension >= 0)
    ) {
      fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0)
    ) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) fail(`tensor '${name}' has data_offsets [${begin}, ${end}] that run backwards`);
    if (end > dataLength) {
      fail(
        `tensor '${name}' data_offsets [${begin}, ${end}] run past the data section of ${dataLength} bytes`,
      );
    }
    let elements = 1;
    for (const dimension of shape as number[]) {
      elements *= dimension;
      if (!Number.isSafeInteger(elements))
        fail(`tensor '${name}' shape ${JSON.stringify(shape)} is too large`);
    }
    const expected = elements * ITEM_SIZE[dtype];
    if (end - begin !== expected) {
      fail(
        `tensor '${name}' (${dtype} ${JSON.stringify(shape)}) needs ${expected} bytes but data_offsets span ${end - begin}`,
      );
    }
    tensors.set(name, { dtype, shape: [...(shape as number[])], dataOffsets: [begin, end] });
  }

  // The data section must be covered exactly: ordered, no overlap, no gaps, nothing trailing.
  const ranges = [...tensors.entries()].sort(
    (left, right) =>
      left[1].dataOffsets[0] - right[1].dataOffsets[0] || left[1].dataOffsets[1] - right[1].dataOffsets[1],
  );
  let cursor = 0;
  for (const [name, entry] of ranges) {
    const [begin, end] = entry.dataOffsets;
    if (begin < cursor)
      fail(`tensor '${name}' overlaps the tensor before it (starts at ${begin}, previous ends at ${cursor})`);
    if (begin > cursor) fail(`gap of ${begin - cursor} bytes in the data section before tensor '${name}'`);
    cursor = end;
  }
  if (cursor !== dataLength) fail(`data section has ${dataLength - cursor} bytes not covered by any tensor`);
  return { tensors, metadata, dataStart };
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function copyOut(bytes: Uint8Array, begin: number, end: number): ArrayBuffer {
  return bytes.slice(begin, end).buffer;
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

let halfTable: Float32Array | null = null;
function halfLookup(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) halfTable[bits] = halfToFloat(bits);
  }
  return halfTable;
}

function floatToHalf(value: number): number {
  const floatView = new Float32Array(1);
  const intView = new Uint32Array(floatView.buffer);
  floatView[0] = value;
  const x = intView[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    let half = mantissa >> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (remainder > halfway || (remainder === halfway && half & 1)) half++;
    return sign | half;
  }
  let half = (halfExponent << 10) | (mantissa >> 13);
  const remainder = mantissa & 0x1fff;
  if (remainder > 0x1000 || (remainder === 0x1000 && half & 1)) half++;
  if ((half & 0x7c00) === 0x7c00) halfExponent = 0x1f;
  return sign | half;
}

function decodeValues(entry: SafetensorsEntry, name: string, bytes: Uint8Array, dataStart: number) {
  const begin = dataStart + entry.dataOffsets[0];
  const end = dataStart + entry.dataOffsets[1];
  const count = (end - begin) / ITEM_SIZE[entry.dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset + begin, end - begin);
  switch (entry.dtype) {
    case 'F32':
      if (littleEndian)
        return { values: new Float32Array(copyOut(bytes, begin, end)), dtype: 'float32' as const };
      return {
        values: Float32Array.from({ length: count }, (_, i) => view.getFloat32(i * 4, true)),
        dtype: 'float32' as const,
      };
    case 'F64':
      return {
        values: Float32Array.from({ length: count }, (_, i) => view.getFloat64(i * 8, true)),
        dtype: 'float32' as const,
      };
    case 'F16': {
      const table = halfLookup();
      const values = new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = table[view.getUint16(i * 2, true)]!;
      return { values, dtype: 'float32' as const };
    }
    case 'BF16': {
      const words = new Uint32Array(count);
      for (let i = 0; i < count; i++) words[i] = view.getUint16(i * 2, true) << 16;
      return { values: new Float32Array(words.buffer), dtype: 'float32' as const };
    }
    case 'BOOL': {
      const values = new Uint8Array(count);
      for (let i = 0; i < count; i++) {
        const byte = view.getUint8(i);
        if (byte > 1) fail(`tensor '${name}' is BOOL but holds the byte ${byte}`);
        values[i] = byte;
      }
      return { values, dtype: 'bool' as const };
    }
    case 'U8':
      return { values: Int32Array.from(bytes.subarray(begin, end)), dtype: 'int32' as const };
    case 'I8':
      return {
        values: Int32Array.from({ length: count }, (_, i) => view.getInt8(i)),
        dtype: 'int32' as const,
      };
    case 'I16':
      return {
        values: Int32Array.from({ length: count }, (_, i) => view.getInt16(i * 2, true)),
        dtype: 'int32' as const,
      };
    case 'U16':
      return {
        values: Int32Array.from({ length: count }, (_, i) => view.getUint16(i * 2, true)),
        dtype: 'int32' as const,
      };
    case 'I32':
      return {
        values: Int32Array.from({ length: count }, (_, i) => view.getInt32(i * 4, true)),
        dtype: 'int32' as const,
      };
    case 'U32':
    case 'I64':
    case 'U64': {
      const values = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const value =
          entry.dtype === 'U32'
            ? BigInt(view.getUint32(i * 4, true))
            : entry.dtype === 'I64'
              ? view.getBigInt64(i * 8, true)
              : view.getBigUint64(i * 8, true);
        if (value > 2147483647n || value < -2147483648n) {
          fail(`tensor '${name}' (${entry.dtype}) holds ${value}, outside the int32 range tfjs supports`);
        }
        values[i] = Number(value);
      }
      return { values, dtype: 'int32' as const };
    }
  }
}

/**
 * Decodes a safetensors file into tensors (float types to float32, integer types to int32, BOOL to
 * bool). The result has no prototype, so header names such as `__proto__` stay plain keys.
 *
 * @example
 * ```ts
 * import { decodeSafetensors } from '@mlzoo/core';
 * const tensors = decodeSafetensors(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 * model.loadStateDict(tensors);
 * ```
 */
export function decodeSafetensors(bytes: Uint8Array, options: DecodeOptions = {}): Record<string, tf.Tensor> {
  return decodeSafetensorsWithMetadata(bytes, options).tensors;
}

/** Like {@link decodeSafetensors}, also returning the `__metadata__` strings. */
export function decodeSafetensorsWithMetadata(
  bytes: Uint8Array,
  options: DecodeOptions = {},
): { tensors: Record<string, tf.Tensor>; metadata: Record<string, string> } {
  const header = readSafetensorsHeader(bytes, options);
  const tensors: Record<string, tf.Tensor> = Object.create(null);
  try {
    for (const [name, entry] of header.tensors) {
      const { values, dtype } = decodeValues(entry, name, bytes, header.dataStart);
      tensors[name] = tf.tensor(values, entry.shape, dtype);
    }
  } catch (error) {
    tf.dispose(Object.values(tensors));
    throw error;
  }
  return { tensors, metadata: header.metadata };
}

interface EncodedTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  bytes: Uint8Array;
}

function encodeValues(
  name: string,
  tensor: tf.Tensor,
  values: tf.TypedArray | string[],
  options: EncodeOptions,
) {
  const shape = [...tensor.shape];
  switch (tensor.dtype) {
    case 'float32': {
      const floats = values as Float32Array;
      const floatDtype = options.floatDtype ?? 'F32';
      if (floatDtype === 'F32') {
        return {
          name,
          dtype: 'F32',
          shape,
          bytes: new Uint8Array(Float32Array.from(floats).buffer),
        } as EncodedTensor;
      }
      const out = new Uint16Array(floats.length);
      if (floatDtype === 'F16') {
        for (let i = 0; i < floats.length; i++) out[i] = floatToHalf(floats[i]!);
      } else {
        const words = new Uint32Array(Float32Array.from(floats).buffer);
        for (let i = 0; i < words.length; i++) {
          const word = words[i]!;
          // round to nearest even, keeping NaN a NaN
          out[i] =
            (word & 0x7fffffff) > 0x7f800000
              ? (word >>> 16) | 0x40
              : (word + 0x7fff + ((word >>> 16) & 1)) >>> 16;
        }
      }
      return { name, dtype: floatDtype, shape, bytes: new Uint8Array(out.buffer) } as EncodedTensor;
    }
    case 'int32':
      return {
        name,
        dtype: 'I32',
        shape,
        bytes: new Uint8Array(Int32Array.from(values as Int32Array).buffer),
      } as EncodedTensor;
    case 'bool':
      return { name, dtype: 'BOOL', shape, bytes: Uint8Array.from(values as Uint8Array) } as EncodedTensor;
    default:
      fail(`cannot encode tensor '${name}' of dtype ${tensor.dtype}`);
  }
}

function assemble(encoded: EncodedTensor[], metadata: Record<string, string> | undefined): Uint8Array {
  // No prototype: a tensor named '__proto__' must become a key, as decoding treats it.
  const header: Record<string, unknown> = Object.create(null);
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') fail(`metadata value for '${key}' must be a string`);
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const tensor of encoded) {
    header[tensor.name] = {
      dtype: tensor.dtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + tensor.bytes.byteLength],
    };
    offset += tensor.bytes.byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces so the data section starts 8-byte aligned, as the reference writer does.
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const withPadding = new Uint8Array(padded).fill(0x20);
    withPadding.set(json);
    json = withPadding;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.byteLength, true);
  view.setUint32(4, 0, true);
  out.set(json, 8);
  let cursor = 8 + json.byteLength;
  for (const tensor of encoded) {
    out.set(tensor.bytes, cursor);
    cursor += tensor.bytes.byteLength;
  }
  return out;
}

function checkTensors(tensors: Record<string, tf.Tensor>): Array<[string, tf.Tensor]> {
  const entries = Object.entries(tensors);
  for (const [name, tensor] of entries) {
    if (name === METADATA_KEY) fail(`'${METADATA_KEY}' is reserved and cannot name a tensor`);
    if (name.length === 0) fail('tensor names must not be empty');
    if (!(tensor instanceof tf.Tensor)) fail(`'${name}' is not a tensor`);
    if (tensor.isDisposed) fail(`tensor '${name}' is disposed`);
  }
  return entries;
}

/**
 * Encodes tensors (float32, int32, bool) and optional string metadata as a safetensors file. Reads
 * tensor data synchronously: on webgpu use {@link encodeSafetensorsAsync}.
 */
export function encodeSafetensors(
  tensors: Record<string, tf.Tensor>,
  metadata?: Record<string, string>,
  options: EncodeOptions = {},
): Uint8Array {
  const encoded = checkTensors(tensors).map(([name, tensor]) =>
    encodeValues(name, tensor, tensor.dataSync(), options),
  );
  return assemble(encoded, metadata);
}

/** {@link encodeSafetensors} reading tensor data asynchronously (required on webgpu). */
export async function encodeSafetensorsAsync(
  tensors: Record<string, tf.Tensor>,
  metadata?: Record<string, string>,
  options: EncodeOptions = {},
): Promise<Uint8Array> {
  const encoded: EncodedTensor[] = [];
  for (const [name, tensor] of checkTensors(tensors)) {
    encoded.push(encodeValues(name, tensor, await tensor.data(), options));
  }
  return assemble(encoded, metadata);
}

/** Progress of one download or file read. `totalBytes` is undefined when the server sends no length. */
export interface FetchProgress {
  /** The URL or path being read. */
  source: string;
  loadedBytes: number;
  totalBytes: number | undefined;
}

export interface FetchBytesOptions {
  /** Called as bytes arrive, and once more when the download is complete. */
  onProgress?: (progress: FetchProgress) => void;
  signal?: AbortSignal;
  /** fetch implementation (default: the global fetch), e.g. one that adds headers. */
  fetch?: typeof globalThis.fetch;
  /** Extra request options (headers for private hubs, cache mode). */
  requestInit?: RequestInit;
}

export interface LoadFromUrlOptions extends DecodeOptions, FetchBytesOptions {}

/** Fetches `url` into memory, reporting progress; network failures and non-2xx answers name the URL. */
export async function fetchBytes(url: string | URL, options: FetchBytesOptions = {}): Promise<Uint8Array> {
  const source = String(url);
  const fetchFunction = options.fetch ?? globalThis.fetch;
  if (typeof fetchFunction !== 'function')
    throw new Error(`fetchBytes: no fetch function available to load ${source}`);
  let response: Response;
  try {
    response = await fetchFunction(url, {
      ...options.requestInit,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    throw new Error(`${source}: request failed (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!response.ok)
    throw new Error(`${source}: server answered ${response.status} ${response.statusText}`.trimEnd());
  const lengthHeader = response.headers.get('content-length');
  const declared = lengthHeader == null ? Number.NaN : Number(lengthHeader);
  const totalBytes = Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined;
  const onProgress = options.onProgress;
  if (response.body == null) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onProgress?.({ source, loadedBytes: bytes.byteLength, totalBytes: bytes.byteLength });
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loadedBytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loadedBytes += value.byteLength;
    onProgress?.({ source, loadedBytes, totalBytes });
  }
  const bytes = new Uint8Array(loadedBytes);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  onProgress?.({ source, loadedBytes, totalBytes: loadedBytes });
  return bytes;
}

/** Downloads and decodes a safetensors file, with a progress callback. */
export async function loadSafetensorsFromUrl(
  url: string | URL,
  options: LoadFromUrlOptions = {},
): Promise<Record<string, tf.Tensor>> {
  const bytes = await fetchBytes(url, options);
  try {
    return decodeSafetensors(bytes, options);
  } catch (error) {
    throw new Error(`${String(url)}: ${(error as Error).message}`);
  }
}

/** Decodes a safetensors file held in an ArrayBuffer (e.g. from a file input or IndexedDB). */
export function loadSafetensorsFromBuffer(buffer: ArrayBuffer | Uint8Array, options: DecodeOptions = {}) {
  return decodeSafetensors(buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer), options);
}
