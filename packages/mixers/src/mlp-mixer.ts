// MLP-Mixer, and the patch-token MLP classifier that ResMLP and gMLP share with it.
//
// Paper: "MLP-Mixer: An all-MLP Architecture for Vision", Tolstikhin, Houlsby, Kolesnikov, Beyer, Zhai,
// Unterthiner, Yung, Steiner, Keysers, Uszkoreit, Lucic, Dosovitskiy, NeurIPS 2021, arXiv:2105.01601
// (https://arxiv.org/abs/2105.01601).
// Reference implementation: timm `timm/models/mlp_mixer.py` (`MlpMixer`, `MixerBlock`): the parameter
// names below are timm's state-dict keys, so timm checkpoints (e.g. `mixer_b16_224.goog_in21k_ft_in1k`)
// load with `loadStateDict` and give PyTorch's logits. Weight init follows timm's `_init_weights`.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  type ForwardOptions,
  init,
  type ModelPreset,
  Module,
  ModuleList,
  type Random,
  registerModel,
  resolveIntermediateIndices,
  type TensorModule,
} from '@mlzoo/core';
import { Conv2d, DropPath, dropout, Identity, LayerNorm, Linear, Mlp, PatchEmbed } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

// ---- the shared patch-token classifier -----------------------------------------------------------

/** Options every patch-token MLP classifier here (MLP-Mixer, ResMLP, gMLP) accepts. */
export interface PatchMlpConfig {
  /** Image size, square or [height, width] (default 224). Token mixing fixes it: N = (H / p) * (W / p). */
  imgSize?: number | readonly [number, number];
  /** Square patch size of the stem (default 16). */
  patchSize?: number;
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0 makes `forward` return the pooled features). */
  numClasses?: number;
  /** Number of blocks (default 8). */
  numBlocks?: number;
  /** Token width C (default 512). */
  embedDim?: number;
  /** Dropout inside the MLPs and before the head, in training (timm's drop_rate; default 0). */
  dropRate?: number;
  /** Drop-path probability of every block's residual branches (timm uses one rate for all; default 0). */
  dropPathRate?: number;
  /**
   * How the stem computes its patch projection: 'linear' (default: reshape + one matMul, no conv
   * kernels) or 'conv' (strided conv2d). Same parameters (`stem.proj.weight` OIHW) and results.
   */
  stemMode?: 'conv' | 'linear';
  /** Generator for the initial weights and dropout masks (default: core's default generator). */
  random?: Random;
}

/** What a block of a patch-token classifier looks like: [B, N, C] -> [B, N, C]. */
export interface PatchMlpBlock extends Module {
  forward(input: tf.Tensor, options?: ForwardOptions): tf.Tensor;
}

/** Everything a block factory needs to build block `index`. */
export interface PatchMlpBlockContext {
  index: number;
  /** Token count N. */
  seqLen: number;
  /** Token width C. */
  dim: number;
  dropRate: number;
  dropPathRate: number;
  random: Random | undefined;
}

/** How a subclass specialises the shared classifier (timm's `block_layer` and `norm_layer`). */
export interface PatchMlpParts {
  /** Class name used in error messages. */
  name: string;
  /** Problems with the subclass's own options (checked with the shared ones, before any variable exists). */
  problems: Array<string | false>;
  createBlock(context: PatchMlpBlockContext): PatchMlpBlock;
  /** The final norm (and, for ResMLP, the block norms' kind): LayerNorm or Affine. */
  createNorm(dim: number): TensorModule;
}

/** Modules that re-initialise their own parameters after timm's generic pass (timm's `init_weights`). */
interface SelfInitializing {
  initWeights(): void;
}

function isSelfInitializing(module: Module): module is Module & SelfInitializing {
  return typeof (module as Partial<SelfInitializing>).initWeights === 'function';
}

