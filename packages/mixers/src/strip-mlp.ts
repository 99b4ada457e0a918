// Strip-MLP: "Strip-MLP: Efficient Token Interaction for Vision MLP", Guiping Cao, Shengda Luo, Wenjian
// Huang, Xiangyuan Lan, Dongmei Jiang, Yaowei Wang, Jianguo Zhang, ICCV 2023,
// https://arxiv.org/abs/2307.11458. Follows the official implementation Med-Process/Strip_MLP
// (`models/strip_mlp.py`: StripMLPNet, BasicBlock, TokenMixing, StripMLP_Block, ChannelMixing, GRN,
// RelativePosition), with its state-dict keys.
//
// Channel-last translation of the Strip MLP layer. The reference splits the C' = C / 2 channels of the
// first half into C1 groups of Cg channels (channel c1 * Cg + cg; C1 = 2 when C % 80 == 0, else 4) and
// runs `proj_h` as a grouped (1 x 3) convolution on an NCHW image whose channels are (cg, w) and whose
// spatial axes are (c1, h): each output mixes a whole row (strip) of width W and three adjacent rows,
// with weights shared over the c1 groups (the Cascade Group Strip Mixing Module). Here the image is
// [N, H, W, C'] viewed as [N, H, W, C1, Cg]; it is transposed to [N, C1, H, (Cg, W)], convolved by the
// same grouped convolution (NHWC), and transposed back. `proj_w` is the same with H and W exchanged.
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
} from '@mlzoo/core';
import { BatchNorm, Conv2d, dropPath, gelu, Identity, LayerNorm, Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface StripMlpConfig {
  /** Square image size (default 224): the strip layers are built for one resolution. */
  imgSize?: number;
  /** Patch-embedding stride and kernel (default 4). */
  patchSize?: number;
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0 makes `forward` return the pooled features). */
  numClasses?: number;
  /** Channels of the first stage; stage s has embedDim * 2^s (default 80). */
  embedDim?: number;
  /**
   * Blocks per stage (default [2, 2, 12, 2], Strip-MLP-T). The reference always has four stages; one
   * to four are accepted here, and the cross-stage convolutions exist only when the stages they feed
   * exist, so four-stage models have exactly the reference's keys.
   */
  layers?: readonly number[];
  /** Hidden width of the channel MLP as a multiple of the channels (the reference's alpha, default 3). */
  mlpRatio?: number;
  /**
   * Drop-path probability of every residual branch (default 0.1: the reference hard-codes
   * `DropPath(0.1)` inside `BasicBlock` whatever its configuration says).
   */
  dropPathRate?: number;
  random?: Random;
}

/** Strip groups C1 of a block with `channels` channels (the reference: 2 when channels % 80 == 0, else 4). */
export function stripGroups(channels: number): number {
  return channels % 80 === 0 ? 2 : 4;
}

/** A module whose children are added by name from outside (PyTorch Sequential slots). */
class Slots extends Module {
  add<M extends Module>(name: string, module: M): M {
    return this.addModule(name, module);
  }
}

function pointwise(inChannels: number, outChannels: number, bias: boolean, random?: Random): Conv2d {
  return new Conv2d({ inChannels, outChannels, kernelSize: 1, bias, random });
}

/**
 * Learned relative position table (`RelativePosition`): `embeddings_table` [2 S + 1, channels]; the
 * embedding of position (i, j) is row j - i + S. Computed as a constant one-hot matrix times the
 * table (a matMul, so the gradient needs no scatter kernel).
 */
export class RelativePosition extends Module {
  readonly size: number;
  readonly channels: number;
  readonly embeddingsTable: tf.Variable;
  readonly #selection: Float32Array;

  constructor(options: { channels: number; size: number; random?: Random }) {
    super();
    this.size = options.size;
    this.channels = options.channels;
    const rows = 2 * options.size + 1;
    this.embeddingsTable = this.addParameter(
      'embeddings_table',
      init.truncNormal([rows, options.channels], { std: 0.02, random: options.random }),
    );
    this.#selection = new Float32Array(options.size * options.size * rows);
    for (let i = 0; i < options.size; i++) {
      for (let j = 0; j < options.size; j++) {
        this.#selection[(i * options.size + j) * rows + (j - i + options.size)] = 1;
      }
    }
  }

