// Normalisation layers with PyTorch's names and defaults: LayerNorm, RMSNorm, BatchNorm (1d/2d on the
// channel-last axis).
import { type ForwardOptions, init, Module, type TensorModule } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';

export interface LayerNormOptions {
  /** Size of the normalised trailing axis (or axes). */
  normalizedShape: number | readonly number[];
  /** Added to the variance (default 1e-5 as PyTorch; timm's ViTs use 1e-6, Keras 1e-3: set it). */
  eps?: number;
  /** Learn `weight` and `bias` (default true). */
  elementwiseAffine?: boolean;
  /** Learn `bias` when affine (default true). */
  bias?: boolean;
}

function normalizeShape(shape: number | readonly number[]): number[] {
  return typeof shape === 'number' ? [shape] : [...shape];
}

function checkTrailing(module: Module, input: tf.Tensor, trailing: readonly number[]): void {
  const shape = input.shape;
  const tail = shape.slice(shape.length - trailing.length);
  if (shape.length < trailing.length || tail.some((dimension, index) => dimension !== trailing[index])) {
    throw new Error(
      `${module.location}: expected input [..., ${trailing.join(', ')}], got [${shape.join(', ')}]`,
    );
  }
}

/**
 * Layer normalisation over the trailing `normalizedShape` axes (`torch.nn.LayerNorm`):
 * `(x - mean) / sqrt(var + eps) * weight + bias` with the biased variance.
 * State dict: `weight`, `bias` of shape `normalizedShape`.
 */
export class LayerNorm extends Module implements TensorModule {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly weight: tf.Variable | null;
  readonly bias: tf.Variable | null;

  constructor(options: LayerNormOptions) {
    super();
    this.normalizedShape = normalizeShape(options.normalizedShape);
    this.eps = options.eps ?? 1e-5;
    const affine = options.elementwiseAffine ?? true;
    this.weight = affine ? this.addParameter('weight', init.ones(this.normalizedShape)) : null;
    this.bias =
      affine && (options.bias ?? true) ? this.addParameter('bias', init.zeros(this.normalizedShape)) : null;
  }

  forward(input: tf.Tensor): tf.Tensor {
    checkTrailing(this, input, this.normalizedShape);
    return tf.tidy(() => {
      const axes = this.normalizedShape.map((_, index) => input.rank - this.normalizedShape.length + index);
      const mean = tf.mean(input, axes, true);
      const centered = tf.sub(input, mean);
      const variance = tf.mean(tf.square(centered), axes, true);
      let output = tf.mul(centered, tf.rsqrt(tf.add(variance, this.eps)));
      if (this.weight) output = tf.mul(output, this.weight);
      if (this.bias) output = tf.add(output, this.bias);
      return output;
    });
  }
}

export interface RMSNormOptions {
  normalizedShape: number | readonly number[];
  /** Added to the mean square (default 1e-6 as timm's RmsNorm; PyTorch's default is float32 epsilon). */
  eps?: number;
  /** Learn `weight` (default true). */
  elementwiseAffine?: boolean;
}

/**
 * Root-mean-square normalisation (Zhang & Sennrich 2019; `torch.nn.RMSNorm`, timm `RmsNorm`):
 * `x / sqrt(mean(x^2) + eps) * weight` over the trailing axes. State dict: `weight`.
 */
export class RMSNorm extends Module implements TensorModule {
  readonly normalizedShape: number[];
  readonly eps: number;
  readonly weight: tf.Variable | null;

  constructor(options: RMSNormOptions) {
    super();
    this.normalizedShape = normalizeShape(options.normalizedShape);
    this.eps = options.eps ?? 1e-6;
    this.weight =
      (options.elementwiseAffine ?? true)
        ? this.addParameter('weight', init.ones(this.normalizedShape))
        : null;
  }

  forward(input: tf.Tensor): tf.Tensor {
    checkTrailing(this, input, this.normalizedShape);
    return tf.tidy(() => {
      const axes = this.normalizedShape.map((_, index) => input.rank - this.normalizedShape.length + index);
      const meanSquare = tf.mean(tf.square(input), axes, true);
      const output = tf.mul(input, tf.rsqrt(tf.add(meanSquare, this.eps)));
      return this.weight ? tf.mul(output, this.weight) : output;
    });
  }
}

export interface BatchNormOptions {
  /** Number of channels (the last axis). */
  numFeatures: number;
  /** Default 1e-5. */
  eps?: number;
  /** Weight of the new batch statistic in the running average (default 0.1, as PyTorch). */
  momentum?: number;
  /** Learn `weight` and `bias` (default true). */
  affine?: boolean;
  /** Keep `running_mean`, `running_var`, `num_batches_tracked` and use them in eval (default true). */
  trackRunningStats?: boolean;
}

