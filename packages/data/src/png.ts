// PNG decoding through pngjs (Node only: pngjs uses node:zlib and Buffer, so this module is exported
// from '@mlzoo/data/node' and never reaches a browser bundle; in a browser, decode images with
// createImageBitmap / a canvas and tf.browser.fromPixels instead).
import * as tf from '@tensorflow/tfjs-core';
import pngjs from 'pngjs';

/** A decoded PNG: `channels` samples per pixel, row-major, 8-bit (Uint8Array) or 16-bit (Uint16Array). */
export interface DecodedPng {
  width: number;
  height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA (palette images give 3, or 4 with a transparency chunk). */
  channels: 1 | 2 | 3 | 4;
  /** 16 for 16-bit images, otherwise 8 (1-, 2- and 4-bit grey is rescaled to 0..255). */
  bitDepth: 8 | 16;
  data: Uint8Array | Uint16Array;
}

/** Options for {@link decodePng}. */
export interface DecodePngOptions {
  /** Name used in error messages (default "PNG"). */
  name?: string;
}

/**
 * Decodes a PNG file of any colour type and bit depth (grey, grey + alpha, RGB, RGBA, palette, 1 to 16
 * bits, interlaced or not), keeping its own number of channels. A palette or colour-key transparency
 * (tRNS) adds an alpha channel.
 */
export function decodePng(bytes: Uint8Array, options: DecodePngOptions = {}): DecodedPng {
  const name = options.name ?? 'PNG';
  let image: ReturnType<typeof pngjs.PNG.sync.read>;
  try {
    image = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
      skipRescale: true,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`${name}: not a valid PNG file (${reason})`);
  }
  const { width, height, depth } = image;
  // pngjs always returns RGBA; keep the channels the file has (a tRNS chunk sets `alpha`).
  const channels = ((image.color ? 3 : 1) + (image.alpha ? 1 : 0)) as 1 | 2 | 3 | 4;
  const sourceChannelIndex = channelIndices(channels);
  const pixelCount = width * height;
  const isPalette = image.palette;
  const bitDepth: 8 | 16 = depth === 16 && !isPalette ? 16 : 8;
  const data =
    bitDepth === 16 ? new Uint16Array(pixelCount * channels) : new Uint8Array(pixelCount * channels);
  const source = image.data as unknown as ArrayLike<number>;
  // With skipRescale, 1/2/4-bit grey samples stay in 0..2^depth-1: scale them as pngjs would.
  const scale = !isPalette && depth < 8 ? 255 / (2 ** depth - 1) : 1;
  for (let pixel = 0; pixel < pixelCount; pixel++) {
    for (let channel = 0; channel < channels; channel++) {
      const sourceChannel = sourceChannelIndex[channel]!;
      const value = source[pixel * 4 + sourceChannel]!;
      // Alpha from a colour key (tRNS) is 0 or 2^depth-1, so it scales like the colour samples.
      data[pixel * channels + channel] = scale === 1 ? value : Math.round(value * scale);
    }
  }
  return { width, height, channels, bitDepth, data };
}

/** Decodes a PNG to a float32 tensor [height, width, channels] with values in [0, 1]. */
export function decodePngToTensor(bytes: Uint8Array, options: DecodePngOptions = {}): tf.Tensor3D {
  const image = decodePng(bytes, options);
  const maximum = image.bitDepth === 16 ? 65535 : 255;
  const values = new Float32Array(image.data.length);
  for (let index = 0; index < values.length; index++) values[index] = image.data[index]! / maximum;
  return tf.tensor3d(values, [image.height, image.width, image.channels], 'float32');
}

function channelIndices(channels: 1 | 2 | 3 | 4): number[] {
  switch (channels) {
    case 1:
      return [0];
    case 2:
      return [0, 3];
    case 3:
      return [0, 1, 2];
    case 4:
      return [0, 1, 2, 3];
  }
}
