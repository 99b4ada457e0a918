// One way for every transformer in the zoo to take its token-mixing attention from a config: a
// model's config carries `attention?: AttentionConfig` and builds each block's attention with
// `createAttention(config.attention, {dim, numHeads, qkvBias, random})`. The config selects the type
// (standard multi-head attention with any score normalisation and gating, or a linear-complexity
// variant) and that type's options; the model supplies what its block decides (width, heads, bias).
//
// Linear-complexity types need the tokens' grid (see `TokenGridOptions`): a model passes
// `{gridSize, numPrefixTokens}` in the forward options where it knows them; without them a square
// token count (or one prefix token and a square) is read as a square grid.
import type { Random, TensorModule } from '@mlzoo/core';
import type * as tf from '@tensorflow/tfjs-core';
import { MultiHeadAttention, type MultiHeadAttentionOptions } from './attention.js';
import { NalaformerAttention, type NalaformerAttentionOptions } from './nalaformer-attention.js';
import { SoftAttention, type SoftAttentionOptions, type TokenGridOptions } from './soft-attention.js';

export type AttentionType = 'multi-head' | 'soft' | 'nalaformer';

/** Forward options every attention built here accepts (the grid matters to 'soft' and 'nalaformer'). */
export type AttentionForwardOptions = TokenGridOptions;

/** The options a model decides for each block's attention (not part of the user's config). */
export interface CreateAttentionOptions {
  dim: number;
  numHeads: number;
  qkvBias?: boolean;
  random?: Random;
}

/** Standard multi-head attention (the default type) with its score normalisation and gating. */
export type MultiHeadAttentionConfig = { type?: 'multi-head' } & Omit<
  MultiHeadAttentionOptions,
  'dim' | 'numHeads' | 'random'
>;

/** SOFT (softmax-free, Gaussian kernel + Nystrom landmarks): linear in the number of tokens. */
export type SoftAttentionConfig = { type: 'soft' } & Omit<
  SoftAttentionOptions,
  'dim' | 'numHeads' | 'random'
>;

/** NaLaFormer's norm-aware linear attention: linear in the number of tokens. */
export type NalaformerAttentionConfig = { type: 'nalaformer' } & Omit<
  NalaformerAttentionOptions,
  'dim' | 'numHeads' | 'random'
>;

/** A block's attention choice: the type and that type's options (everything but the block's own). */
export type AttentionConfig = MultiHeadAttentionConfig | SoftAttentionConfig | NalaformerAttentionConfig;

/** What every attention built here offers: [B, N, dim] in, [B, N, dim] out. */
export interface AttentionModule extends TensorModule {
  readonly dim: number;
  readonly numHeads: number;
  forward(input: tf.Tensor, options?: AttentionForwardOptions): tf.Tensor;
}

/**
 * Builds the attention `config` asks for, with the block's width and heads.
 *
 * @example
 * ```ts
 * import { createAttention } from '@mlzoo/layers';
 *
 * const attention = createAttention({ scoreNorm: 'sigmoid' }, { dim: 64, numHeads: 4, qkvBias: true });
 * const linear = createAttention({ type: 'soft', ratio: 2 }, { dim: 64, numHeads: 4, qkvBias: true });
 * ```
 */
export function createAttention(
  config: AttentionConfig | undefined,
  options: CreateAttentionOptions,
): AttentionModule {
  const chosen: AttentionConfig = config ?? {};
  const block = { dim: options.dim, numHeads: options.numHeads, random: options.random };
  switch (chosen.type ?? 'multi-head') {
    case 'multi-head': {
      const { type: _, ...rest } = chosen as MultiHeadAttentionConfig;
      return new MultiHeadAttention({ qkvBias: options.qkvBias, ...rest, ...block });
    }
    case 'soft': {
      const { type: _, ...rest } = chosen as SoftAttentionConfig;
      return new SoftAttention({ qkvBias: options.qkvBias, ...rest, ...block });
    }
    case 'nalaformer': {
      const { type: _, ...rest } = chosen as NalaformerAttentionConfig;
      return new NalaformerAttention({ qkvBias: options.qkvBias, ...rest, ...block });
    }
    default:
      throw new Error(`createAttention: unknown attention type '${String(chosen.type)}'`);
  }
}
