// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/, "file formats"):
// a big-endian int32 magic 0x0000TTNN (TT: data type code, NN: number of dimensions), NN big-endian int32
// dimension sizes, then the data in row-major order, big-endian for multi-byte types.
import { gunzipIfNeeded } from './gzip.js';

/** The element types an IDX file can hold, named after the typed array that holds them. */
export type IdxDataType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** A parsed IDX array: its type, its shape and its elements in row-major order (native byte order). */
export interface IdxArray {
  dtype: IdxDataType;
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** Options for {@link parseIdx}. */
export interface ParseIdxOptions {
  /** Name used in error messages, e.g. the file name or URL (default "IDX data"). */
  name?: string;
}

const TYPE_CODES: Record<number, { dtype: IdxDataType; bytes: number }> = {
  8: { dtype: 'uint8', bytes: 1 },
  9: { dtype: 'int8', bytes: 1 },
  11: { dtype: 'int16', bytes: 2 },
  12: { dtype: 'int32', bytes: 4 },
  13: { dtype: 'float32', bytes: 4 },
  14: { dtype: 'float64', bytes: 8 },
};

/**
 * Parses an IDX file (gzip-compressed or not). The input is treated as untrusted: the magic number,
 * the type code, the header length and the data length (which must equal the product of the
 * dimensions times the element size) are checked, and every problem is reported as an error sentence
 * that names the input.
 *
 * @example
 * ```ts
 * import { parseIdx } from '@mlzoo/data';
 * const labels = parseIdx(bytes, { name: 't10k-labels-idx1-ubyte.gz' });
 * labels.shape; // [10000]
 * ```
 */
export function parseIdx(bytes: Uint8Array, options: ParseIdxOptions = {}): IdxArray {
  const name = options.name ?? 'IDX data';
  const raw = gunzipIfNeeded(bytes, { name });
  if (raw.length < 4)
    throw new Error(`${name}: too short for an IDX header (${raw.length} bytes, need at least 4)`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const magic = view.getUint32(0);
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw new Error(
      `${name}: not an IDX file (magic number 0x${hex(magic)} does not start with two zero bytes)`,
    );
  }
  const typeCode = raw[2]!;
  const type = TYPE_CODES[typeCode];
  if (type == null) {
    throw new Error(
      `${name}: unknown IDX data type code 0x${typeCode.toString(16).padStart(2, '0')} in magic number 0x${hex(magic)}` +
        ' (expected 0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e)',
    );
  }
  const numDims = raw[3]!;
  const headerLength = 4 + 4 * numDims;
  if (raw.length < headerLength) {
    throw new Error(
      `${name}: truncated header: the magic number declares ${numDims} dimensions (${headerLength} header bytes) but the data has ${raw.length} bytes`,
    );
  }
  const shape: number[] = [];
  let count = 1;
  for (let dim = 0; dim < numDims; dim++) {
    const size = view.getInt32(4 + 4 * dim);
    if (size < 0) throw new Error(`${name}: dimension ${dim} has a negative size (${size})`);
    shape.push(size);
    count *= size;
  }
  if (count * type.bytes > Number.MAX_SAFE_INTEGER) {
    throw new Error(
      `${name}: dimensions [${shape.join(', ')}] overflow: their product is more elements than any file can hold (above 2^53 bytes)`,
    );
  }
  const dataLength = raw.length - headerLength;
  const expectedLength = count * type.bytes;
  if (expectedLength !== dataLength) {
    const declared = `dimensions [${shape.join(', ')}] of ${type.dtype} need ${expectedLength} data bytes`;
    const problem =
      expectedLength > dataLength
        ? 'the data is truncated or the dimensions are wrong'
        : 'there are trailing bytes';
    throw new Error(`${name}: ${declared} but the file has ${dataLength} after its header (${problem})`);
  }
  // Decompressed bytes are ours to keep; caller-owned bytes are copied so the result never aliases them.
  const owned = raw !== bytes;
  return { dtype: type.dtype, shape, data: readElements(view, headerLength, count, type.dtype, owned) };
}

function readElements(
  view: DataView,
  offset: number,
  count: number,
  dtype: IdxDataType,
  owned: boolean,
): IdxArray['data'] {
  switch (dtype) {
    case 'uint8': {
      const elements = new Uint8Array(view.buffer, view.byteOffset + offset, count);
      return owned ? elements : elements.slice();
    }
    case 'int8': {
      const elements = new Int8Array(view.buffer, view.byteOffset + offset, count);
      return owned ? elements : elements.slice();
    }
    case 'int16': {
      const out = new Int16Array(count);
      for (let index = 0; index < count; index++) out[index] = view.getInt16(offset + 2 * index);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let index = 0; index < count; index++) out[index] = view.getInt32(offset + 4 * index);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let index = 0; index < count; index++) out[index] = view.getFloat32(offset + 4 * index);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let index = 0; index < count; index++) out[index] = view.getFloat64(offset + 8 * index);
      return out;
    }
  }
}

function hex(value: number): string {
  return value.toString(16).padStart(8, '0');
}