/** Problems with the shared options (empty when valid). */
function sharedProblems(config: PatchMlpConfig): string[] {
  const size = config.imgSize ?? 224;
  const imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
  const patchSize = config.patchSize ?? 16;
  const positive = (value: unknown) => Number.isInteger(value) && (value as number) > 0;
  const numClasses = config.numClasses ?? 1000;
  const dropRate = config.dropRate ?? 0;
  const dropPathRate = config.dropPathRate ?? 0;
  const stemMode = config.stemMode ?? 'linear';
  return [
    !imgSize.every(positive) && `imgSize must be positive integers, got ${JSON.stringify(size)}`,
    !positive(patchSize) && `patchSize must be a positive integer, got ${patchSize}`,
    imgSize.every(positive) &&
      positive(patchSize) &&
      imgSize.some((side) => (side as number) % patchSize !== 0) &&
      `imgSize ${JSON.stringify(size)} is not divisible by patchSize ${patchSize}`,
    !positive(config.inChans ?? 3) && `inChans must be a positive integer, got ${config.inChans}`,
    !(Number.isInteger(numClasses) && numClasses >= 0) &&
      `numClasses must be a non-negative integer, got ${numClasses}`,
    !positive(config.numBlocks ?? 8) && `numBlocks must be a positive integer, got ${config.numBlocks}`,
    !positive(config.embedDim ?? 512) && `embedDim must be a positive integer, got ${config.embedDim}`,
    !(dropRate >= 0 && dropRate < 1) && `dropRate must be in [0, 1), got ${dropRate}`,
    !(dropPathRate >= 0 && dropPathRate < 1) && `dropPathRate must be in [0, 1), got ${dropPathRate}`,
    stemMode !== 'conv' && stemMode !== 'linear' && `stemMode must be 'conv' or 'linear', got '${stemMode}'`,
  ].filter((problem): problem is string => typeof problem === 'string');
}

/**
 * timm's `MlpMixer` skeleton: `stem` (PatchEmbed) -> `blocks.{i}` on tokens [B, N, C] -> `norm` ->
 * mean over tokens -> `head`. Subclasses choose the block and the norm (MLP-Mixer, ResMLP, gMLP).
 * Input NHWC [B, H, W, C]; tokens are in row-major (h, w) order, as timm's.
 */
