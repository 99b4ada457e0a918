// ResMLP: residual MLP blocks with an affine "norm", a single linear token-mixing layer and LayerScale.
//
// Paper: "ResMLP: Feedforward networks for image classification with data-efficient training",
// Touvron, Bojanowski, Caron, Cord, El-Nouby, Grave, Izacard, Joulin, Synnaeve, Verbeek, Jégou,
// IEEE TPAMI 2022, arXiv:2105.03404 (https://arxiv.org/abs/2105.03404).
// Reference implementation: timm `timm/models/mlp_mixer.py` (`MlpMixer` with `ResBlock` and `Affine`):
// parameter names are timm's state-dict keys (`blocks.{i}.norm1.alpha`, `linear_tokens`, `ls1`, ...).
// Facebook's original checkpoints (`patch_embed`, `attn`, `mlp`, `gamma_1`, alpha [C]) need timm's
// key remap first: `resmlpKeyFromFacebook` below does it.
import {
  type ForwardOptions,
  init,
  type ModelPreset,
  Module,
  type Random,
  registerModel,
  type TensorModule,
} from '@mlzoo/core';
import { DropPath, Linear, Mlp } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';
import {
  type PatchMlpBlock,
  PatchMlpClassifier,
  type PatchMlpConfig,
  residual,
  swapTokensAndChannels,
} from './mlp-mixer.js';

export interface ResMlpConfig extends PatchMlpConfig {
  /** Channel MLP width as a multiple of embedDim (default 4). */
  mlpRatio?: number;
  /** Initial LayerScale value of ls1 and ls2 (default 1e-4, timm's; resmlp_24 uses 1e-5). */
  initValues?: number;
}

/** timm's `Affine`: `alpha * x + beta` per channel; state dict `alpha`, `beta` of shape [1, 1, C]. */
export class Affine extends Module implements TensorModule {
  readonly dim: number;
  readonly alpha: tf.Variable;
  readonly beta: tf.Variable;

  constructor(dim: number) {
    super();
    if (!(Number.isInteger(dim) && dim > 0))
      throw new Error(`Affine: dim must be a positive integer, got ${dim}`);
    this.dim = dim;
    this.alpha = this.addParameter('alpha', init.ones([1, 1, dim]));
    this.beta = this.addParameter('beta', init.zeros([1, 1, dim]));
  }

