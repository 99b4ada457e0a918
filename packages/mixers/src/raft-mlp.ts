// RaftMLP: "RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality?",
// Yuki Tatsunami and Masato Taki, 2021 (ACCV 2022), https://arxiv.org/abs/2108.04384.
// Follows the official implementation okojoalg/raft-mlp (`libs/models.py` RaftMLP, `libs/modules.py`
// SerialPermutedLevel, PermutedBlock, ChannelBlock, CrossScaleMLPEmbedding), with its state-dict keys,
// for the published configuration: serial permuted ("raft") token mixing, cross-scale MLP embedding,
// no multi-level shortcut (`shortcut: False` in the ImageNet configs).
//
// Channel-last translation. The reference keeps tokens as [B, (h w), C] and, for vertical mixing,
// rearranges `b (h w) (chw co) -> b (co w) (chw h)`: channel c = raft * (C / r) + co, and one MLP with
// weights shared over (co, w) mixes the r * h values (raft, h) of a column. Here the image stays
// [B, H, W, C]; the block views the channels as [r, C / r], transposes to [B, co, W, r, H] for the MLP
// and back. The block's LayerNorm sees the channels in (co, raft) order (`b (c1 o1) (c2 o2) -> b (o1 o2)
// (c1 c2)` in the reference), so its weight index is co * r + raft: the mean and variance do not depend
// on the order, but the affine parameters do, and they are applied in that order here too.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  type ForwardOptions,
  type ModelPreset,
  Module,
  type Random,
  registerModel,
  resolveIntermediateIndices,
} from '@mlzoo/core';
import { dropout, dropPath, gelu, Identity, LayerNorm, Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

/** One level (stage) of a RaftMLP. */
export interface RaftMlpLevelConfig {
  /** Number of raft blocks (vertical, horizontal and channel mixing). */
  depth: number;
  /** Channels of the level. */
  dim: number;
  /** Down-sampling factor of the level's embedding (its stride). */
  patchSize: number;
  /** Number of rafts r: channel groups mixed together with one spatial axis (must divide dim). */
  raftSize: number;
  /**
   * Kernel sizes of the cross-scale MLP embedding (default [patchSize]). Each kernel k unfolds k x k
   * patches at stride patchSize with padding (k - patchSize) / 2; the patches of every kernel are
   * concatenated and projected by one Linear (`fc`). Every k must be a multiple of patchSize and the
   * smallest must equal patchSize, as in the reference.
   */
  embeddingKernels?: readonly number[];
}

export interface RaftMlpConfig {
  /** Image size, square or [height, width] (default 224). Each level's grid must divide exactly. */
  imgSize?: number | readonly [number, number];
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0 makes `forward` return the pooled features). */
  numClasses?: number;
  /** The levels (default: RaftMLP-S, see `RAFT_MLP_PRESETS.raft_mlp_s`). */
  layers?: readonly RaftMlpLevelConfig[];
  /** Hidden width of the raft (token) MLPs as a multiple of r * (spatial size) (default 2). */
  tokenExpansionFactor?: number;
  /** Hidden width of the channel MLPs as a multiple of dim (default 4). */
  channelExpansionFactor?: number;
  /** Dropout inside every MLP, in training (default 0). */
  dropRate?: number;
  /** Drop-path probability of every residual branch (the same for all blocks, as the reference; default 0). */
  dropPathRate?: number;
  random?: Random;
}

const RAFT_MLP_S_LAYERS: readonly RaftMlpLevelConfig[] = [
  { depth: 2, dim: 64, patchSize: 4, raftSize: 2, embeddingKernels: [4, 8] },
  { depth: 2, dim: 128, patchSize: 2, raftSize: 2, embeddingKernels: [2, 4] },
  { depth: 6, dim: 256, patchSize: 2, raftSize: 2, embeddingKernels: [2, 4] },
  { depth: 2, dim: 512, patchSize: 2, raftSize: 2, embeddingKernels: [2] },
];

/** A module whose children are added by name from outside (PyTorch Sequential slots with gaps). */
class Slots extends Module {
  add<M extends Module>(name: string, module: M): M {
    return this.addModule(name, module);
  }
}

interface BlockContext {
  dropRate: number;
  dropPathRate: number;
  random: Random | undefined;
}