  /** [S, S, channels]. */
  forward(): tf.Tensor {
    return tf.tidy(() => {
      const rows = 2 * this.size + 1;
      const selection = tf.tensor2d(this.#selection, [this.size * this.size, rows]);
      return tf.reshape(tf.matMul(selection, this.embeddingsTable as tf.Tensor2D), [
        this.size,
        this.size,
        this.channels,
      ]);
    });
  }
}

/** Mlp of 1 x 1 convolutions (`reweight`): fc1 -> GELU -> fc2. */
class PointwiseMlp extends Module {
  readonly fc1: Conv2d;
  readonly fc2: Conv2d;

  constructor(inChannels: number, hidden: number, outChannels: number, random?: Random) {
    super();
    this.fc1 = this.addModule('fc1', pointwise(inChannels, hidden, true, random));
    this.fc2 = this.addModule('fc2', pointwise(hidden, outChannels, true, random));
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => this.fc2.forward(gelu(this.fc1.forward(input))));
  }
}

/**
 * The Strip-MLP token-mixing block (`StripMLP_Block`) on NHWC [N, S, S, channels]: a 1 x 1 conv + BN +
 * GELU (`mlp`), then the first half of the channels through the Strip MLP layer (CGSMM: `proj_h`,
 * `fuse_h`, `BN`, `proj_w`, `fuse_w` with relative position tables), the second half through the Local
 * Strip Mixing Module (LSMM: depthwise (3, 7) `fc_h` and (7, 3) `fc_w` convolutions weighted per channel
 * by `reweight`), and a 1 x 1 `fuse` over both halves.
 */
export class StripMlpBlock extends Module {
  readonly channels: number;
  readonly size: number;
  readonly groups: number;
  readonly groupWidth: number;
  readonly BN: BatchNorm;
  readonly projH: Conv2d;
  readonly projW: Conv2d;
  readonly fuseH: Conv2d;
  readonly fuseW: Conv2d;
  readonly mlpConv: Conv2d;
  readonly mlpNorm: BatchNorm;
  readonly fcH: Conv2d;
  readonly fcW: Conv2d;
  readonly reweight: PointwiseMlp;
  readonly fuse: Conv2d;
  readonly relatePosH: RelativePosition;
  readonly relatePosW: RelativePosition;

