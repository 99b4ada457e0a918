// MetaMixer / FFNet: "MetaMixer Is All You Need", Seokju Yun, Dongheon Lee, Youngmin Ro, 2024,
// https://arxiv.org/abs/2406.02021. Follows the official implementation ysj9909/FFNet (`models/ffnet.py`:
// FFNet, FFBlock, Token_Mixer, Channel_Mixer, ResidualBlock, RepVGGDW, Conv2d_BN, PatchMerging), with its
// state-dict keys.
//
// MetaMixer is the query-key-value mixing pattern with its sub-operations left open; FFNification
// turns it into convolutions: the token mixer is `DW_{ks2}(GELU(DW_{ks1}(Conv1x1BN(x))))` (the 1 x 1
// plays the query, the first depthwise conv the key, the second the value, GELU replaces softmax),
// and the channel mixer is `fc2(GELU(fc1(DW_ks(x))))`. A 7 x 7 depthwise conv is a `RepVGGDW`
// (7 x 7 conv + BN plus 3 x 3 conv + BN, summed). The network has no pre-norm in its blocks: only the
// BatchNorms inside Conv2d_BN, plus a final BatchNorm before the pooled head.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  type ForwardOptions,
  init,
  type ModelPreset,
  Module,
  type Random,
  registerModel,
  resolveIntermediateIndices,
  type StateLayout,
} from '@mlzoo/core';
import { BatchNorm, Conv2d, dropPath, gelu, Identity, Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface FFNetConfig {
  /** Square image size or [height, width] (default 256, the reference's input size). */
  imgSize?: number | readonly [number, number];
  /** Image channels (default 3; the reference's stem hard-codes 3). */
  inChans?: number;
  /** Classes (default 1000; 0 makes `forward` return the pooled features). */
  numClasses?: number;
  /** Channels after the first stem conv (default 64). */
  inDim?: number;
  /** Channels per stage (default [80, 160, 320, 640], FFNet-1); stage i > 0 starts with a 2x downsampling. */
  embedDim?: readonly number[];
  /** Blocks per stage (default [2, 2, 8, 2]). */
  depth?: readonly number[];
  /** Depthwise kernel of each stage's channel mixer: 7 builds a RepVGGDW, others a Conv2d_BN (default [3, 3, 3, 3]). */
  kernelSizes?: readonly number[];
  /** Token mixer's first ("key") depthwise kernel per stage: 7 builds a RepVGGDW (default [3, 3, 7, 7]). */
  kernelSizes1?: readonly number[];
  /** Token mixer's second ("value") depthwise kernel per stage (default [3, 3, 7, 7]). */
  kernelSizes2?: readonly number[];
  /** Channel-mixer hidden width as a multiple of the channels, per stage (default [3, 3, 3, 3]). */
  expansionRatios?: readonly number[];
  /** Learned per-channel scale on every residual branch (`layer_scale`, default false). */
  useLayerScale?: boolean;
  /** Initial layer scale (default 1e-5). */
  layerScaleInitValue?: number;
  /** Stochastic depth, rising linearly from 0 over the blocks to this value (default 0). */
  dropPathRate?: number;
  random?: Random;
}

/** A module whose children are added by name from outside (PyTorch Sequential slots). */
class Slots extends Module {
  add<M extends Module>(name: string, module: M): M {
    return this.addModule(name, module);
  }
}

/** Stored [C] for channel-last broadcasting; PyTorch keeps [C, 1, 1]. */
const CHANNEL_SCALE_LAYOUT: StateLayout = {
  description: 'stored [C], PyTorch [C, 1, 1]',
  toStateShape: (shape) => [shape[0]!, 1, 1],
  toState: (value) => tf.reshape(value, [value.shape[0]!, 1, 1]),
  fromState: (value) => tf.reshape(value, [value.shape[0]!]),
};

function truncConv(options: ConstructorParameters<typeof Conv2d>[0]): Conv2d {
  const conv = new Conv2d(options);
  // the reference's _init_weights: trunc_normal(0.02) weights, zero biases
  tf.tidy(() => {
    conv.weight.assign(init.truncNormal(conv.weight.shape, { std: 0.02, random: options.random }));
    conv.bias?.assign(tf.zerosLike(conv.bias));
  });
  return conv;
}

/** `Conv2d_BN`: conv without bias (`c`) then BatchNorm (`bn`). */
export class ConvBn extends Module {
  readonly c: Conv2d;
  readonly bn: BatchNorm;

  constructor(options: {
    inChannels: number;
    outChannels: number;
    kernelSize?: number;
    stride?: number;
    padding?: number;
    groups?: number;
    random?: Random;
  }) {
    super();
    this.c = this.addModule(
      'c',
      truncConv({
        inChannels: options.inChannels,
        outChannels: options.outChannels,
        kernelSize: options.kernelSize ?? 1,
        stride: options.stride ?? 1,
        padding: options.padding ?? 0,
        groups: options.groups ?? 1,
        bias: false,
        random: options.random,
      }),
    );
    this.bn = this.addModule('bn', new BatchNorm({ numFeatures: options.outChannels }));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return this.bn.forward(this.c.forward(input), options);
  }
}

/** `RepVGGDW`: depthwise k x k conv + BN (`conv`) plus depthwise (k/2) x (k/2) conv + BN (`conv1`). */
export class RepVggDw extends Module {
  readonly conv: ConvBn;
  readonly conv1: ConvBn;

  constructor(options: {
    inChannels: number;
    outChannels: number;
    kernelSize?: number;
    stride?: number;
    random?: Random;
  }) {
    super();
    const kernel = options.kernelSize ?? 7;
    const small = Math.floor(kernel / 2);
    const common = {
      inChannels: options.inChannels,
      outChannels: options.outChannels,
      stride: options.stride ?? 1,
      groups: options.inChannels,
      random: options.random,
    };
    this.conv = this.addModule('conv', new ConvBn({ ...common, kernelSize: kernel, padding: small }));
    this.conv1 = this.addModule(
      'conv1',
      new ConvBn({ ...common, kernelSize: small, padding: Math.floor(small / 2) }),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => tf.add(this.conv.forward(input, options), this.conv1.forward(input, options)));
  }
}

type DepthwiseMixer = RepVggDw | Conv2d | ConvBn;

function runMixer(module: DepthwiseMixer, input: tf.Tensor, options: ForwardOptions): tf.Tensor {
  return module instanceof Conv2d ? module.forward(input) : module.forward(input, options);
}

/** `Token_Mixer`: fc (1 x 1 Conv2d_BN, "query") -> conv1 (depthwise, "key") -> GELU -> conv2 (depthwise, "value"). */
class TokenMixer extends Module {
  readonly fc: ConvBn;
  readonly conv1: DepthwiseMixer;
  readonly conv2: DepthwiseMixer;

  constructor(dim: number, kernel1: number, kernel2: number, random?: Random) {
    super();
    this.fc = this.addModule('fc', new ConvBn({ inChannels: dim, outChannels: dim, random }));
    const depthwise = (kernel: number): DepthwiseMixer =>
      kernel === 7
        ? new RepVggDw({ inChannels: dim, outChannels: dim, kernelSize: 7, random })
        : truncConv({
            inChannels: dim,
            outChannels: dim,
            kernelSize: kernel,
            padding: Math.floor(kernel / 2),
            groups: dim,
            random,
          });
    this.conv1 = this.addModule('conv1', depthwise(kernel1));
    this.conv2 = this.addModule('conv2', depthwise(kernel2));
  }

  forward(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() =>
      runMixer(this.conv2, gelu(runMixer(this.conv1, this.fc.forward(input, options), options)), options),
    );
  }
}

