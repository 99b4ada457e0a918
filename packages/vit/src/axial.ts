// Axial attention: Wang, Zhu, Green, Adam, Yuille, Chen, "Axial-DeepLab: Stand-Alone Axial-Attention
// for Panoptic Segmentation", ECCV 2020, arXiv:2003.07853 (https://arxiv.org/abs/2003.07853).
// Follows the official classifier code, csrhddlam/axial-deeplab `lib/models/axialnet.py`
// (`AxialAttention`, `AxialBlock`, `AxialAttentionNet`), with its parameter names (including
// `hight_block`), so its checkpoints load by key. Images are NHWC here; the reference is NCHW.
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
  Sequential,
  type StateLayout,
} from '@mlzoo/core';
import { BatchNorm, type BatchNormForwardOptions, Conv2d, Identity, Linear } from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface AxialAttentionNetConfig {
  /** Image size, square or [height, width] (default 224; the attention spans are fixed by it). */
  imgSize?: number | readonly [number, number];
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 1000; 0: `forward` returns pooled features). */
  numClasses?: number;
  /** Blocks in layer1..layer4 (default [3, 4, 6, 3], axial50). */
  layers?: readonly [number, number, number, number] | readonly number[];
  /** Width multiplier s: stem 64 s, stage widths 128 s, 256 s, 512 s, 1024 s (default 0.5). */
  widthMultiplier?: number;
  /** Attention heads ("groups") of every axial attention layer (default 8). */
  groups?: number;
  /** Stem max-pool (3x3, stride 2, padding 1) after the 7x7 stride-2 conv (default true). */
  stemPool?: boolean;
  /** Zero-initialise each block's last BatchNorm weight (default true, as the reference). */
  zeroInitResidual?: boolean;
  random?: Random;
}

/** Conv1d kernel [out, in, 1] in PyTorch, stored [in, out] for a matMul over channels. */
const CONV1D_1X1: StateLayout = {
  description: 'stored [in, out], PyTorch Conv1d [out, in, 1]',
  toStateShape: (shape: readonly number[]) => [shape[1]!, shape[0]!, 1],
  toState: (value: tf.Tensor) => tf.expandDims(tf.transpose(value), 2),
  fromState: (value: tf.Tensor) => tf.transpose(tf.squeeze(value, [2])),
};

/**
 * Selector [L * L, 2L - 1] with a one at column (a - b + L - 1) of row (a, b): multiplied with the
 * transposed `relative` table it gives the embeddings e[a, b] = relative[:, a - b + L - 1] (the
 * reference's `index_select` with `flatten_index`) through a matMul, whose gradient every backend has.
 */
function relativeSelector(length: number): tf.Tensor2D {
  return tf.tidy(() => {
    const index = new Int32Array(length * length);
    for (let a = 0; a < length; a++)
      for (let b = 0; b < length; b++) index[a * length + b] = a - b + length - 1;
    return tf.oneHot(tf.tensor1d(index, 'int32'), 2 * length - 1) as tf.Tensor2D;
  });
}

/** The reference's `qkv_transform` (a bias-free Conv1d with kernel 1): `weight` [out, in, 1]. */
export class QkvTransform extends Module {
  /** Stored [inChannels, outChannels]. */
  readonly weight: tf.Variable;

  constructor(inChannels: number, outChannels: number, random?: Random) {
    super();
    this.weight = this.addParameter(
      'weight',
      init.normal([inChannels, outChannels], { std: Math.sqrt(1 / inChannels), random }),
      { layout: CONV1D_1X1 },
    );
  }

  /** [..., in] -> [..., out]. */
  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [inChannels, outChannels] = this.weight.shape as [number, number];
      const flat = tf.reshape(input, [-1, inChannels]);
      return tf.reshape(tf.matMul(flat, this.weight), [...input.shape.slice(0, -1), outChannels]);
    });
  }
}

/**
 * AvgPool2d(stride) on NHWC maps. Where the size is a multiple of the stride this is the reference's
 * pooling; otherwise (where the reference's shapes no longer meet the strided 1x1 shortcut and it fails)
 * the last partial window is averaged over its in-bounds values (ceil mode), giving ceil(size / stride)
 * as the shortcut does.
 */