  constructor(options: { channels: number; size: number; random?: Random }) {
    super();
    const { channels, size, random } = options;
    this.groups = stripGroups(channels);
    const half = channels / 2;
    if (!(Number.isInteger(channels) && channels > 0 && half % this.groups === 0)) {
      throw new Error(
        `${this.location}: channels must be a positive multiple of ${2 * this.groups} (two halves of ${this.groups} strip groups), got ${channels}`,
      );
    }
    this.channels = channels;
    this.size = size;
    this.groupWidth = half / this.groups;
    const cg = this.groupWidth;
    this.BN = this.addModule('BN', new BatchNorm({ numFeatures: half }));
    const strip = (name: string) =>
      this.addModule(
        name,
        new Conv2d({
          inChannels: size * cg,
          outChannels: cg * size,
          kernelSize: [1, 3],
          padding: [0, 1],
          groups: cg,
          random,
        }),
      );
    this.projH = strip('proj_h');
    this.projW = strip('proj_w');
    this.fuseH = this.addModule('fuse_h', pointwise(channels, half, false, random));
    this.fuseW = this.addModule('fuse_w', pointwise(channels, half, false, random));
    const mlp = this.addModule('mlp', new Slots());
    this.mlpConv = mlp.add('0', pointwise(channels, channels, true, random));
    this.mlpNorm = mlp.add('1', new BatchNorm({ numFeatures: channels }));
    const depthwise = (name: string, kernel: [number, number]) =>
      this.addModule(
        name,
        new Conv2d({
          inChannels: half,
          outChannels: half,
          kernelSize: kernel,
          padding: [(kernel[0] - 1) / 2, (kernel[1] - 1) / 2],
          groups: half,
          bias: false,
          random,
        }),
      );
    this.fcH = depthwise('fc_h', [3, 7]);
    this.fcW = depthwise('fc_w', [7, 3]);
    this.reweight = this.addModule(
      'reweight',
      new PointwiseMlp(half, Math.floor(half / 2), half * 3, random),
    );
    this.fuse = this.addModule('fuse', pointwise(channels, channels, false, random));
    this.relatePosH = this.addModule('relate_pos_h', new RelativePosition({ channels: half, size, random }));
    this.relatePosW = this.addModule('relate_pos_w', new RelativePosition({ channels: half, size, random }));
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['N', this.size, this.size, this.channels]);
    return tf.tidy(() => {
      const [batch] = input.shape as number[];
      const half = this.channels / 2;
      const x = gelu(this.mlpNorm.forward(this.mlpConv.forward(input), options));
      const first = tf.slice(x, [0, 0, 0, 0], [batch!, this.size, this.size, half]);
      const second = tf.slice(x, [0, 0, 0, half], [batch!, this.size, this.size, half]);
      const strips = this.#stripMlp(first, options);
      // LSMM: fc_h output is the reference's x_w and fc_w output its x_h
      const alongWidth = this.fcH.forward(second);
      const alongHeight = this.fcW.forward(second);
      const pooled = tf.mean(tf.addN([alongHeight, alongWidth, second]), [1, 2], true);
      const weights = tf.softmax(tf.reshape(this.reweight.forward(pooled), [batch!, half, 3]));
      const weight = (index: number) =>
        tf.reshape(tf.slice(weights, [0, 0, index], [batch!, half, 1]), [batch!, 1, 1, half]);
      const local = tf.addN([
        tf.mul(alongHeight, weight(0)),
        tf.mul(alongWidth, weight(1)),
        tf.mul(second, weight(2)),
      ]);
      return this.fuse.forward(tf.concat([strips, local], 3));
    });
  }

  /** The Strip MLP layer with the Cascade Group Strip Mixing Module, on the first half [N, S, S, C']. */
  #stripMlp(x: tf.Tensor, options: ForwardOptions): tf.Tensor {
    const [batch] = x.shape as number[];
    const size = this.size;
    const groups = this.groups;
    const cg = this.groupWidth;
    const half = this.channels / 2;
    const withPosition = tf.add(x, this.relatePosH.forward());
    // [N, H, W, C1, Cg] -> [N, C1, H, (Cg, W)] -> grouped (1, 3) conv -> back
    const rowsIn = tf.reshape(
      tf.transpose(tf.reshape(withPosition, [batch!, size, size, groups, cg]), [0, 3, 1, 4, 2]),
      [batch!, groups, size, cg * size],
    );
    const rowsOut = tf.reshape(this.projH.forward(rowsIn), [batch!, groups, size, cg, size]);
    const mixedH = tf.reshape(tf.transpose(rowsOut, [0, 2, 4, 1, 3]), [batch!, size, size, half]);
    const fusedH = tf.add(
      gelu(this.BN.forward(this.fuseH.forward(tf.concat([mixedH, x], 3)), options)),
      this.relatePosW.forward(),
    );
    // [N, H, W, C1, Cg] -> [N, C1, W, (Cg, H)] -> grouped (1, 3) conv -> back
    const columnsIn = tf.reshape(
      tf.transpose(tf.reshape(fusedH, [batch!, size, size, groups, cg]), [0, 3, 2, 4, 1]),
      [batch!, groups, size, cg * size],
    );
    const columnsOut = tf.reshape(this.projW.forward(columnsIn), [batch!, groups, size, cg, size]);
    const mixedW = tf.reshape(tf.transpose(columnsOut, [0, 4, 2, 1, 3]), [batch!, size, size, half]);
    return this.fuseW.forward(tf.concat([x, mixedW], 3));
  }
}

/** `TokenMixing`: `dwsc` (BN -> GELU -> depthwise 3 x 3, keys `dwsc.conv_merge.{BN,Conv}`) then `smlp_block`. */
class TokenMixing extends Module {
  readonly dwscNorm: BatchNorm;
  readonly dwscConv: Conv2d;
  readonly smlpBlock: StripMlpBlock;

