import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  decodeSafetensorsWithMetadata,
  encodeSafetensors,
  readSafetensorsHeader,
} from '../src/index.js';

/** Builds a raw safetensors file from a header object and data bytes, to craft hostile inputs. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const f32 = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

describe('safetensors', () => {
  it('round-trips float32, int32 and bool tensors with metadata', () => {
    const tensors = {
      'blocks.0.weight': tf.tensor2d([
        [1, -2.5],
        [3, 4e-8],
      ]),
      steps: tf.tensor1d([7, -9], 'int32'),
      mask: tf.tensor1d([true, false, true], 'bool'),
      scalar: tf.scalar(3.5),
      empty: tf.zeros([0, 4]),
    };
    const bytes = encodeSafetensors(tensors, { format: 'pt', note: 'hello' });
    const decoded = decodeSafetensorsWithMetadata(bytes);
    expect(decoded.metadata).toEqual({ format: 'pt', note: 'hello' });
    for (const [name, tensor] of Object.entries(tensors)) {
      const other = decoded.tensors[name]!;
      expect(other.shape).toEqual(tensor.shape);
      expect(other.dtype).toBe(tensor.dtype);
      expect(Array.from(other.dataSync())).toEqual(Array.from(tensor.dataSync()));
    }
    // data section is 8-byte aligned like the reference writer's output
    expect(readSafetensorsHeader(bytes).dataStart % 8).toBe(0);
    tf.dispose([...Object.values(tensors), ...Object.values(decoded.tensors)]);
  });

  it('encodes F16 and BF16 and decodes them to float32', () => {
    const values = [0, 1, -2, 0.5, 65504, 1e-5, -0.333251953125];
    const tensor = tf.tensor1d(values);
    for (const floatDtype of ['F16', 'BF16'] as const) {
      const bytes = encodeSafetensors({ x: tensor }, undefined, { floatDtype });
      expect(readSafetensorsHeader(bytes).tensors.get('x')!.dtype).toBe(floatDtype);
      const decoded = decodeSafetensors(bytes).x!;
      const tolerance = floatDtype === 'F16' ? 1e-3 : 8e-3;
      Array.from(decoded.dataSync()).forEach((value, index) => {
        expect(Math.abs(value - values[index]!)).toBeLessThanOrEqual(
          Math.abs(values[index]!) * tolerance + 1e-7,
        );
      });
      decoded.dispose();
    }
    tensor.dispose();
  });

  it('decodes integer types from other writers, with int64 range checks', () => {
    const i64 = new Uint8Array(new BigInt64Array([5n, -3n]).buffer);
    const decoded = decodeSafetensors(
      rawFile({ n: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, i64),
    );
    expect(Array.from(decoded.n!.dataSync())).toEqual([5, -3]);
    decoded.n!.dispose();
    const big = new Uint8Array(new BigInt64Array([2n ** 40n]).buffer);
    expect(() =>
      decodeSafetensors(rawFile({ n: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, big)),
    ).toThrow(/outside the int32 range/);
  });

  it('round-trips a tensor named __proto__ through encode and decode', () => {
    const name = '__proto__'; // a legal tensor name that a plain object would turn into a prototype
    const tensors: Record<string, tf.Tensor> = Object.create(null);
    tensors[name] = tf.tensor1d([1, 2]);
    tensors.a = tf.tensor1d([3]);
    const decoded = decodeSafetensors(encodeSafetensors(tensors));
    expect(Object.keys(decoded).sort()).toEqual(['__proto__', 'a']);
    expect(Array.from(decoded[name]!.dataSync())).toEqual([1, 2]);
    tf.dispose([...Object.values(tensors), ...Object.values(decoded)]);
  });

  it('accepts zero-size tensors listed before others at the same offset', () => {
    const bytes = rawFile(
      {
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        b: { dtype: 'F32', shape: [0], data_offsets: [0, 0] },
      },
      f32([5]),
    );
    const decoded = decodeSafetensors(bytes);
    expect(decoded.b!.shape).toEqual([0]);
    expect(Array.from(decoded.a!.dataSync())).toEqual([5]);
    tf.dispose(Object.values(decoded));
  });

  it('keeps header names away from object prototypes', () => {
    const decoded = decodeSafetensors(
      rawFile({ ['__proto__']: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32([2])),
    );
    expect(Object.getPrototypeOf(decoded)).toBe(null);
    expect(Object.keys(decoded)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).dtype).toBeUndefined();
    tf.dispose(Object.values(decoded));
  });

  const corrupt: Array<[string, Uint8Array, RegExp]> = [
    ['a file shorter than 8 bytes', new Uint8Array(4), /shorter than the 8-byte header length/],
    [
      'a header longer than the file',
      (() => {
        const b = rawFile({});
        new DataView(b.buffer).setUint32(0, 999, true);
        return b;
      })(),
      /header claims 999 bytes/,
    ],
    [
      'a 64-bit header length',
      (() => {
        const b = rawFile({});
        new DataView(b.buffer).setUint32(4, 1, true);
        return b;
      })(),
      /does not fit in 32 bits/,
    ],
    ['invalid JSON', rawFile(null, undefined, '{"a": '), /not valid JSON/],
    ['a JSON array header', rawFile([1, 2]), /not a JSON object/],
    [
      'an unknown dtype',
      rawFile({ x: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
      /unknown dtype "F8"/,
    ],
    [
      'a negative dimension',
      rawFile({ x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, f32([1])),
      /invalid shape/,
    ],
    [
      'fractional offsets',
      rawFile({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4.5] } }, f32([1])),
      /invalid data_offsets/,
    ],
    [
      'offsets past the end',
      rawFile({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f32([1])),
      /run past the data section/,
    ],
    [
      'a size that does not match the shape',
      rawFile({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, f32([1, 2])),
      /needs 12 bytes but data_offsets span 8/,
    ],
    [
      'overlapping tensors',
      rawFile(
        {
          a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
          b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
        },
        f32([1, 2]),
      ),
      /overlaps/,
    ],
    [
      'a gap in the data',
      rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f32([1, 2])),
      /gap of 4 bytes/,
    ],
    [
      'trailing bytes',
      rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f32([1, 2])),
      /4 bytes not covered/,
    ],
    ['non-string metadata', rawFile({ __metadata__: { epoch: 3 } }), /value for 'epoch' is not a string/],
    [
      'a BOOL byte that is not 0 or 1',
      rawFile({ b: { dtype: 'BOOL', shape: [1], data_offsets: [0, 1] } }, new Uint8Array([7])),
      /holds the byte 7/,
    ],
  ];
  it.each(corrupt)('rejects %s with a sentence', (_, bytes, message) => {
    const before = tf.memory().numTensors;
    expect(() => decodeSafetensors(bytes)).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('bounds the header size', () => {
    const bytes = rawFile({ __metadata__: { padding: 'x'.repeat(2000) } });
    expect(() => decodeSafetensors(bytes, { maxHeaderBytes: 1024 })).toThrow(/exceeds the 1024-byte limit/);
  });
});