function averagePool(map: tf.Tensor, stride: number): tf.Tensor {
  const [, height, width] = map.shape as [number, number, number, number];
  const padHeight = (stride - (height % stride)) % stride;
  const padWidth = (stride - (width % stride)) % stride;
  if (padHeight + padWidth === 0) return tf.avgPool(map as tf.Tensor4D, stride, stride, 'valid');
  const paddings: Array<[number, number]> = [
    [0, 0],
    [0, padHeight],
    [0, padWidth],
    [0, 0],
  ];
  const sums = tf.avgPool(tf.pad(map, paddings) as tf.Tensor4D, stride, stride, 'valid');
  const ones = tf.ones([1, height, width, 1]);
  const counts = tf.avgPool(tf.pad(ones, paddings) as tf.Tensor4D, stride, stride, 'valid');
  return tf.div(sums, counts);
}

export interface AxialAttentionOptions {
  inPlanes: number;
  outPlanes: number;
  /** Heads (default 8); outPlanes / groups must be even. */
  groups?: number;
  /** Span: the length of the attended axis (the reference's kernel_size, default 56). */
  kernelSize?: number;
  /** Average-pool both axes by this factor after the attention (default 1). */
  stride?: number;
  /** Attend along the width axis (default false: along the height axis). */
  width?: boolean;
  random?: Random;
}

/**
 * Position-sensitive axial self-attention (the reference's `AxialAttention`) on NHWC maps, along the
 * height (default) or width axis of span L = kernelSize:
 *
 * - qkv = BN1d(Conv1d 1x1, C -> 2 outPlanes, no bias); per group: q, k (g/2 channels), v (g).
 * - logits = BN(q k) + BN(q r_q) + BN(k r_k) (`bn_similarity` over 3 groups channels), **no 1/sqrt(d)**;
 *   r_q[i, j] = relative[:, i - j + L - 1] (first g/2 rows), r_k likewise transposed, r_v (last g rows).
 * - softmax over keys; output = BN(s v) + BN(s r_v) (`bn_output` over interleaved [sv, sve] channels).
 * - then AvgPool(stride) when stride > 1.
 *
 * State dict: `qkv_transform.weight` [2 out, in, 1], `bn_qkv.*`, `bn_similarity.*` (3 groups),
 * `bn_output.*` (2 out), `relative` [2 g, 2L - 1], buffer `flatten_index` [L * L] (int, as the reference).
 */
export class AxialAttention extends Module {
  readonly inPlanes: number;
  readonly outPlanes: number;
  readonly groups: number;
  readonly groupPlanes: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly width: boolean;
  readonly qkvTransform: QkvTransform;
  readonly bnQkv: BatchNorm;
  readonly bnSimilarity: BatchNorm;
  readonly bnOutput: BatchNorm;
  readonly relative: tf.Variable;
  readonly flattenIndex: tf.Variable;
  readonly #selector: tf.Tensor2D;

