// gMLP: MLPs with a spatial gating unit (a token-mixing linear projection that gates the channels).
//
// Paper: "Pay Attention to MLPs", Liu, Dai, So, Le, NeurIPS 2021, arXiv:2105.08050
// (https://arxiv.org/abs/2105.08050).
// Reference implementation: timm `timm/models/mlp_mixer.py` (`MlpMixer` with `SpatialGatingBlock`,
// `SpatialGatingUnit`) and `timm/layers/mlp.py` (`GatedMlp`): parameter names are timm's state-dict keys
// (`blocks.{i}.norm`, `blocks.{i}.mlp_channels.fc1`, `mlp_channels.gate.norm`, `mlp_channels.gate.proj`,
// `mlp_channels.fc2`). As timm: the gate's LayerNorm has PyTorch's eps 1e-5 (the block norms 1e-6), and
// the gate projection starts near identity (weight N(0, 1e-6), bias 1).
import {
  type ForwardOptions,
  init,
  type ModelPreset,
  Module,
  type Random,
  registerModel,
  type TensorModule,
} from '@mlzoo/core';
import { Activation, Dropout, DropPath, LayerNorm, Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';
import {
  assignDisposing,
  type PatchMlpBlock,
  PatchMlpClassifier,
  type PatchMlpConfig,
  residual,
  swapTokensAndChannels,
} from './mlp-mixer.js';

export interface GMlpConfig extends PatchMlpConfig {
  /** fc1 width as a multiple of embedDim (default 6, timm's; the gate halves it). */
  mlpRatio?: number;
  /** LayerNorm epsilon of the block and final norms (default 1e-6, timm's). */
  normEps?: number;
  /** LayerNorm epsilon inside the spatial gating unit (default 1e-5, timm's nn.LayerNorm). */
  gateNormEps?: number;
}

/**
 * timm's `SpatialGatingUnit` on [B, N, D]: split channels into halves u, v; `v = proj(norm(v)^T)^T`
 * (a Linear over the N tokens); output `u * v` [B, N, D / 2]. State dict: `norm.*` [D / 2], `proj.*` [N, N].
 */
export class SpatialGatingUnit extends Module implements TensorModule {
  readonly dim: number;
  readonly seqLen: number;
  readonly norm: LayerNorm;
  readonly proj: Linear;

  constructor(options: { dim: number; seqLen: number; normEps?: number; random?: Random }) {
    super();
    const { dim, seqLen, random } = options;
    if (!(Number.isInteger(dim) && dim > 0 && dim % 2 === 0)) {
      throw new Error(`SpatialGatingUnit: dim must be a positive even integer, got ${dim}`);
    }
    this.dim = dim;
    this.seqLen = seqLen;
    this.norm = this.addModule(
      'norm',
      new LayerNorm({ normalizedShape: dim / 2, eps: options.normEps ?? 1e-5 }),
    );
    this.proj = this.addModule('proj', new Linear({ inFeatures: seqLen, outFeatures: seqLen, random }));
    this.#random = random;
    this.initWeights();
  }

  readonly #random: Random | undefined;

  /** timm's `init_weights`: proj weight N(0, 1e-6), bias 1, so the gate starts as `u * 1`. */
  initWeights(): void {
    assignDisposing(
      this.proj.weight,
      init.normal(this.proj.weight.shape, { std: 1e-6, random: this.#random }),
    );
    if (this.proj.bias) assignDisposing(this.proj.bias, init.ones(this.proj.bias.shape));
  }

  forward(input: tf.Tensor): tf.Tensor {
    this.checkShape(input, ['B', this.seqLen, this.dim]);
    return tf.tidy(() => {
      const [u, v] = tf.split(input, 2, 2);
      const gate = swapTokensAndChannels(this.proj.forward(swapTokensAndChannels(this.norm.forward(v!))));
      return tf.mul(u!, gate);
    });
  }
}

/**
 * timm's `GatedMlp` with the spatial gating unit: `fc1` (C -> H) -> GELU -> drop1 -> `gate` (H -> H / 2)
 * -> `fc2` (H / 2 -> C) -> drop2. State dict: `fc1.*`, `gate.norm.*`, `gate.proj.*`, `fc2.*`.
 */
export class GatedMlp extends Module implements TensorModule {
  readonly fc1: Linear;
  readonly act: Activation;
  readonly drop1: Dropout;
  readonly gate: SpatialGatingUnit;
  readonly fc2: Linear;
  readonly drop2: Dropout;

  constructor(options: {
    inFeatures: number;
    hiddenFeatures: number;
    seqLen: number;
    gateNormEps?: number;
    dropRate?: number;
    random?: Random;
  }) {
    super();
    const { inFeatures, hiddenFeatures, seqLen, random } = options;
    this.fc1 = this.addModule('fc1', new Linear({ inFeatures, outFeatures: hiddenFeatures, random }));
    this.act = this.addModule('act', new Activation('gelu'));
    this.drop1 = this.addModule('drop1', new Dropout({ probability: options.dropRate ?? 0, random }));
    this.gate = this.addModule(
      'gate',
      new SpatialGatingUnit({ dim: hiddenFeatures, seqLen, normEps: options.gateNormEps, random }),
    );
    this.fc2 = this.addModule(
      'fc2',
      new Linear({ inFeatures: hiddenFeatures / 2, outFeatures: inFeatures, random }),
    );
    this.drop2 = this.addModule('drop2', new Dropout({ probability: options.dropRate ?? 0, random }));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const hidden = this.drop1.forward(this.act.forward(this.fc1.forward(input)), options);
      return this.drop2.forward(this.fc2.forward(this.gate.forward(hidden)), options);
    });
  }
}

/** timm's `SpatialGatingBlock` on [B, N, C]: `x + mlp_channels(norm(x))`. State dict: `norm.*`, `mlp_channels.*`. */
export class SpatialGatingBlock extends Module implements PatchMlpBlock {
  readonly dim: number;
  readonly seqLen: number;
  readonly norm: LayerNorm;
  readonly mlpChannels: GatedMlp;
  readonly dropPath: DropPath | null;

  constructor(options: {
    dim: number;
    seqLen: number;
    mlpRatio?: number;
    normEps?: number;
    gateNormEps?: number;
    dropRate?: number;
    dropPathRate?: number;
    random?: Random;
  }) {
    super();
    const { dim, seqLen, random } = options;
    const hidden = Math.floor(dim * (options.mlpRatio ?? 6));
    if (!(hidden > 0 && hidden % 2 === 0)) {
      throw new Error(`SpatialGatingBlock: mlpRatio * dim must give a positive even width, got ${hidden}`);
    }
    this.dim = dim;
    this.seqLen = seqLen;
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: dim, eps: options.normEps ?? 1e-6 }));
    this.mlpChannels = this.addModule(
      'mlp_channels',
      new GatedMlp({
        inFeatures: dim,
        hiddenFeatures: hidden,
        seqLen,
        gateNormEps: options.gateNormEps,
        dropRate: options.dropRate,
        random,
      }),
    );
    this.dropPath = options.dropPathRate
      ? this.addModule('drop_path', new DropPath({ probability: options.dropPathRate, random }))
      : null;
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.seqLen, this.dim]);
    return tf.tidy(() =>
      residual(input, this.mlpChannels.forward(this.norm.forward(input), options), this.dropPath, options),
    );
  }
}

