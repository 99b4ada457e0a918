// EViT: a ViT/DeiT that keeps only the patch tokens the class token attends to most, at a few blocks,
// and fuses the rest into one token. Same parameters and keys as timm's ViT/DeiT, so a DeiT checkpoint
// loads by key and runs faster with the same weights.
//
// Liang, Ge, Tong, Song, Wang, Xie, "Not All Patches are What You Need: Expediting Vision Transformers
// via Token Reorganizations", ICLR 2022, arXiv:2202.07800.
// Reference implementation: youweiliang/evit `evit.py` (`Attention` with keep_rate, `Block` with
// fuse_token, `EViT`), built on timm's VisionTransformer.
//
// At a pruning block, after the attention residual and before the MLP:
//   a = mean over heads of the class token's attention to the other tokens      [B, M]
//   keep the k = ceil(keepRate * M) tokens with the largest a, in descending order of a
//   fused token (fuseToken) = sum over the dropped tokens j of a_j * x_j        (a weighted sum, not a mean)
//   tokens = [prefix, kept, fused]
// The token count shrinks, so later pruning blocks rank the fused token with the others (as the
// reference does).
//
// The top-k selection is computed without `tf.topk` (which has no gradient in tfjs and would break
// training): each token's rank is the number of tokens with a larger score (ties to the lower index),
// and a 0/1 selection matrix of the ranks gathers the kept tokens with a matrix product, which
// works on every backend (the gather gradient needs UnsortedSegmentSum, missing on wasm). Gradients
// flow to the kept and fused tokens and, through the fused token's weights, to the attention.
import { type ForwardOptions, type ModelPreset, registerModel } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import {
  IMAGENET_DEFAULT_MEAN,
  IMAGENET_DEFAULT_STD,
  type PretrainedConfig,
  presetConfig,
  VIT_FASHION_MNIST_CONFIG,
  VisionTransformer,
  type VisionTransformerConfig,
} from './vision-transformer.js';

export interface EvitConfig extends VisionTransformerConfig {
  /** Fraction of the non-prefix tokens kept at each pruning block (default 0.7; in (0, 1]). */
  keepRate?: number;
  /** Blocks (0-based) that prune after their attention (default [3, 6, 9], the paper's for depth 12). */
  dropLocations?: readonly number[];
  /** Fuse the dropped tokens into one attention-weighted token (default true). */
  fuseToken?: boolean;
}

export interface EvitForwardOptions extends ForwardOptions {
  /**
   * Keep rate for this pass at every pruning block (default: the config's). The paper warms it up
   * from 1 during training; 1 runs the plain ViT.
   */
  keepRate?: number;
}

function isKeepRate(value: number): boolean {
  return value > 0 && value <= 1;
}

/** Checks the EViT fields before the ViT creates any variable; returns the ViT config. */
function checkEvitConfig(config: EvitConfig): EvitConfig {
  const depth = config.depth ?? 12;
  const keepRate = config.keepRate ?? 0.7;
  const dropLocations = config.dropLocations ?? [3, 6, 9];
  const attentionType = config.attention?.type;
  const problems = [
    !isKeepRate(keepRate) && `keepRate must be in (0, 1], got ${keepRate}`,
    !dropLocations.every((index) => Number.isInteger(index) && index >= 0 && index < depth) &&
      `dropLocations [${dropLocations.join(', ')}] must be block indices in [0, ${depth})`,
    new Set(dropLocations).size !== dropLocations.length &&
      `dropLocations [${dropLocations.join(', ')}] repeat a block`,
    config.classToken === false && 'EViT ranks tokens by the class token: classToken must be true',
    attentionType != null &&
      attentionType !== 'multi-head' &&
      `EViT needs the attention weights of the standard multi-head attention, got attention.type '${String(attentionType)}'`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`EViT: ${problems.join('; ')}`);
  return config;
}

/**
 * Selection matrix [B, k, M] of the k largest `scores` [B, M] per row, ordered by descending score
 * (ties: lower index first): row r is the one-hot vector of the r-th largest score. Built from
 * comparisons (`greaterEqual`), whose gradient exists (zero) in tfjs, unlike `topk`'s.
 */