  constructor(options: AxialAttentionOptions) {
    super();
    const { inPlanes, outPlanes } = options;
    this.groups = options.groups ?? 8;
    this.kernelSize = options.kernelSize ?? 56;
    this.stride = options.stride ?? 1;
    this.width = options.width ?? false;
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    if (
      !(
        positive(inPlanes) &&
        positive(outPlanes) &&
        positive(this.groups) &&
        positive(this.kernelSize) &&
        positive(this.stride)
      ) ||
      inPlanes % this.groups !== 0 ||
      outPlanes % (2 * this.groups) !== 0
    ) {
      throw new Error(
        `AxialAttention: inPlanes (${inPlanes}) must be divisible by groups (${this.groups}) and outPlanes (${outPlanes}) by 2 groups; kernelSize and stride positive`,
      );
    }
    this.inPlanes = inPlanes;
    this.outPlanes = outPlanes;
    this.groupPlanes = outPlanes / this.groups;
    const random = options.random;
    this.qkvTransform = this.addModule('qkv_transform', new QkvTransform(inPlanes, 2 * outPlanes, random));
    this.bnQkv = this.addModule('bn_qkv', new BatchNorm({ numFeatures: 2 * outPlanes }));
    this.bnSimilarity = this.addModule('bn_similarity', new BatchNorm({ numFeatures: 3 * this.groups }));
    this.bnOutput = this.addModule('bn_output', new BatchNorm({ numFeatures: 2 * outPlanes }));
    this.relative = this.addParameter(
      'relative',
      init.normal([2 * this.groupPlanes, 2 * this.kernelSize - 1], {
        std: Math.sqrt(1 / this.groupPlanes),
        random,
      }),
    );
    const length = this.kernelSize;
    const flat = new Int32Array(length * length);
    // the reference's flatten_index: key_index (rows) - query_index (columns) + L - 1
    for (let a = 0; a < length; a++)
      for (let b = 0; b < length; b++) flat[a * length + b] = a - b + length - 1;
    this.flattenIndex = this.addBuffer('flatten_index', tf.tensor1d(flat, 'int32'));
    this.#selector = relativeSelector(length);
  }

  /** [B, H, W, inPlanes] -> [B, H / stride, W / stride, outPlanes]. */
  forward(input: tf.Tensor, options: BatchNormForwardOptions = {}): tf.Tensor {
    this.checkShape(
      input,
      this.width ? ['B', 'H', this.kernelSize, this.inPlanes] : ['B', this.kernelSize, 'W', this.inPlanes],
    );
    const [batch, height, widthSize] = input.shape as [number, number, number, number];
    const length = this.kernelSize;
    const { groups, groupPlanes, outPlanes } = this;
    const half = groupPlanes / 2;
    return tf.tidy(() => {
      // sequences [M, L, C] along the attended axis
      const sequences = this.width
        ? tf.reshape(input, [batch * height, length, this.inPlanes])
        : tf.reshape(tf.transpose(input, [0, 2, 1, 3]), [batch * widthSize, length, this.inPlanes]);
      const count = sequences.shape[0]!;
      const qkv = this.bnQkv.forward(this.qkvTransform.forward(sequences), options);
      // [M, L, G, 2g] -> [M, G, L, 2g]
      const grouped = tf.transpose(tf.reshape(qkv, [count, length, groups, 2 * groupPlanes]), [0, 2, 1, 3]);
      const [q, k, v] = tf.split(grouped, [half, half, groupPlanes], 3) as [tf.Tensor, tf.Tensor, tf.Tensor];
      // embeddings e[a, b, c] = relative[c, a - b + L - 1]: [L, L, 2g]
      const embeddings = tf.reshape(tf.matMul(this.#selector, this.relative, false, true), [
        length,
        length,
        2 * groupPlanes,
      ]);
      const [qEmbedding, kEmbedding, vEmbedding] = tf.split(embeddings, [half, half, groupPlanes], 2) as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
      ];
      // positional logits t[m, g, a, b] = sum_c x[m, g, a, c] e[a, b, c], batched over a
      const positional = (x: tf.Tensor, embedding: tf.Tensor) => {
        const perPosition = tf.reshape(tf.transpose(x, [2, 0, 1, 3]), [length, count * groups, half]);
        const products = tf.matMul(perPosition, tf.transpose(embedding, [0, 2, 1])); // [L(a), M G, L(b)]
        return tf.reshape(tf.transpose(products, [1, 0, 2]), [count, groups, length, length]);
      };
      const qk = tf.matMul(q, k, false, true);
      const qr = positional(q, qEmbedding);
      const kr = tf.transpose(positional(k, kEmbedding), [0, 1, 3, 2]);
      // bn_similarity over channels [qk groups, qr groups, kr groups]
      const stacked = tf.transpose(tf.concat([qk, qr, kr], 1), [0, 2, 3, 1]); // [M, L, L, 3G]
      const normalized = tf.transpose(this.bnSimilarity.forward(stacked, options), [0, 3, 1, 2]);
      const logits = tf.sum(tf.reshape(normalized, [count, 3, groups, length, length]), 1);
      const similarity = tf.softmax(logits, -1); // [M, G, L(i), L(j)]
      const sv = tf.matMul(similarity, v); // [M, G, L, g]
      // sve[m, g, i, c] = sum_j s[m, g, i, j] e_v[i, j, c], batched over i
      const perQuery = tf.reshape(tf.transpose(similarity, [2, 0, 1, 3]), [length, count * groups, length]);
      const sve = tf.transpose(
        tf.reshape(tf.matMul(perQuery, vEmbedding), [length, count, groups, groupPlanes]),
        [1, 2, 0, 3],
      ); // [M, G, L, g]
      // channels interleaved as the reference's view: 2 (g group + c) + {0: sv, 1: sve}; built with a
      // rank-4 concat (the gradient of a stack unstacks 5-D tensors, element by element on wasm)
      const toChannels = (x: tf.Tensor) =>
        tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [count, length, outPlanes, 1]);
      const paired = tf.reshape(tf.concat([toChannels(sv), toChannels(sve)], 3), [
        count,
        length,
        2 * outPlanes,
      ]);
      const output = tf.sum(
        tf.reshape(this.bnOutput.forward(paired, options), [count, length, outPlanes, 2]),
        -1,
      ); // [M, L, out]
      const map = this.width
        ? tf.reshape(output, [batch, height, length, outPlanes])
        : tf.transpose(tf.reshape(output, [batch, widthSize, length, outPlanes]), [0, 2, 1, 3]);
      return this.stride > 1 ? averagePool(map, this.stride) : map;
    });
  }

  override dispose(): void {
    this.#selector.dispose();
    super.dispose();
  }
}