export abstract class PatchMlpClassifier extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly patchSize: number;
  readonly inChans: number;
  readonly embedDim: number;
  readonly numBlocks: number;
  readonly dropRate: number;
  readonly dropPathRate: number;
  /** Patch grid [H / p, W / p]. */
  readonly gridSize: [number, number];
  /** Token count N. */
  readonly seqLen: number;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'stem.proj';
  readonly stem: PatchEmbed;
  readonly blocks: ModuleList<PatchMlpBlock>;
  readonly norm: TensorModule;
  head: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  protected constructor(config: PatchMlpConfig, parts: PatchMlpParts) {
    super();
    // everything is checked before the first variable exists, so a bad config leaks nothing
    const problems = [
      ...sharedProblems(config),
      ...parts.problems.filter((problem): problem is string => typeof problem === 'string'),
    ];
    if (problems.length > 0) throw new Error(`${parts.name}: ${problems.join('; ')}`);
    const size = config.imgSize ?? 224;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.patchSize = config.patchSize ?? 16;
    this.inChans = config.inChans ?? 3;
    this.embedDim = config.embedDim ?? 512;
    this.numBlocks = config.numBlocks ?? 8;
    this.dropRate = config.dropRate ?? 0;
    this.dropPathRate = config.dropPathRate ?? 0;
    this.#numClasses = config.numClasses ?? 1000;
    this.#random = config.random;
    this.gridSize = [this.imgSize[0] / this.patchSize, this.imgSize[1] / this.patchSize];
    this.seqLen = this.gridSize[0] * this.gridSize[1];
    this.numFeatures = this.embedDim;
    this.headHiddenSize = this.embedDim;
    this.stem = this.addModule(
      'stem',
      new PatchEmbed({
        imgSize: this.imgSize,
        patchSize: this.patchSize,
        inChans: this.inChans,
        embedDim: this.embedDim,
        mode: config.stemMode ?? 'linear',
        random: this.#random,
      }),
    );
    this.blocks = this.addModule('blocks', new ModuleList<PatchMlpBlock>());
    for (let index = 0; index < this.numBlocks; index++) {
      this.blocks.append(
        parts.createBlock({
          index,
          seqLen: this.seqLen,
          dim: this.embedDim,
          dropRate: this.dropRate,
          dropPathRate: this.dropPathRate,
          random: this.#random,
        }),
      );
    }
    this.norm = this.addModule('norm', parts.createNorm(this.embedDim));
    this.head = this.addModule('head', this.#makeHead(this.#numClasses));
    this.#initWeights();
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    if (numClasses === 0) return new Identity();
    const head = new Linear({ inFeatures: this.embedDim, outFeatures: numClasses, random: this.#random });
    // timm: zero head (weight and bias)
    assignDisposing(head.weight, init.zeros(head.weight.shape));
    if (head.bias) assignDisposing(head.bias, init.zeros(head.bias.shape));
    return head;
  }

  /**
   * timm's `_init_weights` (non-Flax): Linear weights xavier-uniform with biases N(0, 1e-6) inside
   * MLPs ('mlp' in the name) else 0; the stem conv lecun-normal (truncated), bias 0; head zero; then
   * modules with their own `initWeights` (gMLP's gating unit) override, depth-first as timm's named_apply.
   */
  #initWeights(): void {
    const random = this.#random;
    const selfInitializing: SelfInitializing[] = [];
    for (const [name, module] of this.namedModules()) {
      if (module instanceof Linear && name !== 'head') {
        const [fanIn, fanOut] = module.weight.shape as [number, number];
        assignDisposing(module.weight, init.xavierUniform(module.weight.shape, { fanIn, fanOut, random }));
        if (module.bias) {
          assignDisposing(
            module.bias,
            name.includes('mlp')
              ? init.normal(module.bias.shape, { std: 1e-6, random })
              : init.zeros(module.bias.shape),
          );
        }
      } else if (module instanceof Conv2d) {
        const [kernelHeight, kernelWidth, inPerGroup] = module.weight.shape as [number, number, number];
        const std = Math.sqrt(1 / (kernelHeight * kernelWidth * inPerGroup)) / 0.8796256610342398;
        assignDisposing(
          module.weight,
          init.truncNormal(module.weight.shape, { std, a: -2 * std, b: 2 * std, random }),
        );
        if (module.bias) assignDisposing(module.bias, init.zeros(module.bias.shape));
      }
      if (isSelfInitializing(module)) selfInitializing.push(module);
    }
    for (const module of selfInitializing) module.initWeights();
  }

  /** Tokens after the blocks and the final norm: [B, H, W, C] -> [B, N, C]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = this.stem.forward(input);
      for (const block of this.blocks) x = block.forward(x, options);
      return this.norm.forward(x);
    });
  }

  /** Mean over tokens -> dropout -> head: [B, N, C] -> [B, numClasses] (or [B, C] with preLogits). */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', this.seqLen, this.embedDim], 'features');
    return tf.tidy(() => {
      const pooled = dropout(tf.mean(features, 1), this.dropRate, {
        training: options.training,
        random: this.#random,
      });
      return options.preLogits ? pooled : this.head.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /**
   * Outputs of the selected blocks (all by default; a number n means the last n) as NHWC grids
   * [B, H / p, W / p, C] (timm's `forward_intermediates` with reshape, in NHWC). Blocks after the last
   * selected one are not run.
   */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const indices = resolveIntermediateIndices(options.indices, this.numBlocks);
    const wanted = new Set(indices);
    const last = Math.max(-1, ...indices);
    return tf.tidy(() => {
      const outputs = new Map<number, tf.Tensor>();
      let x = this.stem.forward(input);
      for (let index = 0; index <= last; index++) {
        x = this.blocks.at(index).forward(x, options);
        if (wanted.has(index)) {
          outputs.set(index, tf.reshape(x, [x.shape[0]!, this.gridSize[0], this.gridSize[1], this.embedDim]));
        }
      }
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

/** Assigns `value` to `variable` and disposes `value`. */
export function assignDisposing(variable: tf.Variable, value: tf.Tensor): void {
  variable.assign(value);
  value.dispose();
}

/** `x + dropPath(branch)`: the residual add every block here uses. */
export function residual(
  x: tf.Tensor,
  branch: tf.Tensor,
  dropPath: DropPath | null,
  options: ForwardOptions,
): tf.Tensor {
  return tf.add(x, dropPath ? dropPath.forward(branch, options) : branch);
}

/** [B, N, C] -> [B, C, N] (and back): token mixing acts on the token axis. */
export function swapTokensAndChannels(x: tf.Tensor): tf.Tensor {
  return tf.transpose(x, [0, 2, 1]);
}

// ---- MLP-Mixer ---------------------------------------------------------------------------------

export interface MlpMixerConfig extends PatchMlpConfig {
  /**
   * Hidden widths of the token and channel MLPs as multiples of embedDim (default [0.5, 4], timm's
   * mlp_ratio; a single number applies to both). Widths are floor(ratio * embedDim), as timm's int().
   */
  mlpRatio?: number | readonly [number, number];
  /** LayerNorm epsilon of the block and final norms (default 1e-6, timm's). */
  normEps?: number;
}

export interface MixerBlockOptions {
  dim: number;
  seqLen: number;
  /** [token, channel] MLP ratios (default [0.5, 4]). */
  mlpRatio?: readonly [number, number];
  normEps?: number;
  dropRate?: number;
  dropPathRate?: number;
  random?: Random;
}

/**
 * timm's `MixerBlock` on [B, N, C]: `x + mlp_tokens(norm1(x)^T)^T`, then `x + mlp_channels(norm2(x))`.
 * State dict: `norm1.*`, `mlp_tokens.fc1.weight` [N * 0.5-ish, N], `mlp_tokens.fc2.*`, `norm2.*`,
 * `mlp_channels.fc1.*`, `mlp_channels.fc2.*`.
 */
export class MixerBlock extends Module implements PatchMlpBlock {
  readonly dim: number;
  readonly seqLen: number;
  readonly norm1: LayerNorm;
  readonly mlpTokens: Mlp;
  readonly norm2: LayerNorm;
  readonly mlpChannels: Mlp;
  readonly dropPath: DropPath | null;

  constructor(options: MixerBlockOptions) {
    super();
    const { dim, seqLen, random } = options;
    const [tokenRatio, channelRatio] = options.mlpRatio ?? [0.5, 4];
    const tokensDim = Math.floor(tokenRatio * dim);
    const channelsDim = Math.floor(channelRatio * dim);
    if (!(tokensDim > 0 && channelsDim > 0)) {
      throw new Error(
        `MixerBlock: mlpRatio [${tokenRatio}, ${channelRatio}] of dim ${dim} gives hidden widths ${tokensDim} and ${channelsDim}; both must be positive`,
      );
    }
    const eps = options.normEps ?? 1e-6;
    const dropRate = options.dropRate ?? 0;
    this.dim = dim;
    this.seqLen = seqLen;
    this.norm1 = this.addModule('norm1', new LayerNorm({ normalizedShape: dim, eps }));
    this.mlpTokens = this.addModule(
      'mlp_tokens',
      new Mlp({ inFeatures: seqLen, hiddenFeatures: tokensDim, dropRate, random }),
    );
    this.norm2 = this.addModule('norm2', new LayerNorm({ normalizedShape: dim, eps }));
    this.mlpChannels = this.addModule(
      'mlp_channels',
      new Mlp({ inFeatures: dim, hiddenFeatures: channelsDim, dropRate, random }),
    );
    this.dropPath = options.dropPathRate
      ? this.addModule('drop_path', new DropPath({ probability: options.dropPathRate, random }))
      : null;
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.seqLen, this.dim]);
    return tf.tidy(() => {
      const tokens = swapTokensAndChannels(
        this.mlpTokens.forward(swapTokensAndChannels(this.norm1.forward(input)), options),
      );
      const x = residual(input, tokens, this.dropPath, options);
      return residual(x, this.mlpChannels.forward(this.norm2.forward(x), options), this.dropPath, options);
    });
  }
}

function ratioPair(ratio: number | readonly [number, number]): [number, number] {
  return typeof ratio === 'number' ? [ratio, ratio] : [ratio[0], ratio[1]];
}

/**
 * MLP-Mixer (timm `MlpMixer` with `MixerBlock`). State dict as timm's: `stem.proj.*`,
 * `blocks.{i}.norm1.*`, `blocks.{i}.mlp_tokens.fc1.*`, ..., `norm.*`, `head.*`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { MlpMixer } from '@mlzoo/mixers';
 *
 * const model = new MlpMixer({ imgSize: 28, patchSize: 4, inChans: 1, numClasses: 10, embedDim: 128,
 *   numBlocks: 6, mlpRatio: [0.5, 2] });
 * model.numParameters(); // 440624
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class MlpMixer extends PatchMlpClassifier {
  readonly mlpRatio: [number, number];
  readonly normEps: number;

  constructor(config: MlpMixerConfig = {}) {
    const mlpRatio = ratioPair(config.mlpRatio ?? [0.5, 4]);
    const normEps = config.normEps ?? 1e-6;
    const dim = config.embedDim ?? 512;
    super(config, {
      name: 'MlpMixer',
      problems: [
        !mlpRatio.every((ratio) => Math.floor(ratio * dim) > 0) &&
          `mlpRatio [${mlpRatio.join(', ')}] must give positive hidden widths for embedDim ${dim}`,
        !(normEps > 0) && `normEps must be positive, got ${normEps}`,
      ],
      createBlock: (context) => new MixerBlock({ ...context, mlpRatio, normEps }),
      createNorm: (width) => new LayerNorm({ normalizedShape: width, eps: normEps }),
    });
    this.mlpRatio = mlpRatio;
    this.normEps = normEps;
  }
}

// ---- presets -----------------------------------------------------------------------------------

const MIXER_PAPER = 'MLP-Mixer: An all-MLP Architecture for Vision (arXiv:2105.01601)';
const TIMM_SOURCE = 'timm/models/mlp_mixer.py';

function timmMixer(
  patchSize: number,
  numBlocks: number,
  embedDim: number,
  numParameters: number,
  description: string,
): ModelPreset<MlpMixerConfig> {
  return {
    config: {
      imgSize: 224,
      patchSize,
      inChans: 3,
      numClasses: 1000,
      numBlocks,
      embedDim,
      mlpRatio: [0.5, 4],
    },
    numParameters,
    description,
    paper: MIXER_PAPER,
    source: TIMM_SOURCE,
    packageName: '@mlzoo/mixers',
  };
}

/** Presets of `MlpMixer` (pure data; counts with the 1000-class head). */
export const MLP_MIXER_PRESETS: Record<string, ModelPreset<MlpMixerConfig>> = {
  mixer_s32_224: timmMixer(32, 8, 512, 19_104_624, 'Mixer-S/32 at 224x224 (untrained in timm).'),
  mixer_s16_224: timmMixer(16, 8, 512, 18_528_264, 'Mixer-S/16 at 224x224 (untrained in timm).'),
  mixer_b32_224: timmMixer(32, 12, 768, 60_293_428, 'Mixer-B/32 at 224x224 (untrained in timm).'),
  mixer_b16_224: timmMixer(
    16,
    12,
    768,
    59_880_472,
    'Mixer-B/16 at 224x224; timm weights load by key (e.g. mixer_b16_224.goog_in21k_ft_in1k).',
  ),
  mixer_fashion_mnist: {
    config: {
      imgSize: 28,
      patchSize: 4,
      inChans: 1,
      numClasses: 10,
      numBlocks: 6,
      embedDim: 128,
      mlpRatio: [0.5, 2],
    },
    numParameters: 440_624,
    description: 'Mixer for 28x28 grayscale images: patch 4 (49 tokens), width 128, 6 blocks, MLPs 64/256.',
    paper: MIXER_PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/mixers',
  },
};

function withOverrides(name: string, overrides: MlpMixerConfig): MlpMixer {
  return new MlpMixer({ ...MLP_MIXER_PRESETS[name]!.config, ...overrides });
}

export const mixerS32_224 = (overrides: MlpMixerConfig = {}) => withOverrides('mixer_s32_224', overrides);
export const mixerS16_224 = (overrides: MlpMixerConfig = {}) => withOverrides('mixer_s16_224', overrides);
export const mixerB32_224 = (overrides: MlpMixerConfig = {}) => withOverrides('mixer_b32_224', overrides);
export const mixerB16_224 = (overrides: MlpMixerConfig = {}) => withOverrides('mixer_b16_224', overrides);
export const mixerFashionMnist = (overrides: MlpMixerConfig = {}) =>
  withOverrides('mixer_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createMlpMixer(config: MlpMixerConfig): MlpMixer {
  return new MlpMixer(config);
}

/** Registers every `MLP_MIXER_PRESETS` entry with core's `createModel`. Nothing registers on import. */
export function registerMlpMixerModels(): void {
  for (const [name, preset] of Object.entries(MLP_MIXER_PRESETS)) registerModel(name, createMlpMixer, preset);
}