/** The reference's `Block.fn`: Linear -> GELU -> Dropout -> Linear -> Dropout (keys `fn.0`, `fn.3`). */
class BlockMlp extends Slots {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(dim: number, hidden: number, random: Random | undefined) {
    super();
    this.fc1 = this.add('0', new Linear({ inFeatures: dim, outFeatures: hidden, random }));
    this.fc2 = this.add('3', new Linear({ inFeatures: hidden, outFeatures: dim, random }));
  }

  forward(input: tf.Tensor, context: BlockContext, options: ForwardOptions): tf.Tensor {
    return tf.tidy(() => {
      const drop = (x: tf.Tensor) =>
        dropout(x, context.dropRate, { training: options.training, random: context.random });
      return drop(this.fc2.forward(drop(gelu(this.fc1.forward(input)))));
    });
  }
}

/**
 * Vertical (`axis: 'height'`) or horizontal raft token mixing (`PermutedBlock`): pre-LayerNorm over
 * the channels in (co, raft) order, then one MLP over the r * (spatial size) values of each
 * (co, other spatial position), residual. Keys: `norm.1.weight`, `norm.1.bias`, `fn.0.*`, `fn.3.*`.
 */
export class RaftTokenMixing extends Module {
  readonly axis: 'height' | 'width';
  readonly channels: number;
  readonly raftSize: number;
  readonly spatialSize: number;
  readonly norm: LayerNorm;
  readonly fn: BlockMlp;
  readonly #context: BlockContext;

  constructor(
    options: {
      axis: 'height' | 'width';
      channels: number;
      raftSize: number;
      spatialSize: number;
      expansionFactor: number;
    },
    context: BlockContext,
  ) {
    super();
    this.axis = options.axis;
    this.channels = options.channels;
    this.raftSize = options.raftSize;
    this.spatialSize = options.spatialSize;
    this.#context = context;
    const norm = this.addModule('norm', new Slots());
    this.norm = norm.add('1', new LayerNorm({ normalizedShape: options.channels, eps: 1e-5 }));
    const width = options.raftSize * options.spatialSize;
    this.fn = this.addModule('fn', new BlockMlp(width, width * options.expansionFactor, context.random));
  }

  /** [B, H, W, C] -> [B, H, W, C]. */
  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    const [batch, height, width, channels] = input.shape as number[];
    const spatial = this.axis === 'height' ? height! : width!;
    if (input.rank !== 4 || channels !== this.channels || spatial !== this.spatialSize) {
      const expected =
        this.axis === 'height'
          ? `[B, ${this.spatialSize}, W, ${this.channels}]`
          : `[B, H, ${this.spatialSize}, ${this.channels}]`;
      throw new Error(`${this.location}: expected input ${expected}, got [${input.shape.join(', ')}]`);
    }
    return tf.tidy(() => {
      const r = this.raftSize;
      const groupWidth = this.channels / r;
      // channels (raft, co) -> (co, raft) for the LayerNorm, whose affine parameters follow that order
      const rafts = tf.reshape(input, [batch!, height!, width!, r, groupWidth]);
      const coFirst = tf.transpose(rafts, [0, 1, 2, 4, 3]);
      const normed = tf.reshape(
        this.norm.forward(tf.reshape(coFirst, [batch!, height!, width!, this.channels])),
        [batch!, height!, width!, groupWidth, r],
      );
      // [B, H, W, co, r] -> rows (co, other axis) x columns (raft, mixed axis)
      const toRows = this.axis === 'height' ? [0, 3, 2, 4, 1] : [0, 3, 1, 4, 2];
      const fromRows = this.axis === 'height' ? [0, 4, 2, 3, 1] : [0, 2, 4, 3, 1];
      const rows = tf.transpose(normed, toRows);
      const rowShape = rows.shape;
      const mixed = this.fn.forward(tf.reshape(rows, [-1, r * spatial]), this.#context, options);
      const back = tf.reshape(tf.transpose(tf.reshape(mixed, rowShape), fromRows), input.shape);
      const branch = dropPath(back, this.#context.dropPathRate, {
        training: options.training,
        random: this.#context.random,
      });
      return tf.add(branch, input);
    });
  }
}

/** Channel mixing (`ChannelBlock`): x + MLP(LayerNorm(x)) over the channels. Keys `norm.*`, `fn.0.*`, `fn.3.*`. */
export class RaftChannelMixing extends Module {
  readonly norm: LayerNorm;
  readonly fn: BlockMlp;
  readonly #context: BlockContext;