export interface AxialBlockOptions {
  inplanes: number;
  planes: number;
  stride?: number;
  /** Identity projection (`downsample`: 1x1 conv with stride + BN) when shapes change. */
  downsample?: boolean;
  groups?: number;
  /** Attention spans [height, width] of the block's input. */
  kernelSize: readonly [number, number];
  random?: Random;
}

/**
 * The reference's `AxialBlock` (bottleneck, expansion 2): conv_down (1x1) -> bn1 -> ReLU ->
 * hight_block (height attention) -> width_block (width attention, then stride) -> ReLU -> conv_up (1x1)
 * -> bn2, plus the identity (or `downsample`), ReLU.
 */
export class AxialBlock extends Module {
  static readonly expansion = 2;
  readonly convDown: Conv2d;
  readonly bn1: BatchNorm;
  readonly hightBlock: AxialAttention;
  readonly widthBlock: AxialAttention;
  readonly convUp: Conv2d;
  readonly bn2: BatchNorm;
  readonly downsample: Sequential | null;

  constructor(options: AxialBlockOptions) {
    super();
    const { inplanes, planes, random } = options;
    const stride = options.stride ?? 1;
    const groups = options.groups ?? 8;
    const width = planes;
    const out = planes * AxialBlock.expansion;
    this.convDown = this.addModule(
      'conv_down',
      new Conv2d({ inChannels: inplanes, outChannels: width, kernelSize: 1, bias: false, random }),
    );
    this.bn1 = this.addModule('bn1', new BatchNorm({ numFeatures: width }));
    this.hightBlock = this.addModule(
      'hight_block',
      new AxialAttention({
        inPlanes: width,
        outPlanes: width,
        groups,
        kernelSize: options.kernelSize[0],
        random,
      }),
    );
    this.widthBlock = this.addModule(
      'width_block',
      new AxialAttention({
        inPlanes: width,
        outPlanes: width,
        groups,
        kernelSize: options.kernelSize[1],
        stride,
        width: true,
        random,
      }),
    );
    this.convUp = this.addModule(
      'conv_up',
      new Conv2d({ inChannels: width, outChannels: out, kernelSize: 1, bias: false, random }),
    );
    this.bn2 = this.addModule('bn2', new BatchNorm({ numFeatures: out }));
    this.downsample = options.downsample
      ? this.addModule(
          'downsample',
          new Sequential([
            new Conv2d({
              inChannels: inplanes,
              outChannels: out,
              kernelSize: 1,
              stride,
              bias: false,
              random,
            }),
            new BatchNorm({ numFeatures: out }),
          ]),
        )
      : null;
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let out = tf.relu(this.bn1.forward(this.convDown.forward(input), options));
      out = this.widthBlock.forward(this.hightBlock.forward(out, options), options);
      out = this.bn2.forward(this.convUp.forward(tf.relu(out)), options);
      const identity = this.downsample ? this.downsample.forward(input, options) : input;
      return tf.relu(tf.add(out, identity));
    });
  }
}