/** `Channel_Mixer`: depthwise conv (RepVGGDW for 7, else Conv2d_BN) -> fc1 -> GELU -> fc2 (1 x 1 convs). */
class ChannelMixer extends Module {
  readonly conv: RepVggDw | ConvBn;
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;

  constructor(dim: number, kernel: number, ratio: number, random?: Random) {
    super();
    const hidden = Math.floor(dim * ratio);
    this.conv = this.addModule(
      'conv',
      kernel === 7
        ? new RepVggDw({ inChannels: dim, outChannels: dim, kernelSize: 7, random })
        : new ConvBn({
            inChannels: dim,
            outChannels: dim,
            kernelSize: kernel,
            padding: Math.floor(kernel / 2),
            groups: dim,
            random,
          }),
    );
    this.fc1 = this.addModule(
      'fc1',
      truncConv({ inChannels: dim, outChannels: hidden, kernelSize: 1, random }),
    );
    this.fc2 = this.addModule(
      'fc2',
      truncConv({ inChannels: hidden, outChannels: dim, kernelSize: 1, random }),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(gelu(this.fc1.forward(this.conv.forward(input, options)))));
  }
}

/** `ResidualBlock`: x + DropPath(main(x) * layer_scale). */
class ResidualBlock extends Module {
  readonly main: TokenMixer | ChannelMixer;
  readonly layerScale: tf.Variable | null;
  readonly dropPathRate: number;
  readonly #random: Random | undefined;