/**
 * gMLP (timm `MlpMixer` with `SpatialGatingBlock`). State dict as timm's: `stem.proj.*`,
 * `blocks.{i}.norm.*`, `blocks.{i}.mlp_channels.{fc1,gate.norm,gate.proj,fc2}.*`, `norm.*`, `head.*`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { GMlp } from '@mlzoo/mixers';
 *
 * const model = new GMlp({ imgSize: 28, patchSize: 4, inChans: 1, numClasses: 10, embedDim: 64,
 *   numBlocks: 6, mlpRatio: 6 });
 * model.numParameters(); // 243510
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class GMlp extends PatchMlpClassifier {
  readonly mlpRatio: number;
  readonly normEps: number;
  readonly gateNormEps: number;

  constructor(config: GMlpConfig = {}) {
    const mlpRatio = config.mlpRatio ?? 6;
    const normEps = config.normEps ?? 1e-6;
    const gateNormEps = config.gateNormEps ?? 1e-5;
    const hidden = Math.floor(mlpRatio * (config.embedDim ?? 512));
    super(config, {
      name: 'GMlp',
      problems: [
        !(hidden > 0 && hidden % 2 === 0) &&
          `mlpRatio ${mlpRatio} * embedDim must give a positive even width, got ${hidden}`,
        !(normEps > 0) && `normEps must be positive, got ${normEps}`,
        !(gateNormEps > 0) && `gateNormEps must be positive, got ${gateNormEps}`,
      ],
      createBlock: (context) => new SpatialGatingBlock({ ...context, mlpRatio, normEps, gateNormEps }),
      createNorm: (width) => new LayerNorm({ normalizedShape: width, eps: normEps }),
    });
    this.mlpRatio = mlpRatio;
    this.normEps = normEps;
    this.gateNormEps = gateNormEps;
  }
}

// ---- presets -----------------------------------------------------------------------------------

const PAPER = 'Pay Attention to MLPs (arXiv:2105.08050)';

function timmGMlp(embedDim: number, numParameters: number, description: string): ModelPreset<GMlpConfig> {
  return {
    config: {
      imgSize: 224,
      patchSize: 16,
      inChans: 3,
      numClasses: 1000,
      numBlocks: 30,
      embedDim,
      mlpRatio: 6,
    },
    numParameters,
    description,
    paper: PAPER,
    source: 'timm/models/mlp_mixer.py',
    packageName: '@mlzoo/mixers',
  };
}

/** Presets of `GMlp` (pure data; counts with the 1000-class head). */
export const GMLP_PRESETS: Record<string, ModelPreset<GMlpConfig>> = {
  gmlp_ti16_224: timmGMlp(128, 5_867_328, 'gMLP-Ti/16 at 224x224 (untrained in timm).'),
  gmlp_s16_224: timmGMlp(256, 19_422_656, 'gMLP-S/16 at 224x224 (timm weights: gmlp_s16_224.ra3_in1k).'),
  gmlp_fashion_mnist: {
    config: {
      imgSize: 28,
      patchSize: 4,
      inChans: 1,
      numClasses: 10,
      numBlocks: 6,
      embedDim: 64,
      mlpRatio: 6,
    },
    numParameters: 243_510,
    description:
      'gMLP for 28x28 grayscale images: patch 4 (49 tokens), width 64, 6 blocks, fc1 384 (gate 192).',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/mixers',
  },
};

function withOverrides(name: string, overrides: GMlpConfig): GMlp {
  return new GMlp({ ...GMLP_PRESETS[name]!.config, ...overrides });
}

export const gmlpTi16_224 = (overrides: GMlpConfig = {}) => withOverrides('gmlp_ti16_224', overrides);
export const gmlpS16_224 = (overrides: GMlpConfig = {}) => withOverrides('gmlp_s16_224', overrides);
export const gmlpFashionMnist = (overrides: GMlpConfig = {}) =>
  withOverrides('gmlp_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createGMlp(config: GMlpConfig): GMlp {
  return new GMlp(config);
}

/** Registers every `GMLP_PRESETS` entry with core's `createModel`. Nothing registers on import. */
export function registerGMlpModels(): void {
  for (const [name, preset] of Object.entries(GMLP_PRESETS)) registerModel(name, createGMlp, preset);
}