export function topKSelection(scores: tf.Tensor, k: number): tf.Tensor {
  const count = scores.shape[1]!;
  if (!(Number.isInteger(k) && k >= 1 && k <= count)) {
    throw new Error(`topKSelection: k must be an integer in [1, ${count}], got ${k}`);
  }
  return tf.tidy(() => {
    const column = tf.expandDims(scores, 2); // [B, M, 1]: a_i
    const row = tf.expandDims(scores, 1); // [B, 1, M]: a_j
    const iAtLeastJ = tf.cast(tf.greaterEqual(column, row), 'float32'); // [B, i, j]: a_i >= a_j
    const jAtLeastI = tf.cast(tf.greaterEqual(row, column), 'float32'); // [B, i, j]: a_j >= a_i
    // before[i, j] = 1 when i < j: a tie goes to the lower index
    const before = tf.tensor2d(
      Float32Array.from({ length: count * count }, (_, index) =>
        Math.floor(index / count) < index % count ? 1 : 0,
      ),
      [count, count],
    );
    // i outranks j: a_i > a_j, or a_i == a_j and i < j
    const outranks = tf.add(tf.sub(1, jAtLeastI), tf.mul(tf.mul(iAtLeastJ, jAtLeastI), before));
    const rank = tf.expandDims(tf.sum(outranks, 1), 1); // [B, 1, M(j)]: how many tokens outrank j
    // selection[r, j] = [rank_j >= r] - [rank_j >= r + 1] = [rank_j == r]; ranks >= k select nothing.
    // (greaterEqual has a gradient in tfjs, equal has none; wasm's float32 oneHot returns zeros.)
    const positions = tf.reshape(tf.range(0, k, 1, 'float32'), [1, k, 1]);
    return tf.sub(
      tf.cast(tf.greaterEqual(rank, positions), 'float32'),
      tf.cast(tf.greaterEqual(rank, tf.add(positions, 1)), 'float32'),
    );
  });
}

/**
 * EViT on timm's ViT/DeiT (a {@link VisionTransformer} whose pruning blocks reorganise tokens).
 * Parameters and keys are the ViT's: `loadStateDict` takes a timm DeiT/ViT state dict as is. With a
 * distillation token (DeiT distilled) both prefix tokens are always kept, where the reference
 * implementation (written for cls-only models) would rank the distillation token with the patches.
 *
 * `forwardFeatures` returns [B, prefix + kept (+ fused), D]; `forwardIntermediates` defaults to
 * 'NLC' tokens (the grid is gone after the first pruning block).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { EViT } from '@mlzoo/vit';
 *
 * const model = new EViT({ imgSize: 28, inChans: 1, patchSize: 4, numClasses: 10, embedDim: 128,
 *   depth: 6, numHeads: 4, mlpRatio: 2, keepRate: 0.7, dropLocations: [2, 4] });
 * model.forwardFeatures(tf.zeros([2, 28, 28, 1])).shape; // [2, 28, 128]: cls + 26 kept + fused
 * ```
 */
export class EViT extends VisionTransformer {
  readonly keepRate: number;
  readonly dropLocations: readonly number[];
  readonly fuseToken: boolean;

  constructor(config: EvitConfig = {}) {
    super(checkEvitConfig(config));
    this.keepRate = config.keepRate ?? 0.7;
    this.dropLocations = [...(config.dropLocations ?? [3, 6, 9])];
    this.fuseToken = config.fuseToken ?? true;
    this.intermediatesFormat = 'NLC';
  }

  /** Tokens after each block for an input of this model's size (prefix tokens included). */
  tokenCounts(keepRate = this.keepRate): number[] {
    const counts: number[] = [];
    let tokens = this.patchEmbed.numPatches! + this.numPrefixTokens;
    for (let index = 0; index < this.depth; index++) {
      const others = tokens - this.numPrefixTokens;
      const kept = Math.ceil(keepRate * others);
      if (this.dropLocations.includes(index) && keepRate < 1 && kept < others) {
        tokens = this.numPrefixTokens + kept + (this.fuseToken ? 1 : 0);
      }
      counts.push(tokens);
    }
    return counts;
  }

  protected override forwardBlock(index: number, tokens: tf.Tensor, options: EvitForwardOptions): tf.Tensor {
    const block = this.blocks.at(index);
    const keepRate = options.keepRate ?? this.keepRate;
    if (!isKeepRate(keepRate))
      throw new Error(`${this.location}: keepRate must be in (0, 1], got ${keepRate}`);
    const [batch, count, dim] = tokens.shape as [number, number, number];
    const prefix = this.numPrefixTokens;
    const others = count - prefix;
    const kept = Math.ceil(keepRate * others);
    if (!this.dropLocations.includes(index) || keepRate >= 1 || kept >= others) {
      return block.forward(tokens, options);
    }
    return tf.tidy(() => {
      const { output, weights } = block.forwardAttentionWithWeights(tokens, options);
      const heads = weights.shape[1]!;
      // the class token's attention to the non-prefix tokens, averaged over heads: [B, M]
      const scores = tf.reshape(tf.mean(tf.slice(weights, [0, 0, 0, prefix], [batch, heads, 1, others]), 1), [
        batch,
        others,
      ]);
      const rest = tf.slice(output, [0, prefix, 0], [batch, others, dim]);
      const selection = topKSelection(scores, kept); // [B, kept, M]
      const parts = [tf.slice(output, [0, 0, 0], [batch, prefix, dim]), tf.matMul(selection, rest)];
      if (this.fuseToken) {
        const dropped = tf.sub(1, tf.sum(selection, 1)); // [B, M]: 1 for dropped tokens
        parts.push(tf.matMul(tf.expandDims(tf.mul(scores, dropped), 1), rest)); // [B, 1, D]
      }
      return block.forwardMlp(tf.concat(parts, 1), options);
    });
  }
}