  constructor(options: { channels: number; expansionFactor: number }, context: BlockContext) {
    super();
    this.#context = context;
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: options.channels, eps: 1e-5 }));
    this.fn = this.addModule(
      'fn',
      new BlockMlp(options.channels, options.channels * options.expansionFactor, context.random),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      const branch = this.fn.forward(this.norm.forward(input), this.#context, options);
      return tf.add(
        dropPath(branch, this.#context.dropPathRate, {
          training: options.training,
          random: this.#context.random,
        }),
        input,
      );
    });
  }
}

/** One raft block: vertical mixing (`1`), horizontal mixing (`3`), channel mixing (`5`). */
export class RaftBlock extends Slots {
  readonly vertical: RaftTokenMixing;
  readonly horizontal: RaftTokenMixing;
  readonly channel: RaftChannelMixing;

  constructor(
    options: {
      channels: number;
      raftSize: number;
      grid: [number, number];
      tokenExpansionFactor: number;
      channelExpansionFactor: number;
    },
    context: BlockContext,
  ) {
    super();
    const common = {
      channels: options.channels,
      raftSize: options.raftSize,
      expansionFactor: options.tokenExpansionFactor,
    };
    this.vertical = this.add(
      '1',
      new RaftTokenMixing({ ...common, axis: 'height', spatialSize: options.grid[0] }, context),
    );
    this.horizontal = this.add(
      '3',
      new RaftTokenMixing({ ...common, axis: 'width', spatialSize: options.grid[1] }, context),
    );
    this.channel = this.add(
      '5',
      new RaftChannelMixing(
        { channels: options.channels, expansionFactor: options.channelExpansionFactor },
        context,
      ),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() =>
      this.channel.forward(this.horizontal.forward(this.vertical.forward(input, options), options), options),
    );
  }
}

/**
 * Cross-scale MLP embedding (`CrossScaleMLPEmbedding`): for each kernel k, the k x k patches at stride
 * s = min(kernels) with padding (k - s) / 2 (`nn.Unfold`, features in (channel, row, column) order),
 * concatenated over the kernels and projected by `fc`. NHWC [B, H, W, C] -> [B, H / s, W / s, dim].
 *
 * The patches are gathered without a gather or a convolution: since k = m s, the padded image reshapes
 * to [B, H / s + m - 1, s, W / s + m - 1, s, C] and the m x m block offsets are m^2 slices, which keeps
 * every backend able to train it (slices, transposes and one matMul).
 */
export class CrossScaleMlpEmbedding extends Module {
  readonly inChannels: number;
  readonly kernels: number[];
  readonly stride: number;
  readonly fc: Linear;

  constructor(options: {
    inChannels: number;
    outChannels: number;
    kernels: readonly number[];
    random?: Random;
  }) {
    super();
    this.inChannels = options.inChannels;
    this.kernels = [...options.kernels];
    this.stride = Math.min(...this.kernels);
    const features = options.inChannels * this.kernels.reduce((sum, kernel) => sum + kernel * kernel, 0);
    this.fc = this.addModule(
      'fc',
      new Linear({ inFeatures: features, outFeatures: options.outChannels, random: options.random }),
    );
  }

  forward(input: tf.Tensor): tf.Tensor {
    const [batch, height, width, channels] = input.shape as number[];
    const s = this.stride;
    if (input.rank !== 4 || channels !== this.inChannels || height! % s !== 0 || width! % s !== 0) {
      throw new Error(
        `${this.location}: expected input [B, H, W, ${this.inChannels}] with H and W multiples of ${s}, got [${input.shape.join(', ')}]`,
      );
    }
    return tf.tidy(() => {
      const rows = height! / s;
      const columns = width! / s;
      const parts = this.kernels.map((kernel) => {
        const m = kernel / s;
        const pad = ((m - 1) * s) / 2;
        const padded =
          pad > 0
            ? tf.pad(input, [
                [0, 0],
                [pad, pad],
                [pad, pad],
                [0, 0],
              ])
            : input;
        const blocks = tf.reshape(padded, [batch!, rows + m - 1, s, columns + m - 1, s, channels!]);
        const byRow: tf.Tensor[] = [];
        for (let a = 0; a < m; a++) {
          const byColumn: tf.Tensor[] = [];
          for (let b = 0; b < m; b++) {
            const block = tf.slice(blocks, [0, a, 0, b, 0, 0], [batch!, rows, s, columns, s, channels!]);
            // [B, rows, u, columns, v, C] -> [(B rows columns), C, u, v]
            byColumn.push(
              tf.reshape(tf.transpose(block, [0, 1, 3, 5, 2, 4]), [batch! * rows * columns, channels!, s, s]),
            );
          }
          byRow.push(tf.stack(byColumn, 3)); // [R, C, u, b, v]
        }
        // [R, C, a, u, b, v]: feature index c k^2 + (a s + u) k + (b s + v), as nn.Unfold
        return tf.reshape(tf.stack(byRow, 2), [batch!, rows, columns, channels! * kernel * kernel]);
      });
      return this.fc.forward(parts.length === 1 ? parts[0]! : tf.concat(parts, 3));
    });
  }
}

