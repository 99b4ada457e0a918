// Every golden fixture in ../fixtures (written by tools/fixtures/layers.py from PyTorch) against the
// mlzoo layer built with the same options: output, input gradient, parameter gradients, buffers.
import type { Module } from '@mlzoo/core';
import { checkAgainstFixture, expectClose, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import {
  BatchNorm,
  type BatchNormOptions,
  Conv2d,
  type Conv2dOptions,
  Embedding,
  type EmbeddingOptions,
  GEGLU,
  GELU,
  GLU,
  GluMlp,
  type GluMlpOptions,
  LayerNorm,
  type LayerNormOptions,
  LearnedPositionEmbedding,
  type LearnedPositionEmbeddingOptions,
  Linear,
  type LinearOptions,
  Mlp,
  MlpClassifier,
  type MlpClassifierConfig,
  type MlpOptions,
  MultiHeadAttention,
  type MultiHeadAttentionOptions,
  PatchEmbed,
  type PatchEmbedOptions,
  ReGLU,
  ReLU,
  RMSNorm,
  type RMSNormOptions,
  SiLU,
  type SincosOptions,
  SwiGLU,
  SwiGluMlp,
  type SwiGluMlpOptions,
  sincos2dPositionEmbedding,
} from '../src/index.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);

type Options = Record<string, unknown>;
interface Built {
  module: Module;
  forward: (input: tf.Tensor, options: Options) => tf.Tensor;
  /** Gradient kernels the variant needs; it is skipped on backends without them (wasm lacks conv backprop). */
  requiresKernels: string[];
}

function tensorModule(
  module: Module & { forward(input: tf.Tensor, options?: Options): tf.Tensor },
  requiresKernels: string[] = [],
): Built {
  return { module, forward: (input, options) => module.forward(input, options), requiresKernels };
}

const CONV_BACKPROP = [
  'Conv2DBackpropFilter',
  'DepthwiseConv2dNativeBackpropInput',
  'DepthwiseConv2dNativeBackpropFilter',
];

function available(kernels: string[]): boolean {
  return kernels.every((kernel) => tf.getKernel(kernel, tf.getBackend()) != null);
}

/** Builders by the fixture's `layer` metadata; PatchEmbed is checked in both modes. */
const builders: Record<string, (options: Options) => Built[]> = {
  Linear: (options) => [tensorModule(new Linear(options as unknown as LinearOptions))],
  Conv2d: (options) => [
    tensorModule(
      new Conv2d({ ...(options as unknown as Conv2dOptions), implementation: 'native' }),
      CONV_BACKPROP,
    ),
    tensorModule(new Conv2d({ ...(options as unknown as Conv2dOptions), implementation: 'im2col' })),
    // the default: native where the backend has conv gradients, im2col while recording elsewhere
    tensorModule(new Conv2d(options as unknown as Conv2dOptions)),
  ],
  LayerNorm: (options) => [tensorModule(new LayerNorm(options as unknown as LayerNormOptions))],
  RMSNorm: (options) => [tensorModule(new RMSNorm(options as unknown as RMSNormOptions))],
  BatchNorm: (options) => [tensorModule(new BatchNorm(options as unknown as BatchNormOptions))],
  GELU: (options) => [tensorModule(new GELU(options))],
  SiLU: () => [tensorModule(new SiLU())],
  ReLU: () => [tensorModule(new ReLU())],
  GLU: () => [tensorModule(new GLU())],
  GEGLU: () => [tensorModule(new GEGLU())],
  SwiGLU: () => [tensorModule(new SwiGLU())],
  ReGLU: () => [tensorModule(new ReGLU())],
  Mlp: (options) => [tensorModule(new Mlp(options as unknown as MlpOptions))],
  GluMlp: (options) => [tensorModule(new GluMlp(options as unknown as GluMlpOptions))],
  SwiGluMlp: (options) => [tensorModule(new SwiGluMlp(options as unknown as SwiGluMlpOptions))],
  PatchEmbed: (options) => [
    tensorModule(new PatchEmbed({ ...(options as PatchEmbedOptions), mode: 'conv' }), CONV_BACKPROP),
    tensorModule(new PatchEmbed({ ...(options as PatchEmbedOptions), mode: 'linear' })),
  ],
  LearnedPositionEmbedding: (options) => [
    tensorModule(new LearnedPositionEmbedding(options as unknown as LearnedPositionEmbeddingOptions)),
  ],
  Embedding: (options) => [tensorModule(new Embedding(options as unknown as EmbeddingOptions))],
  MultiHeadAttention: (options) => [
    tensorModule(new MultiHeadAttention(options as unknown as MultiHeadAttentionOptions)),
  ],
  MlpClassifier: (options) => [tensorModule(new MlpClassifier(options as MlpClassifierConfig))],
};

// Attention chains two matmuls, a normalisation and a projection in float32 (the reference is
// float64): observed errors reach a few 1e-6 relative, so 1e-4 leaves margin; everything else 1e-5.
function toleranceFor(layer: string): number {
  return layer === 'MultiHeadAttention' ? 1e-4 : 1e-5;
}

describe('golden fixtures from PyTorch', () => {
  const names = fixtureNames(FIXTURES);

  it('covers every layer family', () => {
    expect(names.length).toBeGreaterThanOrEqual(40);
    const layers = new Set(
      names
        .map((name) => loadFixture(FIXTURES, name))
        .map((fixture) => {
          fixture.dispose();
          return fixture.layer;
        }),
    );
    for (const layer of [...Object.keys(builders), 'sincos2dPositionEmbedding'])
      expect(layers).toContain(layer);
  });

  for (const name of names) {
    it(name, () => {
      const before = tf.memory().numTensors;
      const fixture = loadFixture(FIXTURES, name);
      try {
        if (fixture.layer === 'sincos2dPositionEmbedding') {
          const table = sincos2dPositionEmbedding(fixture.options as unknown as SincosOptions);
          expectClose(table, fixture.tensors.output!, 1e-5, `${name} table`);
          table.dispose();
          return;
        }
        const build = builders[fixture.layer];
        if (!build) throw new Error(`${name}: no builder for layer '${fixture.layer}'`);
        const variants = build(fixture.options);
        expect(variants.some((variant) => available(variant.requiresKernels))).toBe(true);
        for (const { module, forward, requiresKernels } of variants) {
          try {
            if (available(requiresKernels))
              checkAgainstFixture(fixture, module, forward, toleranceFor(fixture.layer));
          } finally {
            module.dispose();
          }
        }
      } finally {
        fixture.dispose();
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
