// One way for every transformer in the zoo to take its token-mixing attention from a config: a
// model's config carries `attention?: AttentionConfig` and builds each block's attention with
// `createAttention(config.attention, {dim, numHeads, qkvBias, random})`. The config selects the type
// (standard multi-head attention with any score normalisation and gating, or a linear-complexity
// variant) and that type's options; the model supplies what its block decides (width, heads, bias).
import type { Random, TensorModule } from '@mlzoo/core';
import { MultiHeadAttention, type MultiHeadAttentionOptions } from './attention.js';

export type AttentionType = 'multi-head';

/** The options a model decides for each block's attention (not part of the user's config). */
export interface CreateAttentionOptions {
  dim: number;
  numHeads: number;
  qkvBias?: boolean;
  random?: Random;
}

/** A block's attention choice: the type and that type's options (everything but the block's own). */
export type AttentionConfig = { type?: 'multi-head' } & Omit<
  MultiHeadAttentionOptions,
  'dim' | 'numHeads' | 'random'
>;

/** What every attention built here offers: [B, N, dim] in, [B, N, dim] out. */
export interface AttentionModule extends TensorModule {
  readonly dim: number;
  readonly numHeads: number;
}

/**
 * Builds the attention `config` asks for, with the block's width and heads.
 *
 * @example
 * ```ts
 * import { createAttention } from '@mlzoo/layers';
 *
 * const attention = createAttention({ scoreNorm: 'sigmoid' }, { dim: 64, numHeads: 4, qkvBias: true });
 * ```
 */
export function createAttention(
  config: AttentionConfig | undefined,
  options: CreateAttentionOptions,
): AttentionModule {
  const { type = 'multi-head', ...rest } = config ?? {};
  switch (type) {
    case 'multi-head':
      return new MultiHeadAttention({
        qkvBias: options.qkvBias,
        ...rest,
        dim: options.dim,
        numHeads: options.numHeads,
        random: options.random,
      });
    default:
      throw new Error(`createAttention: unknown attention type '${type as string}'`);
  }
}