export interface BatchNormForwardOptions extends ForwardOptions {
  /**
   * In training, write the new running statistics into the buffers (default true). Set false for
   * forward passes that must not change the module (gradient checks, a second forward of one batch).
   */
  updateRunningStats?: boolean;
}

/**
 * Batch normalisation over the last (channel) axis: `torch.nn.BatchNorm2d` on NHWC input [B, H, W, C]
 * and `BatchNorm1d` on [B, C] (or [B, L, C], channel last).
 *
 * - Training: normalises with the batch mean and the biased batch variance. When
 *   `updateRunningStats` is on (the default) the forward pass also updates the buffers as PyTorch:
 *   `running = (1 - momentum) * running + momentum * batchStat` with the **unbiased** variance
 *   (n / (n - 1)), and `num_batches_tracked += 1`. The update is a side effect done with
 *   `variable.assign` on values computed apart from the output: it is not part of the output's
 *   graph, so `tf.grad`/`optimizer.minimize` see a pure function of the input and parameters, and
 *   each forward call in training mode counts as one step (as one `module(x)` call in PyTorch).
 * - Eval: normalises with the running statistics.
 *
 * Computed with plain ops (tfjs's fused `batchNorm` has gradient bugs without offset/scale).
 * State dict: `weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked` (int32 here,
 * int64 in PyTorch; loading casts).
 */
export class BatchNorm extends Module implements TensorModule {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly weight: tf.Variable | null;
  readonly bias: tf.Variable | null;
  readonly runningMean: tf.Variable | null;
  readonly runningVar: tf.Variable | null;
  readonly numBatchesTracked: tf.Variable | null;

  constructor(options: BatchNormOptions) {
    super();
    const { numFeatures } = options;
    this.numFeatures = numFeatures;
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    const affine = options.affine ?? true;
    this.weight = affine ? this.addParameter('weight', init.ones([numFeatures])) : null;
    this.bias = affine ? this.addParameter('bias', init.zeros([numFeatures])) : null;
    const track = options.trackRunningStats ?? true;
    this.runningMean = track ? this.addBuffer('running_mean', init.zeros([numFeatures])) : null;
    this.runningVar = track ? this.addBuffer('running_var', init.ones([numFeatures])) : null;
    this.numBatchesTracked = track ? this.addBuffer('num_batches_tracked', tf.scalar(0, 'int32')) : null;
  }

  forward(input: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor {
    const shape = input.shape;
    if (shape.length < 2 || shape[shape.length - 1] !== this.numFeatures) {
      throw new Error(
        `${this.location}: expected input [B, ..., ${this.numFeatures}], got [${shape.join(', ')}]`,
      );
    }
    const useBatchStats = (options.training ?? false) || !this.runningMean;
    return tf.tidy(() => {
      let mean: tf.Tensor;
      let variance: tf.Tensor;
      if (useBatchStats) {
        const axes = shape.slice(0, -1).map((_, index) => index);
        const count = input.size / this.numFeatures;
        mean = tf.mean(input, axes);
        variance = tf.mean(tf.square(tf.sub(input, mean)), axes);
        if (options.training && this.runningMean && (options.updateRunningStats ?? true)) {
          if (count < 2) {
            throw new Error(
              `${this.location}: training needs more than 1 value per channel, got input [${shape.join(', ')}]`,
            );
          }
          this.#updateRunningStats(mean, variance, count);
        }
      } else {
        mean = this.runningMean!;
        variance = this.runningVar!;
      }
      let output = tf.mul(tf.sub(input, mean), tf.rsqrt(tf.add(variance, this.eps)));
      if (this.weight) output = tf.mul(output, this.weight);
      if (this.bias) output = tf.add(output, this.bias);
      return output;
    });
  }

  #updateRunningStats(mean: tf.Tensor, variance: tf.Tensor, count: number): void {
    const momentum = this.momentum;
    tf.tidy(() => {
      const unbiased = tf.mul(variance, count / (count - 1));
      this.runningMean!.assign(tf.add(tf.mul(this.runningMean!, 1 - momentum), tf.mul(mean, momentum)));
      this.runningVar!.assign(tf.add(tf.mul(this.runningVar!, 1 - momentum), tf.mul(unbiased, momentum)));
      this.numBatchesTracked!.assign(tf.add(this.numBatchesTracked!, tf.scalar(1, 'int32')));
    });
  }
}