  constructor(
    main: TokenMixer | ChannelMixer,
    dim: number,
    options: { useLayerScale: boolean; layerScaleInitValue: number; dropPathRate: number; random?: Random },
  ) {
    super();
    this.main = this.addModule('main', main);
    this.layerScale = options.useLayerScale
      ? this.addParameter('layer_scale', init.constant([dim], options.layerScaleInitValue), {
          layout: CHANNEL_SCALE_LAYOUT,
        })
      : null;
    this.dropPathRate = options.dropPathRate;
    this.#random = options.random;
  }

  forward(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      let branch = this.main.forward(input, options);
      if (this.layerScale) branch = tf.mul(branch, this.layerScale);
      return tf.add(
        dropPath(branch, this.dropPathRate, { training: options.training, random: this.#random }),
        input,
      );
    });
  }
}

/** `FFBlock`: token mixer (`token_mixer.0`, residual) then channel mixer (`channel_mixer`, residual). */
export class FFBlock extends Module {
  readonly tokenMixer: ResidualBlock;
  readonly channelMixer: ResidualBlock;

  constructor(options: {
    dim: number;
    kernelSize: number;
    kernelSize1: number;
    kernelSize2: number;
    expansionRatio: number;
    useLayerScale: boolean;
    layerScaleInitValue: number;
    dropPathRate: number;
    random?: Random;
  }) {
    super();
    const { dim, random } = options;
    this.tokenMixer = this.addModule('token_mixer', new Slots()).add(
      '0',
      new ResidualBlock(new TokenMixer(dim, options.kernelSize1, options.kernelSize2, random), dim, options),
    );
    this.channelMixer = this.addModule(
      'channel_mixer',
      new ResidualBlock(
        new ChannelMixer(dim, options.kernelSize, options.expansionRatio, random),
        dim,
        options,
      ),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.channelMixer.forward(this.tokenMixer.forward(input, options), options));
  }
}

/**
 * `PatchMerging`: `proj.0` a stride-2 RepVGGDW (7 x 7 and 3 x 3, channel multiplier out / in), then
 * `proj.1` (`Conv2d_BN_skip`) x + Conv1x1(BN(x)) with keys `proj.1.conv.bn`, `proj.1.conv.c`.
 */
class PatchMerging extends Module {
  readonly down: RepVggDw;
  readonly skipNorm: BatchNorm;
  readonly skipConv: Conv2d;

  constructor(dim: number, outDim: number, random?: Random) {
    super();
    const proj = this.addModule('proj', new Slots());
    this.down = proj.add(
      '0',
      new RepVggDw({ inChannels: dim, outChannels: outDim, kernelSize: 7, stride: 2, random }),
    );
    const skip = proj.add('1', new Slots()).add('conv', new Slots());
    this.skipNorm = skip.add('bn', new BatchNorm({ numFeatures: outDim }));
    this.skipConv = skip.add(
      'c',
      truncConv({ inChannels: outDim, outChannels: outDim, kernelSize: 1, bias: false, random }),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      const x = this.down.forward(input, options);
      return tf.add(this.skipConv.forward(this.skipNorm.forward(x, options)), x);
    });
  }
}

/** One stage: optional patch merging (slot 0 when present) then FFBlocks. */
class Stage extends Slots {
  readonly merging: PatchMerging | null;
  readonly blocks: FFBlock[];

  constructor(merging: PatchMerging | null, blocks: FFBlock[]) {
    super();
    this.merging = merging ? this.add('0', merging) : null;
    const offset = merging ? 1 : 0;
    this.blocks = blocks.map((block, index) => this.add(String(index + offset), block));
  }

  forward(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      let x = this.merging ? this.merging.forward(input, options) : input;
      for (const block of this.blocks) x = block.forward(x, options);
      return x;
    });
  }
}