  constructor(channels: number, size: number, random?: Random) {
    super();
    this.smlpBlock = this.addModule('smlp_block', new StripMlpBlock({ channels, size, random }));
    const merge = this.addModule('dwsc', new Slots()).add('conv_merge', new Slots());
    this.dwscNorm = merge.add('BN', new BatchNorm({ numFeatures: channels }));
    this.dwscConv = merge.add(
      'Conv',
      new Conv2d({
        inChannels: channels,
        outChannels: channels,
        kernelSize: 3,
        padding: 1,
        groups: channels,
        bias: false,
        random,
      }),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() =>
      this.smlpBlock.forward(this.dwscConv.forward(gelu(this.dwscNorm.forward(input, options))), options),
    );
  }
}

/** Global Response Normalization (`GRN`, ConvNeXt V2) on channel-last input; `gamma`, `beta` [1, 1, 1, C]. */
class GlobalResponseNorm extends Module {
  readonly gamma: tf.Variable;
  readonly beta: tf.Variable;

  constructor(channels: number) {
    super();
    this.gamma = this.addParameter('gamma', init.zeros([1, 1, 1, channels]));
    this.beta = this.addParameter('beta', init.zeros([1, 1, 1, channels]));
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const norms = tf.sqrt(tf.sum(tf.square(input), [1, 2], true));
      const relative = tf.div(norms, tf.add(tf.mean(norms, -1, true), 1e-6));
      return tf.add(tf.add(tf.mul(this.gamma, tf.mul(input, relative)), this.beta), input);
    });
  }
}

/** `ChannelMixing`: depthwise 7 x 7 -> LayerNorm -> fc1 -> GELU -> GRN -> fc2. */
class ChannelMixing extends Module {
  readonly conv77: Conv2d;
  readonly layerNorm: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly grn: GlobalResponseNorm;

  constructor(channels: number, ratio: number, random?: Random) {
    super();
    this.conv77 = this.addModule(
      'conv_77',
      new Conv2d({
        inChannels: channels,
        outChannels: channels,
        kernelSize: 7,
        padding: 3,
        groups: channels,
        bias: false,
        random,
      }),
    );
    this.layerNorm = this.addModule('layer_norm', new LayerNorm({ normalizedShape: channels, eps: 1e-5 }));
    this.fc1 = this.addModule(
      'fc1',
      new Linear({ inFeatures: channels, outFeatures: ratio * channels, random }),
    );
    this.fc2 = this.addModule(
      'fc2',
      new Linear({ inFeatures: ratio * channels, outFeatures: channels, random }),
    );
    this.grn = this.addModule('grn', new GlobalResponseNorm(ratio * channels));
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() =>
      this.fc2.forward(
        this.grn.forward(gelu(this.fc1.forward(this.layerNorm.forward(this.conv77.forward(input))))),
      ),
    );
  }
}

/** `BasicBlock`: x + DropPath(TokenMixing(x)), then x + DropPath(ChannelMixing(x)). */
export class StripMlpBasicBlock extends Module {
  readonly tokenMixing: TokenMixing;
  readonly channelMixing: ChannelMixing;
  readonly dropPathRate: number;
  readonly #random: Random | undefined;

