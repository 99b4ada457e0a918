// Hourglass MLP: wide-narrow-wide residual blocks on a wide stream lifted by a fixed random projection.
//
// Paper: "Rethinking the shape convention of an MLP", Meng-Hsi Chen, Yu-Ang Lee, Feng-Ting Liao,
// Da-shan Shiu (MediaTek Research, National Taiwan University), 2025, arXiv:2510.01796
// (https://arxiv.org/abs/2510.01796).
// No reference code was available: this follows the paper's description. The skip connections run on
// a wide stream z (width d_z) and each block's residual branch goes through a narrow bottleneck d_h < d_z:
//   z_0 = W_in x,   z_{i+1} = z_i + W_up GELU(W_down LN(z_i)),   logits = W_out LN(z_L).
// W_in lifts the flattened image to d_z and, as the paper proposes, stays fixed at its random
// initialisation. Where the paper leaves details open they are our choices, stated here: pre-norm
// LayerNorm (eps 1e-5) and GELU inside the branch, a final LayerNorm before the head, and W_in drawn
// N(0, 1 / d_x) (norms of inputs roughly preserved), without bias.
//
// The fixed projection is a persistent buffer `input_proj.weight` [d_z, d_x] (PyTorch layout): it is
// SAVED in the state dict, not trained, and not counted by `numParameters()`. It is also regenerated
// deterministically from `projectionSeed` at construction, so two models built with the same seed share it
// even before any checkpoint is loaded; a loaded checkpoint's projection replaces it.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  type ForwardOptions,
  init,
  type ModelPreset,
  Module,
  ModuleList,
  Random,
  registerModel,
  resolveIntermediateIndices,
  TRANSPOSED_2D,
} from '@mlzoo/core';
import { Activation, Identity, LayerNorm, Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface HourglassMlpConfig {
  /** Image size, square or [height, width] (default 28). */
  imgSize?: number | readonly [number, number];
  /** Image channels (default 1). */
  inChans?: number;
  /** Classes (default 10; 0 makes `forward` return the normalised stream). */
  numClasses?: number;
  /** Width of the wide residual stream d_z (default 512). */
  wideDim?: number;
  /** Width of each block's bottleneck d_h (default 64). */
  narrowDim?: number;
  /** Number of wide-narrow-wide blocks (default 8). */
  numBlocks?: number;
  /** LayerNorm epsilon (default 1e-5). */
  normEps?: number;
  /** Seed of the fixed random input projection (default 0). */
  projectionSeed?: number;
  /**
   * Train the input projection as an ordinary parameter instead of keeping it fixed (the paper's
   * baseline; default false). Same state-dict key either way.
   */
  trainInputProjection?: boolean;
  /** Generator for the trained weights (default: core's default generator). */
  random?: Random;
}

/**
 * The lift x -> W x (no bias). State dict: `weight` [outFeatures, inFeatures], a persistent buffer
 * (fixed) or a parameter (`trainable`), drawn N(0, 1 / inFeatures) from `seed`.
 */
export class RandomProjection extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Stored [inFeatures, outFeatures]. */
  readonly weight: tf.Variable;

  constructor(options: { inFeatures: number; outFeatures: number; seed: number; trainable?: boolean }) {
    super();
    const { inFeatures, outFeatures } = options;
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    const value = init.normal([inFeatures, outFeatures], {
      std: 1 / Math.sqrt(inFeatures),
      random: new Random(options.seed),
    });
    this.weight = options.trainable
      ? this.addParameter('weight', value, { layout: TRANSPOSED_2D })
      : this.addBuffer('weight', value, { layout: TRANSPOSED_2D });
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.matMul(input as tf.Tensor2D, this.weight as tf.Tensor2D);
  }
}

/**
 * The wide-narrow-wide block: `z + up(GELU(down(norm(z))))` on [B, wideDim].
 * State dict: `norm.*` [d_z], `down.*` [d_h, d_z], `up.*` [d_z, d_h].
 */
export class HourglassBlock extends Module {
  readonly wideDim: number;
  readonly narrowDim: number;
  readonly norm: LayerNorm;
  readonly down: Linear;
  readonly act: Activation;
  readonly up: Linear;

  constructor(options: { wideDim: number; narrowDim: number; normEps?: number; random?: Random }) {
    super();
    const { wideDim, narrowDim, random } = options;
    this.wideDim = wideDim;
    this.narrowDim = narrowDim;
    this.norm = this.addModule(
      'norm',
      new LayerNorm({ normalizedShape: wideDim, eps: options.normEps ?? 1e-5 }),
    );
    this.down = this.addModule('down', new Linear({ inFeatures: wideDim, outFeatures: narrowDim, random }));
    this.act = this.addModule('act', new Activation('gelu'));
    this.up = this.addModule('up', new Linear({ inFeatures: narrowDim, outFeatures: wideDim, random }));
  }

  forward(input: tf.Tensor): tf.Tensor {
    this.checkShape(input, ['B', this.wideDim]);
    return tf.tidy(() =>
      tf.add(input, this.up.forward(this.act.forward(this.down.forward(this.norm.forward(input))))),
    );
  }
}