  forward(input: tf.Tensor): tf.Tensor {
    if (input.shape[input.rank - 1] !== this.dim) {
      throw new Error(`${this.location}: expected input [..., ${this.dim}], got [${input.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      // [1, 1, C] broadcasts against [B, N, C]; other ranks use the [C] vector
      const alpha = input.rank === 3 ? this.alpha : tf.reshape(this.alpha, [this.dim]);
      const beta = input.rank === 3 ? this.beta : tf.reshape(this.beta, [this.dim]);
      return tf.add(tf.mul(input, alpha), beta);
    });
  }
}

export interface ResBlockOptions {
  dim: number;
  seqLen: number;
  mlpRatio?: number;
  initValues?: number;
  dropRate?: number;
  dropPathRate?: number;
  random?: Random;
}

/**
 * timm's `ResBlock` on [B, N, C]: `x + ls1 * linear_tokens(norm1(x)^T)^T`, then
 * `x + ls2 * mlp_channels(norm2(x))`. State dict: `norm1.{alpha,beta}`, `linear_tokens.*` [N, N],
 * `norm2.*`, `mlp_channels.fc1.*`, `mlp_channels.fc2.*`, `ls1`, `ls2` [C].
 */
export class ResBlock extends Module implements PatchMlpBlock {
  readonly dim: number;
  readonly seqLen: number;
  readonly norm1: Affine;
  readonly linearTokens: Linear;
  readonly norm2: Affine;
  readonly mlpChannels: Mlp;
  readonly ls1: tf.Variable;
  readonly ls2: tf.Variable;
  readonly dropPath: DropPath | null;

  constructor(options: ResBlockOptions) {
    super();
    const { dim, seqLen, random } = options;
    const hidden = Math.floor(dim * (options.mlpRatio ?? 4));
    if (!(hidden > 0)) throw new Error(`ResBlock: mlpRatio ${options.mlpRatio} gives hidden width ${hidden}`);
    const initValues = options.initValues ?? 1e-4;
    this.dim = dim;
    this.seqLen = seqLen;
    this.norm1 = this.addModule('norm1', new Affine(dim));
    this.linearTokens = this.addModule(
      'linear_tokens',
      new Linear({ inFeatures: seqLen, outFeatures: seqLen, random }),
    );
    this.dropPath = options.dropPathRate
      ? this.addModule('drop_path', new DropPath({ probability: options.dropPathRate, random }))
      : null;
    this.norm2 = this.addModule('norm2', new Affine(dim));
    this.mlpChannels = this.addModule(
      'mlp_channels',
      new Mlp({ inFeatures: dim, hiddenFeatures: hidden, dropRate: options.dropRate ?? 0, random }),
    );
    this.ls1 = this.addParameter('ls1', init.constant([dim], initValues));
    this.ls2 = this.addParameter('ls2', init.constant([dim], initValues));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.seqLen, this.dim]);
    return tf.tidy(() => {
      const tokens = swapTokensAndChannels(
        this.linearTokens.forward(swapTokensAndChannels(this.norm1.forward(input))),
      );
      const x = residual(input, tf.mul(this.ls1, tokens), this.dropPath, options);
      const channels = this.mlpChannels.forward(this.norm2.forward(x), options);
      return residual(x, tf.mul(this.ls2, channels), this.dropPath, options);
    });
  }
}

/**
 * ResMLP (timm `MlpMixer` with `ResBlock`, `Affine` block and final norms). State dict as timm's:
 * `stem.proj.*`, `blocks.{i}.norm1.alpha` [1, 1, C], `blocks.{i}.linear_tokens.*`, `blocks.{i}.ls1`,
 * ..., `norm.alpha`, `norm.beta`, `head.*`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { ResMlp } from '@mlzoo/mixers';
 *
 * const model = new ResMlp({ imgSize: 28, patchSize: 4, inChans: 1, numClasses: 10, embedDim: 128,
 *   numBlocks: 6, mlpRatio: 2, initValues: 0.1 });
 * model.numParameters(); // 418550
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class ResMlp extends PatchMlpClassifier {
  readonly mlpRatio: number;
  readonly initValues: number;

  constructor(config: ResMlpConfig = {}) {
    const mlpRatio = config.mlpRatio ?? 4;
    const initValues = config.initValues ?? 1e-4;
    const dim = config.embedDim ?? 512;
    super(config, {
      name: 'ResMlp',
      problems: [
        !(Math.floor(mlpRatio * dim) > 0) &&
          `mlpRatio ${mlpRatio} must give a positive hidden width for embedDim ${dim}`,
        !Number.isFinite(initValues) && `initValues must be a finite number, got ${initValues}`,
      ],
      createBlock: (context) => new ResBlock({ ...context, mlpRatio, initValues }),
      createNorm: (width) => new Affine(width),
    });
    this.mlpRatio = mlpRatio;
    this.initValues = initValues;
  }
}

/**
 * timm's `checkpoint_filter_fn` key remap for Facebook's original ResMLP checkpoints
 * (`resmlp_12_no_dist.pth` and friends): `patch_embed.` -> `stem.`, `attn.` -> `linear_tokens.`,
 * `mlp.` -> `mlp_channels.`, `gamma_` -> `ls`. Their alpha/beta are [C]: reshape to [1, 1, C].
 */
export function resmlpKeyFromFacebook(key: string): string {
  return key
    .replace('patch_embed.', 'stem.')
    .replace('attn.', 'linear_tokens.')
    .replace('mlp.', 'mlp_channels.')
    .replace('gamma_', 'ls');
}

// ---- presets -----------------------------------------------------------------------------------

const PAPER =
  'ResMLP: Feedforward networks for image classification with data-efficient training (arXiv:2105.03404)';

function timmResMlp(numBlocks: number, initValues: number, numParameters: number, description: string) {
  return {
    config: {
      imgSize: 224,
      patchSize: 16,
      inChans: 3,
      numClasses: 1000,
      numBlocks,
      embedDim: 384,
      mlpRatio: 4,
      initValues,
    },
    numParameters,
    description,
    paper: PAPER,
    source: 'timm/models/mlp_mixer.py',
    packageName: '@mlzoo/mixers',
  } satisfies ModelPreset<ResMlpConfig>;
}

/** Presets of `ResMlp` (pure data; counts with the 1000-class head). */
export const RESMLP_PRESETS: Record<string, ModelPreset<ResMlpConfig>> = {
  resmlp_12_224: timmResMlp(
    12,
    1e-4,
    15_350_872,
    'ResMLP-12 at 224x224 (timm weights: resmlp_12_224.fb_in1k).',
  ),
  resmlp_24_224: timmResMlp(
    24,
    1e-5,
    30_020_680,
    'ResMLP-24 at 224x224 (timm weights: resmlp_24_224.fb_in1k).',
  ),
  resmlp_fashion_mnist: {
    config: {
      imgSize: 28,
      patchSize: 4,
      inChans: 1,
      numClasses: 10,
      numBlocks: 6,
      embedDim: 128,
      mlpRatio: 2,
      initValues: 0.1,
    },
    numParameters: 418_550,
    description:
      'ResMLP for 28x28 grayscale images: patch 4 (49 tokens), width 128, 6 blocks, channel MLP 256, LayerScale 0.1 (shallow).',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/mixers',
  },
};

function withOverrides(name: string, overrides: ResMlpConfig): ResMlp {
  return new ResMlp({ ...RESMLP_PRESETS[name]!.config, ...overrides });
}

export const resmlp12_224 = (overrides: ResMlpConfig = {}) => withOverrides('resmlp_12_224', overrides);
export const resmlp24_224 = (overrides: ResMlpConfig = {}) => withOverrides('resmlp_24_224', overrides);
export const resmlpFashionMnist = (overrides: ResMlpConfig = {}) =>
  withOverrides('resmlp_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createResMlp(config: ResMlpConfig): ResMlp {
  return new ResMlp(config);
}

/** Registers every `RESMLP_PRESETS` entry with core's `createModel`. Nothing registers on import. */
export function registerResMlpModels(): void {
  for (const [name, preset] of Object.entries(RESMLP_PRESETS)) registerModel(name, createResMlp, preset);
}