  constructor(options: {
    channels: number;
    size: number;
    mlpRatio: number;
    dropPathRate: number;
    random?: Random;
  }) {
    super();
    this.dropPathRate = options.dropPathRate;
    this.#random = options.random;
    this.tokenMixing = this.addModule(
      'token_mixing',
      new TokenMixing(options.channels, options.size, options.random),
    );
    this.channelMixing = this.addModule(
      'channel_mixing',
      new ChannelMixing(options.channels, options.mlpRatio, options.random),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const drop = (x: tf.Tensor) =>
        dropPath(x, this.dropPathRate, { training: options.training, random: this.#random });
      const x = tf.add(input, drop(this.tokenMixing.forward(input, options)));
      return tf.add(x, drop(this.channelMixing.forward(x)));
    });
  }
}

/**
 * Strip-MLP classifier (`StripMLPNet`) on NHWC images [B, S, S, C]. Keys as the reference:
 * `patch_embed`, `blocks{1..4}.{i}.token_mixing.{dwsc.conv_merge.*, smlp_block.*}`,
 * `blocks{s}.{i}.channel_mixing.{conv_77, layer_norm, fc1, grn, fc2}`, `merging{1..3}`,
 * `conv_s1_28`, `conv_s1_14`, `conv_s2_14` (cross-stage depthwise 2 x 2 stride-2 convs), `norm`
 * (BatchNorm) and `head`. BatchNorm runs on batch statistics with `{training: true}` and on the running
 * statistics otherwise, so training needs more than one value per channel at the last stage.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { StripMLPNet, STRIP_MLP_PRESETS } from '@mlzoo/mixers';
 *
 * const model = new StripMLPNet(STRIP_MLP_PRESETS.strip_mlp_fashion_mnist.config);
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class StripMLPNet extends Module implements Classifier {
  readonly imgSize: number;
  readonly patchSize: number;
  readonly inChans: number;
  readonly embedDim: number;
  readonly layers: number[];
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'head';
  readonly firstLayerName = 'patch_embed';
  readonly patchEmbed: Conv2d;
  readonly stages: StripMlpBasicBlock[][] = [];
  readonly merging: Conv2d[] = [];
  readonly crossStage: Partial<Record<'conv_s1_28' | 'conv_s1_14' | 'conv_s2_14', Conv2d>> = {};
  readonly norm: BatchNorm;
  head: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: StripMlpConfig = {}) {
    super();
    this.imgSize = config.imgSize ?? 224;
    this.patchSize = config.patchSize ?? 4;
    this.inChans = config.inChans ?? 3;
    this.embedDim = config.embedDim ?? 80;
    this.layers = [...(config.layers ?? [2, 2, 12, 2])];
    this.#numClasses = config.numClasses ?? 1000;
    this.#random = config.random;
    const mlpRatio = config.mlpRatio ?? 3;
    const dropPathRate = config.dropPathRate ?? 0.1;
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems: string[] = [];
    if (!positive(this.imgSize))
      problems.push(`imgSize must be a positive integer (square images), got ${String(this.imgSize)}`);
    if (!positive(this.patchSize))
      problems.push(`patchSize must be a positive integer, got ${this.patchSize}`);
    if (!positive(this.inChans)) problems.push(`inChans must be a positive integer, got ${this.inChans}`);
    if (!positive(mlpRatio)) problems.push(`mlpRatio must be a positive integer, got ${mlpRatio}`);
    if (!(Number.isInteger(this.#numClasses) && this.#numClasses >= 0)) {
      problems.push(`numClasses must be a non-negative integer, got ${this.#numClasses}`);
    }
    if (!(dropPathRate >= 0 && dropPathRate < 1))
      problems.push(`dropPathRate must be in [0, 1), got ${dropPathRate}`);
    const stageCount = this.layers.length;
    if (
      stageCount < 1 ||
      stageCount > 4 ||
      !this.layers.every((depth) => Number.isInteger(depth) && depth >= 0)
    ) {
      problems.push(`layers must be 1 to 4 non-negative block counts, got [${this.layers.join(', ')}]`);
    }
    const resolution = this.imgSize / this.patchSize;
    const scale = 2 ** Math.max(stageCount - 1, 0);
    if (!(Number.isInteger(resolution) && resolution % scale === 0 && resolution >= scale)) {
      problems.push(
        `imgSize / patchSize (${this.imgSize} / ${this.patchSize}) must be an integer divisible by ${scale} for ${stageCount} stages`,
      );
    }
    for (let stage = 0; stage < stageCount; stage++) {
      const channels = this.embedDim * 2 ** stage;
      const groups = stripGroups(channels);
      if (!(positive(channels) && channels % (2 * groups) === 0)) {
        problems.push(
          `stage ${stage + 1} has ${channels} channels; they must be a multiple of ${2 * groups} (two halves of ${groups} strip groups)`,
        );
      }
    }
    if (problems.length > 0) throw new Error(`StripMLPNet: ${problems.join('; ')}`);

    const random = this.#random;
    this.patchEmbed = this.addModule(
      'patch_embed',
      new Conv2d({
        inChannels: this.inChans,
        outChannels: this.embedDim,
        kernelSize: this.patchSize,
        stride: this.patchSize,
        bias: false,
        random,
      }),
    );
    this.layers.forEach((depth, stage) => {
      const list = this.addModule(`blocks${stage + 1}`, new Slots());
      const channels = this.embedDim * 2 ** stage;
      const blocks: StripMlpBasicBlock[] = [];
      for (let index = 0; index < depth; index++) {
        blocks.push(
          list.add(
            String(index),
            new StripMlpBasicBlock({
              channels,
              size: resolution / 2 ** stage,
              mlpRatio,
              dropPathRate,
              random,
            }),
          ),
        );
      }
      this.stages.push(blocks);
    });
    for (let stage = 1; stage < stageCount; stage++) {
      const channels = this.embedDim * 2 ** (stage - 1);
      this.merging.push(
        this.addModule(
          `merging${stage}`,
          new Conv2d({
            inChannels: channels,
            outChannels: 2 * channels,
            kernelSize: 2,
            stride: 2,
            bias: false,
            random,
          }),
        ),
      );
    }
    const crossStage = (name: 'conv_s1_28' | 'conv_s1_14' | 'conv_s2_14', channels: number) => {
      this.crossStage[name] = this.addModule(
        name,
        new Conv2d({
          inChannels: channels,
          outChannels: 2 * channels,
          kernelSize: 2,
          stride: 2,
          groups: channels,
          bias: false,
          random,
        }),
      );
    };
    if (stageCount >= 3) crossStage('conv_s1_28', this.embedDim * 2);
    if (stageCount >= 4) {
      crossStage('conv_s1_14', this.embedDim * 4);
      crossStage('conv_s2_14', this.embedDim * 4);
    }
    this.numFeatures = this.embedDim * 2 ** (stageCount - 1);
    this.headHiddenSize = this.numFeatures;
    this.head = this.addModule('head', this.#makeHead(this.#numClasses));
    this.norm = this.addModule('norm', new BatchNorm({ numFeatures: this.numFeatures }));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  /** Runs the stages; returns every stage's output (NHWC), the last one before `norm`. */
  #stages(input: tf.Tensor, options: ForwardOptions, keep: (stage: number) => boolean): tf.Tensor[] {
    const run = (stage: number, x: tf.Tensor) => {
      let y = x;
      for (const block of this.stages[stage]!) y = block.forward(y, options);
      return y;
    };
    const outputs: tf.Tensor[] = [];
    const count = this.layers.length;
    let x = run(0, this.patchEmbed.forward(input));
    if (keep(0)) outputs.push(x);
    let fromStage1To3: tf.Tensor | null = null;
    let fromStage1To4: tf.Tensor | null = null;
    let fromStage2To4: tf.Tensor | null = null;
    if (count >= 2) {
      x = this.merging[0]!.forward(x);
      if (count >= 3) fromStage1To3 = this.crossStage.conv_s1_28!.forward(x);
      if (count >= 4) fromStage1To4 = this.crossStage.conv_s1_14!.forward(fromStage1To3!);
      x = run(1, x);
      if (keep(1)) outputs.push(x);
    }
    if (count >= 3) {
      x = this.merging[1]!.forward(x);
      if (count >= 4) fromStage2To4 = this.crossStage.conv_s2_14!.forward(x);
      x = run(2, tf.add(x, fromStage1To3!));
      if (keep(2)) outputs.push(x);
    }
    if (count >= 4) {
      x = this.merging[2]!.forward(x);
      x = run(3, tf.addN([x, fromStage1To4!, fromStage2To4!]));
      if (keep(3)) outputs.push(x);
    }
    return outputs;
  }

  /** Stages and the final BatchNorm: [B, S, S, C] -> [B, s, s, numFeatures]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize, this.imgSize, this.inChans]);
    const last = this.layers.length - 1;
    return tf.tidy(() =>
      this.norm.forward(this.#stages(input, options, (stage) => stage === last)[0]!, options),
    );
  }

  /** Global average pool and head: [B, s, s, C] -> [B, numClasses]. */
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
    this.checkShape(input, ['B', this.imgSize, this.imgSize, this.inChans]);
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.layers.length));
    return tf.tidy(() => this.#stages(input, options, (stage) => chosen.has(stage)));
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

const PAPER = 'Strip-MLP: Efficient Token Interaction for Vision MLP (arXiv 2307.11458)';
const SOURCE = 'Med-Process/Strip_MLP models/strip_mlp.py (__main__ variants)';

function imagenet(embedDim: number, layers: number[]): StripMlpConfig {
  return { imgSize: 224, patchSize: 4, inChans: 3, numClasses: 1000, embedDim, layers };
}

/** Strip-MLP presets (pure data); counts from a PyTorch re-creation of the reference (tools/fixtures/strip_mlp.py). */
export const STRIP_MLP_PRESETS: Record<string, ModelPreset<StripMlpConfig>> = {
  strip_mlp_light_tiny: {
    config: imagenet(80, [2, 2, 6, 2]),
    numParameters: 18_243_920,
    description: 'Strip-MLP-T* (light tiny): embed 80, blocks 2/2/6/2.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  strip_mlp_tiny: {
    config: imagenet(80, [2, 2, 12, 2]),
    numParameters: 24_903_920,
    description: 'Strip-MLP-T: embed 80, blocks 2/2/12/2.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  strip_mlp_small: {
    config: imagenet(96, [2, 2, 18, 2]),
    numParameters: 42_568_600,
    description: 'Strip-MLP-S: embed 96, blocks 2/2/18/2.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  strip_mlp_base: {
    config: imagenet(112, [2, 2, 18, 2]),
    numParameters: 57_216_480,
    description: 'Strip-MLP-B: embed 112, blocks 2/2/18/2.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  strip_mlp_fashion_mnist: {
    config: { imgSize: 28, patchSize: 2, inChans: 1, numClasses: 10, embedDim: 48, layers: [2, 2] },
    numParameters: 294_610,
    description: 'Small two-stage Strip-MLP for 28x28 grayscale images: 48 channels on 14x14, 96 on 7x7.',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/mixers',
  },
};

/** `strip_mlp_light_tiny` with optional config overrides. */
export function stripMlpLightTiny(overrides: StripMlpConfig = {}): StripMLPNet {
  return new StripMLPNet({ ...STRIP_MLP_PRESETS.strip_mlp_light_tiny!.config, ...overrides });
}

/** `strip_mlp_tiny` with optional config overrides. */
export function stripMlpTiny(overrides: StripMlpConfig = {}): StripMLPNet {
  return new StripMLPNet({ ...STRIP_MLP_PRESETS.strip_mlp_tiny!.config, ...overrides });
}

/** `strip_mlp_small` with optional config overrides. */
export function stripMlpSmall(overrides: StripMlpConfig = {}): StripMLPNet {
  return new StripMLPNet({ ...STRIP_MLP_PRESETS.strip_mlp_small!.config, ...overrides });
}

/** `strip_mlp_base` with optional config overrides. */
export function stripMlpBase(overrides: StripMlpConfig = {}): StripMLPNet {
  return new StripMLPNet({ ...STRIP_MLP_PRESETS.strip_mlp_base!.config, ...overrides });
}

/** `strip_mlp_fashion_mnist` with optional config overrides. */
export function stripMlpFashionMnist(overrides: StripMlpConfig = {}): StripMLPNet {
  return new StripMLPNet({ ...STRIP_MLP_PRESETS.strip_mlp_fashion_mnist!.config, ...overrides });
}

/** Factory used by the registry. */
export function createStripMlp(config: StripMlpConfig): StripMLPNet {
  return new StripMLPNet(config);
}

/** Registers every Strip-MLP preset with core's `createModel`. Nothing registers on import. */
export function registerStripMlpModels(): void {
  for (const [name, preset] of Object.entries(STRIP_MLP_PRESETS)) {
    registerModel(name, createStripMlp, preset);
  }
}