/** Output size of the stem (7x7 stride-2 conv, padding 3; then optionally 3x3 stride-2 max-pool, padding 1). */
function stemSize(size: number, pool: boolean): number {
  const conv = Math.floor((size - 1) / 2) + 1;
  return pool ? Math.floor((conv - 1) / 2) + 1 : conv;
}

/**
 * Axial-attention ResNet classifier (the reference's `AxialAttentionNet` with `AxialBlock`) on NHWC
 * images. State dict: `conv1`, `bn1`, `layer{1..4}.{j}.{conv_down, bn1, hight_block.*, width_block.*,
 * conv_up, bn2, downsample.0, downsample.1}`, `fc`. The attention spans follow from `imgSize`
 * (56/56/28/14 at 224 as the reference), so the model runs at that size only. Sizes the reference
 * cannot run (a stride-2 stage on an odd map) pool in ceil mode, matching the strided shortcut.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { AxialAttentionNet } from '@mlzoo/vit';
 *
 * const model = new AxialAttentionNet({ imgSize: 32, inChans: 1, numClasses: 10, layers: [1, 1, 1, 1],
 *   widthMultiplier: 0.125, groups: 2 });
 * model.forward(tf.zeros([2, 32, 32, 1])).shape; // [2, 10]
 * ```
 */