// ---- presets -------------------------------------------------------------------------------------

const EVIT_PAPER = 'Not All Patches are What You Need (Liang et al., 2022), arXiv:2202.07800';
const EVIT_SOURCE = 'youweiliang/evit evit.py';
const PACKAGE = '@mlzoo/vit';
const EVIT_DEFAULTS = { keepRate: 0.7, dropLocations: [3, 6, 9], fuseToken: true } as const;
const B16 = { imgSize: 224, patchSize: 16, inChans: 3, numClasses: 1000, ...EVIT_DEFAULTS } as const;

function preset(config: EvitConfig, numParameters: number, description: string): ModelPreset<EvitConfig> {
  return { config, numParameters, description, paper: EVIT_PAPER, source: EVIT_SOURCE, packageName: PACKAGE };
}

/** Presets of `EViT` (pure data): DeiT configurations with keep rate 0.7 at blocks 3, 6 and 9. */
export const EVIT_PRESETS: Record<string, ModelPreset<EvitConfig>> = {
  evit_deit_tiny_patch16_224: preset(
    { ...B16, embedDim: 192, depth: 12, numHeads: 3 },
    5_717_416,
    'EViT on DeiT-Ti: keep rate 0.7 at blocks 3, 6, 9 with a fused token',
  ),
  evit_deit_small_patch16_224: preset(
    { ...B16, embedDim: 384, depth: 12, numHeads: 6 },
    22_050_664,
    "EViT on DeiT-S (the paper's main model): keep rate 0.7 at blocks 3, 6, 9 with a fused token",
  ),
  evit_deit_base_patch16_224: preset(
    { ...B16, embedDim: 768, depth: 12, numHeads: 12 },
    86_567_656,
    'EViT on DeiT-B: keep rate 0.7 at blocks 3, 6, 9 with a fused token',
  ),
  evit_fashion_mnist: {
    config: { ...VIT_FASHION_MNIST_CONFIG, keepRate: 0.7, dropLocations: [2, 4], fuseToken: true },
    numParameters: 805_130,
    description:
      'EViT on vit_fashion_mnist (28x28x1, patch 4, dim 128, depth 6): keep rate 0.7 at blocks 2 and 4 (49 -> 35+1 -> 26+1 patch tokens)',
    paper: EVIT_PAPER,
    source: 'mlzoo',
    packageName: PACKAGE,
  },
};

/** Pretrained configs: EViT runs DeiT weights, so DeiT's preprocessing. */
export const EVIT_PRETRAINED: Record<string, PretrainedConfig> = Object.fromEntries(
  (['tiny', 'small', 'base'] as const).map((size) => [
    `evit_deit_${size}_patch16_224`,
    {
      hubId: `timm/deit_${size}_patch16_224.fb_in1k`,
      mean: IMAGENET_DEFAULT_MEAN,
      std: IMAGENET_DEFAULT_STD,
      cropPct: 0.9,
      interpolation: 'bicubic',
    },
  ]),
);

function build(name: string, overrides?: Partial<EvitConfig>): EViT {
  return new EViT(presetConfig(EVIT_PRESETS, name, overrides));
}

/** EViT on DeiT-Ti (`evit_deit_tiny_patch16_224`), 5,717,416 parameters. */
export const evitDeitTinyPatch16_224 = (overrides?: Partial<EvitConfig>) =>
  build('evit_deit_tiny_patch16_224', overrides);
/** EViT on DeiT-S (`evit_deit_small_patch16_224`), 22,050,664 parameters. */
export const evitDeitSmallPatch16_224 = (overrides?: Partial<EvitConfig>) =>
  build('evit_deit_small_patch16_224', overrides);
/** EViT on DeiT-B (`evit_deit_base_patch16_224`), 86,567,656 parameters. */
export const evitDeitBasePatch16_224 = (overrides?: Partial<EvitConfig>) =>
  build('evit_deit_base_patch16_224', overrides);
/** `evit_fashion_mnist`: 805,130 parameters. */
export const evitFashionMnist = (overrides?: Partial<EvitConfig>) => build('evit_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createEvit(config: EvitConfig): EViT {
  return new EViT(config);
}

/** Registers every EViT preset with core's `createModel`. Nothing registers on import. */
export function registerEvitModels(): void {
  for (const [name, entry] of Object.entries(EVIT_PRESETS)) registerModel(name, createEvit, entry);
}