/**
 * Hourglass MLP classifier on NHWC images (flattened in (h, w, c) order): `input_proj` (fixed) ->
 * `blocks.{i}` -> `norm` -> `head`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { HourglassMlp } from '@mlzoo/mixers';
 *
 * const model = new HourglassMlp({ imgSize: 28, inChans: 1, numClasses: 10, wideDim: 512, narrowDim: 64, numBlocks: 8 });
 * model.numParameters(); // 543242 (the fixed 784 x 512 projection is a buffer)
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class HourglassMlp extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly wideDim: number;
  readonly narrowDim: number;
  readonly numBlocks: number;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'input_proj';
  readonly inputProj: RandomProjection;
  readonly blocks: ModuleList<HourglassBlock>;
  readonly norm: LayerNorm;
  head: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: HourglassMlpConfig = {}) {
    super();
    const size = config.imgSize ?? 28;
    const imgSize: [number, number] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    const inChans = config.inChans ?? 1;
    const numClasses = config.numClasses ?? 10;
    const wideDim = config.wideDim ?? 512;
    const narrowDim = config.narrowDim ?? 64;
    const numBlocks = config.numBlocks ?? 8;
    const normEps = config.normEps ?? 1e-5;
    const projectionSeed = config.projectionSeed ?? 0;
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    // everything is checked before the first variable exists, so a bad config leaks nothing
    const problems = [
      !imgSize.every(positive) && `imgSize must be positive integers, got ${JSON.stringify(size)}`,
      !positive(inChans) && `inChans must be a positive integer, got ${inChans}`,
      !(Number.isInteger(numClasses) && numClasses >= 0) &&
        `numClasses must be a non-negative integer, got ${numClasses}`,
      !positive(wideDim) && `wideDim must be a positive integer, got ${wideDim}`,
      !positive(narrowDim) && `narrowDim must be a positive integer, got ${narrowDim}`,
      !positive(numBlocks) && `numBlocks must be a positive integer, got ${numBlocks}`,
      !(normEps > 0) && `normEps must be positive, got ${normEps}`,
      !Number.isInteger(projectionSeed) && `projectionSeed must be an integer, got ${projectionSeed}`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`HourglassMlp: ${problems.join('; ')}`);
    this.imgSize = imgSize;
    this.inChans = inChans;
    this.wideDim = wideDim;
    this.narrowDim = narrowDim;
    this.numBlocks = numBlocks;
    this.numFeatures = wideDim;
    this.headHiddenSize = wideDim;
    this.#numClasses = numClasses;
    this.#random = config.random;
    const random = this.#random;
    this.inputProj = this.addModule(
      'input_proj',
      new RandomProjection({
        inFeatures: imgSize[0] * imgSize[1] * inChans,
        outFeatures: wideDim,
        seed: projectionSeed,
        trainable: config.trainInputProjection ?? false,
      }),
    );
    this.blocks = this.addModule('blocks', new ModuleList<HourglassBlock>());
    for (let index = 0; index < numBlocks; index++) {
      this.blocks.append(new HourglassBlock({ wideDim, narrowDim, normEps, random }));
    }
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: wideDim, eps: normEps }));
    this.head = this.addModule('head', this.#makeHead(numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.wideDim, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  #run(input: tf.Tensor, last: number, visit?: (index: number, z: tf.Tensor) => void): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    let z = this.inputProj.forward(tf.reshape(input, [input.shape[0]!, -1]));
    for (let index = 0; index <= last; index++) {
      z = this.blocks.at(index).forward(z);
      visit?.(index, z);
    }
    return z;
  }

  /** The normalised wide stream after the last block: [B, H, W, C] -> [B, wideDim]. */
  forwardFeatures(input: tf.Tensor, _options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.norm.forward(this.#run(input, this.numBlocks - 1)));
  }

  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', this.wideDim], 'features');
    return options.preLogits ? features : this.head.forward(features);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** The wide stream [B, wideDim] after the selected blocks (all by default; n = the last n). */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const indices = resolveIntermediateIndices(options.indices, this.numBlocks);
    return tf.tidy(() => {
      const outputs = new Map<number, tf.Tensor>();
      this.#run(input, Math.max(-1, ...indices), (index, z) => outputs.set(index, z));
      return indices.map((index) => outputs.get(index)!);
    });
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    const old = this.setSubmodule('head', this.#makeHead(numClasses));
    old.dispose();
    this.#numClasses = numClasses;
  }
}

// ---- presets -----------------------------------------------------------------------------------

/** Presets of `HourglassMlp` (pure data; counts exclude the fixed projection, a buffer). */
export const HOURGLASS_MLP_PRESETS: Record<string, ModelPreset<HourglassMlpConfig>> = {
  hourglass_mlp_fashion_mnist: {
    config: { imgSize: 28, inChans: 1, numClasses: 10, wideDim: 512, narrowDim: 64, numBlocks: 8 },
    numParameters: 543_242,
    description:
      'Hourglass MLP for 28x28 grayscale images: fixed random lift 784 -> 512, 8 blocks 512-64-512 (the 401,408-value lift is a buffer).',
    paper: 'Rethinking the shape convention of an MLP (arXiv:2510.01796)',
    source: 'mlzoo (from the paper; no reference code)',
    packageName: '@mlzoo/mixers',
  },
};

export const hourglassMlpFashionMnist = (overrides: HourglassMlpConfig = {}) =>
  new HourglassMlp({ ...HOURGLASS_MLP_PRESETS.hourglass_mlp_fashion_mnist!.config, ...overrides });

/** Factory used by the registry. */
export function createHourglassMlp(config: HourglassMlpConfig): HourglassMlp {
  return new HourglassMlp(config);
}

/** Registers every `HOURGLASS_MLP_PRESETS` entry with core's `createModel`. Nothing registers on import. */
export function registerHourglassMlpModels(): void {
  for (const [name, preset] of Object.entries(HOURGLASS_MLP_PRESETS)) {
    registerModel(name, createHourglassMlp, preset);
  }
}