export class AxialAttentionNet extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly layers: number[];
  readonly widthMultiplier: number;
  readonly groups: number;
  readonly stemPool: boolean;
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'fc';
  readonly firstLayerName = 'conv1';
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly stages: ModuleList<AxialBlock>[];
  fc: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: AxialAttentionNetConfig = {}) {
    super();
    const size = config.imgSize ?? 224;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.inChans = config.inChans ?? 3;
    this.#numClasses = config.numClasses ?? 1000;
    this.layers = [...(config.layers ?? [3, 4, 6, 3])];
    this.widthMultiplier = config.widthMultiplier ?? 0.5;
    this.groups = config.groups ?? 8;
    this.stemPool = config.stemPool ?? true;
    this.#random = config.random;
    const s = this.widthMultiplier;
    const stemWidth = Math.floor(64 * s);
    const planes = [128, 256, 512, 1024].map((base) => Math.floor(base * s));
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems = [
      !this.imgSize.every(positive) && `imgSize must be positive integers, got ${JSON.stringify(size)}`,
      !positive(this.inChans) && `inChans must be a positive integer, got ${this.inChans}`,
      !(Number.isInteger(this.#numClasses) && this.#numClasses >= 0) &&
        `numClasses must be a non-negative integer, got ${this.#numClasses}`,
      !(this.layers.length === 4 && this.layers.every(positive)) &&
        `layers must be 4 positive integers, got [${this.layers.join(', ')}]`,
      !(s > 0 && positive(stemWidth)) && `widthMultiplier must give a stem of at least 1 channel, got ${s}`,
      !planes.every((width) => positive(width) && width % (2 * this.groups) === 0) &&
        `stage widths [${planes.join(', ')}] (128 s .. 1024 s) must be divisible by 2 groups (${2 * this.groups})`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`AxialAttentionNet: ${problems.join('; ')}`);

    const random = this.#random;
    this.conv1 = this.addModule(
      'conv1',
      new Conv2d({
        inChannels: this.inChans,
        outChannels: stemWidth,
        kernelSize: 7,
        stride: 2,
        padding: 3,
        bias: false,
        random,
      }),
    );
    this.bn1 = this.addModule('bn1', new BatchNorm({ numFeatures: stemWidth }));
    let resolution: [number, number] = [
      stemSize(this.imgSize[0], this.stemPool),
      stemSize(this.imgSize[1], this.stemPool),
    ];
    let inplanes = stemWidth;
    this.stages = planes.map((width, stage) => {
      const stride = stage === 0 ? 1 : 2;
      const out = width * AxialBlock.expansion;
      const blocks = new ModuleList<AxialBlock>();
      for (let index = 0; index < this.layers[stage]!; index++) {
        const first = index === 0;
        blocks.append(
          new AxialBlock({
            inplanes: first ? inplanes : out,
            planes: width,
            stride: first ? stride : 1,
            downsample: first && (stride !== 1 || inplanes !== out),
            groups: this.groups,
            kernelSize: resolution,
            random,
          }),
        );
        if (first && stride > 1) resolution = [Math.ceil(resolution[0] / 2), Math.ceil(resolution[1] / 2)];
      }
      inplanes = out;
      return this.addModule(`layer${stage + 1}`, blocks);
    });
    this.numFeatures = inplanes;
    this.headHiddenSize = inplanes;
    // the reference's init: kaiming_normal(fan_out, relu) for the convs, BN 1/0, last BN of each block 0
    for (const module of this.namedModules().values()) {
      if (module instanceof Conv2d) {
        tf.tidy(() => {
          const [kernelHeight, kernelWidth, , outChannels] = module.weight.shape as number[];
          module.weight.assign(
            init.kaimingNormal(module.weight.shape, {
              fanIn: 1,
              fanOut: outChannels! * kernelHeight! * kernelWidth!,
              mode: 'fan_out',
              nonlinearity: 'relu',
              random,
            }),
          );
        });
      }
    }
    if (config.zeroInitResidual ?? true) {
      for (const blocks of this.stages) {
        for (const block of blocks) tf.tidy(() => block.bn2.weight!.assign(tf.zerosLike(block.bn2.weight!)));
      }
    }
    this.fc = this.addModule('fc', this.#makeHead(this.#numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  #stem(input: tf.Tensor, options: ForwardOptions): tf.Tensor {
    const x = tf.relu(this.bn1.forward(this.conv1.forward(input), options));
    return this.stemPool ? tf.maxPool(x as tf.Tensor4D, 3, 2, 1) : x;
  }

  /** Image [B, H, W, C] -> layer4 map [B, h, w, numFeatures]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    return tf.tidy(() => {
      let x = this.#stem(input, options);
      for (const blocks of this.stages) for (const block of blocks) x = block.forward(x, options);
      return x;
    });
  }

  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'h', 'w', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = tf.mean(features, [1, 2]);
      return options.preLogits ? pooled : this.fc.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** Outputs of layer1..layer4 (NHWC), selected by `indices`. */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    const chosen = new Set(resolveIntermediateIndices(options.indices, this.stages.length));
    const last = Math.max(...chosen);
    return tf.tidy(() => {
      const outputs: tf.Tensor[] = [];
      let x = this.#stem(input, options);
      for (let stage = 0; stage <= last; stage++) {
        for (const block of this.stages[stage]!) x = block.forward(x, options);
        if (chosen.has(stage)) outputs.push(x);
      }
      return outputs;
    });
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    this.setSubmodule('fc', this.#makeHead(numClasses)).dispose();
    this.#numClasses = numClasses;
  }
}

/**
 * Parameter count of an `AxialAttentionNet` config from the module shapes, without building the model
 * (the large presets take seconds to initialise in JavaScript). Equals `numParameters()` of the model.
 */
export function axialParameterCount(config: AxialAttentionNetConfig = {}): number {
  const size = config.imgSize ?? 224;
  const [height, width] = typeof size === 'number' ? [size, size] : [size[0], size[1]];
  const inChans = config.inChans ?? 3;
  const numClasses = config.numClasses ?? 1000;
  const layers = [...(config.layers ?? [3, 4, 6, 3])];
  const s = config.widthMultiplier ?? 0.5;
  const groups = config.groups ?? 8;
  const pool = config.stemPool ?? true;
  const stemWidth = Math.floor(64 * s);
  let total = inChans * stemWidth * 49 + 2 * stemWidth;
  let resolution = [stemSize(height, pool), stemSize(width, pool)];
  let inplanes = stemWidth;
  const attention = (planes: number, span: number) =>
    planes * 2 * planes +
    2 * 2 * planes +
    2 * 3 * groups +
    2 * 2 * planes +
    2 * (planes / groups) * (2 * span - 1);
  [128, 256, 512, 1024].forEach((base, stage) => {
    const planes = Math.floor(base * s);
    const out = 2 * planes;
    for (let index = 0; index < layers[stage]!; index++) {
      const first = index === 0;
      const stride = first && stage > 0 ? 2 : 1;
      const blockIn = first ? inplanes : out;
      total +=
        blockIn * planes + 2 * planes + attention(planes, resolution[0]!) + attention(planes, resolution[1]!);
      total += planes * out + 2 * out;
      if (first && (stride !== 1 || blockIn !== out)) total += blockIn * out + 2 * out;
      if (stride > 1) resolution = resolution.map((value) => Math.ceil(value / 2));
    }
    inplanes = out;
  });
  return total + (numClasses > 0 ? inplanes * numClasses + numClasses : 0);
}

const SOURCE = 'csrhddlam/axial-deeplab lib/models/axialnet.py';
const PAPER = 'Axial-DeepLab: Stand-Alone Axial-Attention for Panoptic Segmentation (arXiv:2003.07853)';

function preset(
  layers: readonly number[],
  widthMultiplier: number,
  numParameters: number,
  description: string,
): ModelPreset<AxialAttentionNetConfig> {
  return {
    config: { imgSize: 224, layers, widthMultiplier, groups: 8 },
    numParameters,
    description,
    paper: PAPER,
    source: SOURCE,
    packageName: '@mlzoo/vit',
  };
}

/** Presets of `AxialAttentionNet` (pure data), counts with the 1000-class head (10 for fashion-mnist). */
export const AXIAL_PRESETS: Record<string, ModelPreset<AxialAttentionNetConfig>> = {
  axial26s: preset([1, 2, 4, 1], 0.5, 5_944_936, 'Axial-26 small (s = 0.5), 224x224.'),
  axial50s: preset([3, 4, 6, 3], 0.5, 11_586_216, 'Axial-50 small (s = 0.5), 224x224.'),
  axial50m: preset([3, 4, 6, 3], 0.75, 25_179_400, 'Axial-50 medium (s = 0.75), 224x224.'),
  axial50l: preset([3, 4, 6, 3], 1, 43_973_480, 'Axial-50 large (s = 1), 224x224.'),
  axial_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      layers: [1, 1, 1, 1],
      widthMultiplier: 0.125,
      groups: 2,
      stemPool: false,
    },
    numParameters: 210_818,
    description:
      'Small axial ResNet for 28x28 grayscale images: s = 0.125, one block per stage, 2 heads, no stem max-pool (spans 14/14/7/4).',
    paper: PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/vit',
  },
};

function builder(name: string) {
  return (overrides: AxialAttentionNetConfig = {}) =>
    new AxialAttentionNet({ ...AXIAL_PRESETS[name]!.config, ...overrides });
}

export const axial26s = builder('axial26s');
export const axial50s = builder('axial50s');
export const axial50m = builder('axial50m');
export const axial50l = builder('axial50l');
export const axialFashionMnist = builder('axial_fashion_mnist');

/** Factory used by the registry. */
export function createAxialAttentionNet(config: AxialAttentionNetConfig): AxialAttentionNet {
  return new AxialAttentionNet(config);
}

/** Registers the axial-attention presets with core's `createModel`. Nothing registers on import. */
export function registerAxialModels(): void {
  for (const [name, value] of Object.entries(AXIAL_PRESETS))
    registerModel(name, createAxialAttentionNet, value);
}