/** A level's body (the reference's `fn` Sequential): `0` embedding, `2..` raft blocks. */
class LevelBody extends Slots {
  readonly embedding: CrossScaleMlpEmbedding;
  readonly blocks: RaftBlock[] = [];

  constructor(embedding: CrossScaleMlpEmbedding, blocks: RaftBlock[]) {
    super();
    this.embedding = this.add('0', embedding);
    blocks.forEach((block, index) => {
      this.blocks.push(this.add(String(index + 2), block));
    });
  }
}

/** One level (`SerialPermutedLevel`): embedding then `depth` raft blocks, on a fixed grid. */
export class RaftLevel extends Module {
  readonly grid: [number, number];
  readonly fn: LevelBody;

  constructor(fn: LevelBody, grid: [number, number]) {
    super();
    this.grid = grid;
    this.fn = this.addModule('fn', fn);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = this.fn.embedding.forward(input);
      for (const block of this.fn.blocks) x = block.forward(x, options);
      return x;
    });
  }
}

/**
 * RaftMLP classifier on NHWC images [B, H, W, C]. State-dict keys follow okojoalg/raft-mlp:
 * `levels.{i}.fn.0.fc.*` (embedding), `levels.{i}.fn.{2 + d}.{1,3}.norm.1.*` / `.fn.{0,3}.*` (vertical and
 * horizontal raft mixing), `levels.{i}.fn.{2 + d}.5.norm.*` / `.fn.{0,3}.*` (channel mixing),
 * `heads.0.1.*` (final LayerNorm) and `classifier.*`.
 *
 * Differences from the reference: the resolution is fixed by `imgSize` and each level's grid must
 * divide exactly (the reference resizes bicubically when it does not, and when the input differs from
 * the pretrained size); only the configuration the paper publishes is built (raft token mixing,
 * cross-scale embedding, no multi-level shortcut head).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { RaftMLP } from '@mlzoo/mixers';
 *
 * const model = new RaftMLP(RAFT_MLP_PRESETS.raft_mlp_fashion_mnist.config);
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class RaftMLP extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly layers: RaftMlpLevelConfig[];
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'classifier';
  readonly firstLayerName = 'levels.0.fn.0.fc';
  readonly levels: RaftLevel[] = [];
  readonly norm: LayerNorm;
  classifier: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: RaftMlpConfig = {}) {
    super();
    const size = config.imgSize ?? 224;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.inChans = config.inChans ?? 3;
    this.#numClasses = config.numClasses ?? 1000;
    this.#random = config.random;
    this.layers = (config.layers ?? RAFT_MLP_S_LAYERS).map((layer) => ({
      ...layer,
      embeddingKernels: [...(layer.embeddingKernels ?? [layer.patchSize])],
    }));
    const tokenExpansion = config.tokenExpansionFactor ?? 2;
    const channelExpansion = config.channelExpansionFactor ?? 4;
    const context: BlockContext = {
      dropRate: config.dropRate ?? 0,
      dropPathRate: config.dropPathRate ?? 0,
      random: config.random,
    };
    // everything is checked before the first variable exists, so a bad config leaks nothing
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems: string[] = [];
    if (!this.imgSize.every(positive))
      problems.push(`imgSize must be positive integers, got ${String(size)}`);
    if (!positive(this.inChans)) problems.push(`inChans must be a positive integer, got ${this.inChans}`);
    if (!(Number.isInteger(this.#numClasses) && this.#numClasses >= 0)) {
      problems.push(`numClasses must be a non-negative integer, got ${this.#numClasses}`);
    }
    if (!positive(tokenExpansion) || !positive(channelExpansion)) {
      problems.push(
        `tokenExpansionFactor and channelExpansionFactor must be positive integers, got ${tokenExpansion}, ${channelExpansion}`,
      );
    }
    for (const [name, rate] of [
      ['dropRate', context.dropRate],
      ['dropPathRate', context.dropPathRate],
    ] as const) {
      if (!(rate >= 0 && rate < 1)) problems.push(`${name} must be in [0, 1), got ${rate}`);
    }
    if (this.layers.length === 0) problems.push('layers must not be empty');
    const grids: Array<[number, number]> = [];
    let grid: [number, number] = [...this.imgSize];
    this.layers.forEach((layer, index) => {
      const where = `layers[${index}]`;
      const { depth, dim, patchSize, raftSize } = layer;
      const kernels = layer.embeddingKernels ?? [];
      if (!(Number.isInteger(depth) && depth >= 0)) {
        problems.push(`${where}.depth must be a non-negative integer, got ${depth}`);
      }
      if (!positive(dim) || !positive(raftSize) || dim % raftSize !== 0) {
        problems.push(`${where}: dim (${dim}) must be a positive multiple of raftSize (${raftSize})`);
      }
      if (!positive(patchSize)) {
        problems.push(`${where}.patchSize must be a positive integer, got ${patchSize}`);
        return;
      }
      const badKernel = kernels.find(
        (kernel) => !positive(kernel) || kernel % patchSize !== 0 || (kernel - patchSize) % 2 !== 0,
      );
      if (kernels.length === 0 || badKernel !== undefined || Math.min(...kernels) !== patchSize) {
        problems.push(
          `${where}.embeddingKernels must be multiples k of patchSize ${patchSize} with k - ${patchSize} even, the smallest equal to it, got [${kernels.join(', ')}]`,
        );
      }
      if (grid[0] % patchSize !== 0 || grid[1] % patchSize !== 0) {
        problems.push(`${where}: the ${grid[0]}x${grid[1]} grid is not divisible by patchSize ${patchSize}`);
      }
      grid = [Math.floor(grid[0] / patchSize), Math.floor(grid[1] / patchSize)];
      grids.push(grid);
    });
    if (problems.length > 0) throw new Error(`RaftMLP: ${problems.join('; ')}`);

    const levels = this.addModule('levels', new Slots());
    let inChannels = this.inChans;
    this.layers.forEach((layer, index) => {
      const levelGrid = grids[index]!;
      const embedding = new CrossScaleMlpEmbedding({
        inChannels,
        outChannels: layer.dim,
        kernels: layer.embeddingKernels!,
        random: this.#random,
      });
      const blocks = Array.from(
        { length: layer.depth },
        () =>
          new RaftBlock(
            {
              channels: layer.dim,
              raftSize: layer.raftSize,
              grid: levelGrid,
              tokenExpansionFactor: tokenExpansion,
              channelExpansionFactor: channelExpansion,
            },
            context,
          ),
      );
      this.levels.push(levels.add(String(index), new RaftLevel(new LevelBody(embedding, blocks), levelGrid)));
      inChannels = layer.dim;
    });
    this.numFeatures = inChannels;
    this.headHiddenSize = inChannels;
    const heads = this.addModule('heads', new Slots()).add('0', new Slots());
    this.norm = heads.add('1', new LayerNorm({ normalizedShape: inChannels, eps: 1e-5 }));
    this.classifier = this.addModule('classifier', this.#makeHead(this.#numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  /** Levels and the final LayerNorm: [B, H, W, C] -> [B, h, w, numFeatures]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    return tf.tidy(() => {
      let x = input;
      for (const level of this.levels) x = level.forward(x, options);
      return this.norm.forward(x);
    });
  }

  /** Global average pool and classifier: [B, h, w, C] -> [B, numClasses]. */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'h', 'w', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = tf.mean(features, [1, 2]);
      return options.preLogits ? pooled : this.classifier.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** Outputs of the selected levels (NHWC, before the final LayerNorm). */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.levels.length));
    const last = Math.max(...chosen);
    const outputs: tf.Tensor[] = [];
    let x = input;
    for (let index = 0; index <= last; index++) {
      const next = this.levels[index]!.forward(x, options);
      if (x !== input && !chosen.has(index - 1)) x.dispose();
      x = next;
      if (chosen.has(index)) outputs.push(x);
    }
    return outputs;
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    const old = this.setSubmodule('classifier', this.#makeHead(numClasses));
    old.dispose();
    this.#numClasses = numClasses;
  }
}

