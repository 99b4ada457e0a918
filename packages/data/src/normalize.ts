// Per-channel normalisation of channels-last images: (x - mean) / std.
import * as tf from '@tensorflow/tfjs-core';

/**
 * Returns `(images - mean) / std`, per channel along the last axis (NHWC or HWC). `mean` and `std` are
 * one number for every channel or one per channel, e.g. `normalize(x, FASHION_MNIST_MEAN, FASHION_MNIST_STD)`
 * or ImageNet's `normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])`. The input is not disposed.
 */
export function normalize<T extends tf.Tensor>(
  images: T,
  mean: number | readonly number[],
  std: number | readonly number[],
): T {
  if (images.rank === 0) throw new Error('normalize: images must have a channel axis, got a scalar');
  const channels = images.shape[images.rank - 1]!;
  const meanValues = channelValues('mean', mean, channels, images.shape);
  const stdValues = channelValues('std', std, channels, images.shape);
  stdValues.forEach((value, channel) => {
    if (!(value > 0)) throw new Error(`normalize: std must be positive, got ${value} for channel ${channel}`);
  });
  return tf.tidy(() => {
    const input = images.dtype === 'float32' ? images : tf.cast(images, 'float32');
    return tf.div(tf.sub(input, tf.tensor1d(meanValues, 'float32')), tf.tensor1d(stdValues, 'float32')) as T;
  });
}

function channelValues(
  label: string,
  value: number | readonly number[],
  channels: number,
  shape: number[],
): number[] {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`normalize: ${label} must be finite, got ${value}`);
    return new Array<number>(channels).fill(value);
  }
  if (value.length !== channels) {
    throw new Error(
      `normalize: ${label} has ${value.length} values but the images have ${channels} channels (shape [${shape.join(', ')}])`,
    );
  }
  return [...value];
}