function convOutput(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

/**
 * FFNet classifier (MetaMixer with FFNified sub-operations) on NHWC images [B, H, W, C]. Keys as
 * ysj9909/FFNet: `patch_embed.{0,2}.{c,bn}`, `stages.{i}.{j}` (stage i > 0: `stages.{i}.0.proj.*` is the
 * downsampling, blocks follow), blocks `token_mixer.0.{main.fc, main.conv1, main.conv2, layer_scale}` and
 * `channel_mixer.{main.conv, main.fc1, main.fc2, layer_scale}`, `norm` (BatchNorm) and `head`. The SE
 * option of the reference (`use_ses`, off in every published preset) is not implemented.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { FFNet, FFNET_PRESETS } from '@mlzoo/mixers';
 *
 * const model = new FFNet(FFNET_PRESETS.ffnet_fashion_mnist.config);
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class FFNet extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly embedDim: number[];
  readonly depth: number[];
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'patch_embed.0.c';
  readonly stemConv1: ConvBn;
  readonly stemConv2: ConvBn;
  readonly stages: Stage[] = [];
  readonly norm: BatchNorm;
  head: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: FFNetConfig = {}) {
    super();
    const size = config.imgSize ?? 256;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.inChans = config.inChans ?? 3;
    this.#numClasses = config.numClasses ?? 1000;
    this.#random = config.random;
    const inDim = config.inDim ?? 64;
    this.embedDim = [...(config.embedDim ?? [80, 160, 320, 640])];
    this.depth = [...(config.depth ?? [2, 2, 8, 2])];
    const stageCount = this.embedDim.length;
    const perStage = (values: readonly number[] | undefined, fallback: number[]) => [
      ...(values ?? fallback.slice(0, stageCount)),
    ];
    const kernelSizes = perStage(config.kernelSizes, [3, 3, 3, 3]);
    const kernelSizes1 = perStage(config.kernelSizes1, [3, 3, 7, 7]);
    const kernelSizes2 = perStage(config.kernelSizes2, [3, 3, 7, 7]);
    const expansionRatios = perStage(config.expansionRatios, [3, 3, 3, 3]);
    const useLayerScale = config.useLayerScale ?? false;
    const layerScaleInitValue = config.layerScaleInitValue ?? 1e-5;
    const dropPathRate = config.dropPathRate ?? 0;

    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems: string[] = [];
    if (!this.imgSize.every(positive))
      problems.push(`imgSize must be positive integers, got ${String(size)}`);
    if (!positive(this.inChans)) problems.push(`inChans must be a positive integer, got ${this.inChans}`);
    if (!positive(inDim)) problems.push(`inDim must be a positive integer, got ${inDim}`);
    if (!(Number.isInteger(this.#numClasses) && this.#numClasses >= 0)) {
      problems.push(`numClasses must be a non-negative integer, got ${this.#numClasses}`);
    }
    if (stageCount === 0 || !this.embedDim.every(positive)) {
      problems.push(
        `embedDim must be a non-empty list of positive integers, got [${this.embedDim.join(', ')}]`,
      );
    }
    const lists = { depth: this.depth, kernelSizes, kernelSizes1, kernelSizes2, expansionRatios };
    for (const [name, values] of Object.entries(lists)) {
      if (values.length !== stageCount) {
        problems.push(`${name} needs one value per stage (${stageCount}), got [${values.join(', ')}]`);
      }
    }
    if (!this.depth.every((value) => Number.isInteger(value) && value >= 0)) {
      problems.push(`depth must be non-negative integers, got [${this.depth.join(', ')}]`);
    }
    for (const [name, values] of [
      ['kernelSizes', kernelSizes],
      ['kernelSizes1', kernelSizes1],
      ['kernelSizes2', kernelSizes2],
    ] as const) {
      if (!values.every((kernel) => positive(kernel) && kernel % 2 === 1)) {
        problems.push(`${name} must be odd positive kernel sizes, got [${values.join(', ')}]`);
      }
    }
    if (!expansionRatios.every((ratio) => ratio > 0)) {
      problems.push(`expansionRatios must be positive, got [${expansionRatios.join(', ')}]`);
    }
    for (let stage = 1; stage < stageCount; stage++) {
      if (this.embedDim[stage]! % this.embedDim[stage - 1]! !== 0) {
        problems.push(
          `embedDim[${stage}] (${this.embedDim[stage]}) must be a multiple of embedDim[${stage - 1}] (${this.embedDim[stage - 1]}): the downsampling is depthwise`,
        );
      }
    }
    if (!(dropPathRate >= 0 && dropPathRate < 1))
      problems.push(`dropPathRate must be in [0, 1), got ${dropPathRate}`);
    if (problems.length > 0) throw new Error(`FFNet: ${problems.join('; ')}`);

    const random = this.#random;
    const stem = this.addModule('patch_embed', new Slots());
    this.stemConv1 = stem.add(
      '0',
      new ConvBn({
        inChannels: this.inChans,
        outChannels: inDim,
        kernelSize: 3,
        stride: 2,
        padding: 1,
        random,
      }),
    );
    this.stemConv2 = stem.add(
      '2',
      new ConvBn({
        inChannels: inDim,
        outChannels: this.embedDim[0]!,
        kernelSize: 3,
        stride: 2,
        padding: 1,
        random,
      }),
    );
    const totalBlocks = this.depth.reduce((sum, value) => sum + value, 0);
    const rate = (index: number) => (totalBlocks > 1 ? (dropPathRate * index) / (totalBlocks - 1) : 0);
    const stages = this.addModule('stages', new Slots());
    let blockIndex = 0;
    this.embedDim.forEach((dim, stage) => {
      const merging = stage > 0 ? new PatchMerging(this.embedDim[stage - 1]!, dim, random) : null;
      const blocks = Array.from(
        { length: this.depth[stage]! },
        () =>
          new FFBlock({
            dim,
            kernelSize: kernelSizes[stage]!,
            kernelSize1: kernelSizes1[stage]!,
            kernelSize2: kernelSizes2[stage]!,
            expansionRatio: expansionRatios[stage]!,
            useLayerScale,
            layerScaleInitValue,
            dropPathRate: rate(blockIndex++),
            random,
          }),
      );
      this.stages.push(stages.add(String(stage), new Stage(merging, blocks)));
    });
    this.numFeatures = this.embedDim[stageCount - 1]!;
    this.headHiddenSize = this.numFeatures;
    this.norm = this.addModule('norm', new BatchNorm({ numFeatures: this.numFeatures }));
    this.head = this.addModule('head', this.#makeHead(this.#numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  /** Spatial size after the stem and each stage, for an input of `imgSize`. */
  featureSizes(): Array<[number, number]> {
    let [height, width] = this.imgSize.map((value) => convOutput(convOutput(value, 3, 2, 1), 3, 2, 1)) as [
      number,
      number,
    ];
    return this.stages.map((_, stage) => {
      if (stage > 0) [height, width] = [convOutput(height, 7, 2, 3), convOutput(width, 7, 2, 3)];
      return [height, width];
    });
  }

  #makeHead(numClasses: number): Linear | Identity {
    if (numClasses === 0) return new Identity();
    const head = new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random });
    tf.tidy(() => {
      head.weight.assign(init.truncNormal(head.weight.shape, { std: 0.02, random: this.#random }));
      head.bias?.assign(tf.zerosLike(head.bias));
    });
    return head;
  }

  #stem(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    return tf.tidy(() => this.stemConv2.forward(gelu(this.stemConv1.forward(input, options)), options));
  }

  /** Stem, stages and the final BatchNorm: [B, H, W, C] -> [B, h, w, numFeatures]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = this.#stem(input, options);
      for (const stage of this.stages) x = stage.forward(x, options);
      return this.norm.forward(x, options);
    });
  }

  /** Global average pool and head: [B, h, w, C] -> [B, numClasses]. */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'h', 'w', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = tf.mean(features, [1, 2]);
      return options.preLogits ? pooled : this.head.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** Outputs of the selected stages (NHWC, the last before `norm`). */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.stages.length));
    const last = Math.max(...chosen);
    return tf.tidy(() => {
      const outputs: tf.Tensor[] = [];
      let x = this.#stem(input, options);
      for (let stage = 0; stage <= last; stage++) {
        x = this.stages[stage]!.forward(x, options);
        if (chosen.has(stage)) outputs.push(x);
      }
      return outputs;
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

const PAPER = 'MetaMixer Is All You Need (arXiv 2406.02021)';
const SOURCE = 'ysj9909/FFNet models/ffnet.py (ffnet_1 .. ffnet_4)';

/** FFNet presets (pure data); counts from a PyTorch re-creation of the reference (tools/fixtures/metamixer.py). */
export const FFNET_PRESETS: Record<string, ModelPreset<FFNetConfig>> = {
  ffnet_1: {
    config: {
      imgSize: 256,
      inChans: 3,
      numClasses: 1000,
      inDim: 64,
      embedDim: [80, 160, 320, 640],
      depth: [2, 2, 8, 2],
      kernelSizes: [3, 3, 3, 3],
      kernelSizes1: [3, 3, 7, 7],
      kernelSizes2: [3, 3, 7, 7],
      expansionRatios: [3, 3, 3, 3],
      dropPathRate: 0.1,
    },
    numParameters: 13_775_656,
    description: 'FFNet-1: channels 80/160/320/640, blocks 2/2/8/2, 3x3 channel-mixer convs.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  ffnet_2: {
    config: {
      imgSize: 256,
      inChans: 3,
      numClasses: 1000,
      inDim: 64,
      embedDim: [88, 176, 352, 704],
      depth: [3, 3, 15, 3],
      kernelSizes: [7, 7, 7, 7],
      kernelSizes1: [3, 3, 7, 7],
      kernelSizes2: [3, 3, 7, 7],
      expansionRatios: [3, 3, 3, 3],
      dropPathRate: 0.15,
    },
    numParameters: 27_208_408,
    description: 'FFNet-2: channels 88/176/352/704, blocks 3/3/15/3, RepVGG 7x7 channel-mixer convs.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  ffnet_3: {
    config: {
      imgSize: 256,
      inChans: 3,
      numClasses: 1000,
      inDim: 64,
      embedDim: [96, 192, 384, 768],
      depth: [4, 4, 22, 5],
      kernelSizes: [7, 7, 7, 7],
      kernelSizes1: [3, 3, 7, 7],
      kernelSizes2: [3, 3, 7, 7],
      expansionRatios: [3, 3, 3, 3],
      useLayerScale: true,
      layerScaleInitValue: 1e-6,
      dropPathRate: 0.35,
    },
    numParameters: 48_817_896,
    description: 'FFNet-3: channels 96/192/384/768, blocks 4/4/22/5, layer scale 1e-6.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  ffnet_4: {
    config: {
      imgSize: 256,
      inChans: 3,
      numClasses: 1000,
      inDim: 64,
      embedDim: [128, 256, 512, 1024],
      depth: [4, 4, 27, 3],
      kernelSizes: [7, 7, 7, 7],
      kernelSizes1: [3, 3, 7, 7],
      kernelSizes2: [3, 3, 7, 7],
      expansionRatios: [3, 3, 3, 3],
      useLayerScale: true,
      layerScaleInitValue: 1e-6,
      dropPathRate: 0.4,
    },
    numParameters: 79_868_968,
    description: 'FFNet-4: channels 128/256/512/1024, blocks 4/4/27/3, layer scale 1e-6.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  ffnet_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      inDim: 16,
      embedDim: [32, 64, 128],
      depth: [1, 2, 2],
      kernelSizes: [3, 3, 7],
      kernelSizes1: [3, 3, 7],
      kernelSizes2: [3, 3, 7],
      expansionRatios: [3, 3, 3],
    },
    numParameters: 388_122,
    description: 'Small three-stage FFNet for 28x28 grayscale images: 32/64/128 channels on 7x7, 4x4, 2x2.',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/mixers',
  },
};

/** `ffnet_1` with optional config overrides. */
export function ffnet1(overrides: FFNetConfig = {}): FFNet {
  return new FFNet({ ...FFNET_PRESETS.ffnet_1!.config, ...overrides });
}

/** `ffnet_2` with optional config overrides. */
export function ffnet2(overrides: FFNetConfig = {}): FFNet {
  return new FFNet({ ...FFNET_PRESETS.ffnet_2!.config, ...overrides });
}

/** `ffnet_3` with optional config overrides. */
export function ffnet3(overrides: FFNetConfig = {}): FFNet {
  return new FFNet({ ...FFNET_PRESETS.ffnet_3!.config, ...overrides });
}

/** `ffnet_4` with optional config overrides. */
export function ffnet4(overrides: FFNetConfig = {}): FFNet {
  return new FFNet({ ...FFNET_PRESETS.ffnet_4!.config, ...overrides });
}

/** `ffnet_fashion_mnist` with optional config overrides. */
export function ffnetFashionMnist(overrides: FFNetConfig = {}): FFNet {
  return new FFNet({ ...FFNET_PRESETS.ffnet_fashion_mnist!.config, ...overrides });
}

/** Factory used by the registry. */
export function createFFNet(config: FFNetConfig): FFNet {
  return new FFNet(config);
}

/** Registers every FFNet preset with core's `createModel`. Nothing registers on import. */
export function registerMetaMixerModels(): void {
  for (const [name, preset] of Object.entries(FFNET_PRESETS)) {
    registerModel(name, createFFNet, preset);
  }
}