const PAPER =
  'RaftMLP: How Much Can Be Done Without Attention and with Less Spatial Locality? (arXiv 2108.04384)';
const SOURCE = 'okojoalg/raft-mlp configs/settings/imagenet-raft-mlp-cross-mlp-emb-{s,m,l}.yaml';

function imagenetLayers(dims: readonly [number, number, number, number]): RaftMlpLevelConfig[] {
  return [
    { depth: 2, dim: dims[0], patchSize: 4, raftSize: 2, embeddingKernels: [4, 8] },
    { depth: 2, dim: dims[1], patchSize: 2, raftSize: 2, embeddingKernels: [2, 4] },
    { depth: 6, dim: dims[2], patchSize: 2, raftSize: 2, embeddingKernels: [2, 4] },
    { depth: 2, dim: dims[3], patchSize: 2, raftSize: 2, embeddingKernels: [2] },
  ];
}

/** RaftMLP presets (pure data); counts verified against a PyTorch re-creation (tools/fixtures/raft_mlp.py). */
export const RAFT_MLP_PRESETS: Record<string, ModelPreset<RaftMlpConfig>> = {
  raft_mlp_s: {
    config: { imgSize: 224, inChans: 3, numClasses: 1000, layers: imagenetLayers([64, 128, 256, 512]) },
    numParameters: 9_868_768,
    description: 'RaftMLP-S: 4 levels (64/128/256/512, depths 2/2/6/2), raft size 2, cross-scale embedding.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  raft_mlp_m: {
    config: { imgSize: 224, inChans: 3, numClasses: 1000, layers: imagenetLayers([96, 192, 384, 768]) },
    numParameters: 21_413_632,
    description: 'RaftMLP-M: 4 levels (96/192/384/768, depths 2/2/6/2), raft size 2, cross-scale embedding.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  raft_mlp_l: {
    config: { imgSize: 224, inChans: 3, numClasses: 1000, layers: imagenetLayers([128, 192, 512, 1024]) },
    numParameters: 36_184_672,
    description:
      'RaftMLP-L: 4 levels (128/192/512/1024, depths 2/2/6/2), raft size 2, cross-scale embedding.',
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/mixers',
  },
  raft_mlp_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      layers: [
        { depth: 2, dim: 32, patchSize: 2, raftSize: 2, embeddingKernels: [2, 4] },
        { depth: 2, dim: 64, patchSize: 2, raftSize: 2, embeddingKernels: [2] },
        { depth: 2, dim: 128, patchSize: 1, raftSize: 2, embeddingKernels: [1] },
      ],
    },
    numParameters: 387_274,
    description: 'Small RaftMLP for 28x28 grayscale images: levels 32/64/128 on 14x14, 7x7, 7x7 grids.',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/mixers',
  },
};

/** `raft_mlp_s` with optional config overrides. */
export function raftMlpS(overrides: RaftMlpConfig = {}): RaftMLP {
  return new RaftMLP({ ...RAFT_MLP_PRESETS.raft_mlp_s!.config, ...overrides });
}

/** `raft_mlp_m` with optional config overrides. */
export function raftMlpM(overrides: RaftMlpConfig = {}): RaftMLP {
  return new RaftMLP({ ...RAFT_MLP_PRESETS.raft_mlp_m!.config, ...overrides });
}

/** `raft_mlp_l` with optional config overrides. */
export function raftMlpL(overrides: RaftMlpConfig = {}): RaftMLP {
  return new RaftMLP({ ...RAFT_MLP_PRESETS.raft_mlp_l!.config, ...overrides });
}

/** `raft_mlp_fashion_mnist` with optional config overrides. */
export function raftMlpFashionMnist(overrides: RaftMlpConfig = {}): RaftMLP {
  return new RaftMLP({ ...RAFT_MLP_PRESETS.raft_mlp_fashion_mnist!.config, ...overrides });
}

/** Factory used by the registry. */
export function createRaftMlp(config: RaftMlpConfig): RaftMLP {
  return new RaftMLP(config);
}

/** Registers every RaftMLP preset with core's `createModel`. Nothing registers on import. */
export function registerRaftMlpModels(): void {
  for (const [name, preset] of Object.entries(RAFT_MLP_PRESETS)) {
    registerModel(name, createRaftMlp, preset);
  }
}
