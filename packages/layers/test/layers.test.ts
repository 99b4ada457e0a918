// Behaviour that golden fixtures cannot pin down: randomness, buffers, modes, errors, registry.
import { createModel, getModelInfo, listModels, Random, unregisterModel } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  Activation,
  BatchNorm,
  Conv2d,
  type Conv2dOptions,
  Dropout,
  DropPath,
  Embedding,
  GEGLU,
  GELU,
  GLU,
  GluMlp,
  Identity,
  LayerNorm,
  LearnedPositionEmbedding,
  Linear,
  Mlp,
  MlpClassifier,
  MultiHeadAttention,
  PatchEmbed,
  ReGLU,
  ReLU,
  RMSNorm,
  registerLayersModels,
  SiLU,
  SincosPositionEmbedding,
  SwiGLU,
  SwiGluMlp,
} from '../src/index.js';

let before = 0;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors, 'tensors leaked by the test').toBe(before);
});

describe('Linear', () => {
  it('stores [in, out], exposes PyTorch [out, in] and applies on the last axis of any rank', () => {
    const linear = new Linear({ inFeatures: 4, outFeatures: 3, random: new Random(1) });
    expect(linear.weight.shape).toEqual([4, 3]);
    expect(linear.stateDictShapes()).toEqual({ weight: [3, 4], bias: [3] });
    tf.tidy(() => {
      const input = tf.randomNormal([2, 5, 6, 4], 0, 1, 'float32', 3);
      const output = linear.forward(input);
      expect(output.shape).toEqual([2, 5, 6, 3]);
      const flat = linear.forward(tf.reshape(input, [60, 4]));
      expect(tf.max(tf.abs(tf.sub(tf.reshape(output, [60, 3]), flat))).dataSync()[0]).toBeLessThan(1e-6);
    });
    expect(() => tf.tidy(() => linear.forward(tf.zeros([2, 5])))).toThrow(
      'Linear: expected input [..., 4], got [2, 5]',
    );
    linear.dispose();
  });

  it('draws PyTorch default init from the seed: same seed, same weights, within 1/sqrt(in)', () => {
    const first = new Linear({ inFeatures: 16, outFeatures: 8, random: new Random(7) });
    const second = new Linear({ inFeatures: 16, outFeatures: 8, random: new Random(7) });
    expect(first.weight.dataSync()).toEqual(second.weight.dataSync());
    const bound = tf.tidy(() => tf.max(tf.abs(first.weight)).dataSync()[0]!);
    expect(bound).toBeLessThanOrEqual(1 / 4);
    expect(bound).toBeGreaterThan(0.2);
    first.dispose();
    second.dispose();
  });
});

describe('Conv2d', () => {
  it('rejects padding same with stride, and names the module path in shape errors', () => {
    expect(
      () => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, padding: 'same' }),
    ).toThrow("padding 'same' needs stride 1");
    const model = new Mlp({ inFeatures: 4 });
    const conv = new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3 });
    expect(() => tf.tidy(() => conv.forward(tf.zeros([1, 8, 8, 2])))).toThrow(
      'Conv2d: expected input [B, H, W, 3], got [1, 8, 8, 2]',
    );
    expect(() => new Conv2d({ inChannels: 3, outChannels: 4, kernelSize: 3, groups: 2 })).toThrow(
      'divisible by groups',
    );
    tf.tidy(() => {
      expect(conv.forward(tf.zeros([1, 8, 8, 3])).shape).toEqual([1, 6, 6, 4]);
    });
    conv.dispose();
    model.dispose();
  });
});

describe('Conv2d option checks', () => {
  const base = { inChannels: 3, outChannels: 4, kernelSize: 3 } as const;
  const bad: Array<[Partial<Conv2dOptions>, string]> = [
    [{ kernelSize: 0 }, 'Conv2d: kernelSize must be a positive integer or a pair of them, got 0'],
    [{ kernelSize: [3, 0] }, 'Conv2d: kernelSize must be a positive integer or a pair of them, got [3, 0]'],
    [{ kernelSize: 2.5 }, 'Conv2d: kernelSize must be a positive integer or a pair of them, got 2.5'],
    [{ stride: 0 }, 'Conv2d: stride must be a positive integer or a pair of them, got 0'],
    [{ stride: [1, -1] }, 'Conv2d: stride must be a positive integer or a pair of them, got [1, -1]'],
    [{ dilation: 0 }, 'Conv2d: dilation must be a positive integer or a pair of them, got 0'],
    [{ groups: 0 }, 'Conv2d: groups must be a positive integer, got 0'],
    [{ groups: 1.5 }, 'Conv2d: groups must be a positive integer, got 1.5'],
    [{ inChannels: 0 }, 'Conv2d: inChannels must be a positive integer, got 0'],
    [{ outChannels: -4 }, 'Conv2d: outChannels must be a positive integer, got -4'],
    [{ outChannels: Number.NaN }, 'Conv2d: outChannels must be a positive integer, got NaN'],
    [{ padding: -1 }, 'Conv2d: padding must be a non-negative integer or a pair of them, got -1'],
    [{ padding: [1, 0.5] }, 'Conv2d: padding must be a non-negative integer or a pair of them, got [1, 0.5]'],
    [
      { implementation: 'winograd' as 'native' },
      "Conv2d: implementation must be 'auto', 'native' or 'im2col', got 'winograd'",
    ],
  ];
  it.each(bad)('rejects %j before creating any variable', (override, message) => {
    const tensors = tf.memory().numTensors;
    expect(() => new Conv2d({ ...base, ...override })).toThrow(message);
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('accepts zero padding, valid and same, and pairs', () => {
    const conv = new Conv2d({ ...base, padding: [0, 1], stride: [1, 2], dilation: [2, 1] });
    expect(conv.paddingAmounts()).toEqual([
      [0, 0],
      [1, 1],
    ]);
    tf.tidy(() => {
      expect(conv.forward(tf.zeros([1, 9, 9, 3])).shape).toEqual([1, 5, 5, 4]);
    });
    conv.dispose();
  });
});

describe('forward outside tf.tidy', () => {
  // Each entry: a module and an input; forward must add exactly its output to the tensor count (or
  // nothing when it returns its input unchanged), whatever it computes on the way.
  const random = new Random(2);
  const cases: Array<
    [
      string,
      () => {
        module: { forward: (input: tf.Tensor, options?: object) => tf.Tensor; dispose: () => void };
        input: () => tf.Tensor;
        options?: object;
      },
    ]
  > = [
    [
      'Mlp',
      () => ({
        module: new Mlp({ inFeatures: 4, hiddenFeatures: 8, random }),
        input: () => tf.ones([2, 3, 4]),
      }),
    ],
    [
      'Mlp with norm and dropout in training',
      () => ({
        module: new Mlp({ inFeatures: 4, hiddenFeatures: 8, normEps: 1e-5, dropRate: 0.5, random }),
        input: () => tf.ones([2, 4]),
        options: { training: true },
      }),
    ],
    [
      'GluMlp',
      () => ({
        module: new GluMlp({ inFeatures: 4, hiddenFeatures: 8, random }),
        input: () => tf.ones([2, 4]),
      }),
    ],
    [
      'SwiGluMlp',
      () => ({
        module: new SwiGluMlp({ inFeatures: 4, hiddenFeatures: 8, random }),
        input: () => tf.ones([2, 4]),
      }),
    ],
    [
      'Linear',
      () => ({ module: new Linear({ inFeatures: 4, outFeatures: 3, random }), input: () => tf.ones([2, 4]) }),
    ],
    [
      'Conv2d native',
      () => ({
        module: new Conv2d({ inChannels: 2, outChannels: 4, kernelSize: 3, padding: 1, random }),
        input: () => tf.ones([1, 5, 5, 2]),
      }),
    ],
    [
      'Conv2d im2col, grouped, strided, dilated',
      () => ({
        module: new Conv2d({
          inChannels: 4,
          outChannels: 4,
          kernelSize: 3,
          stride: 2,
          dilation: 2,
          padding: 2,
          groups: 2,
          implementation: 'im2col',
          random,
        }),
        input: () => tf.ones([1, 7, 7, 4]),
      }),
    ],
    [
      'Conv2d depthwise',
      () => ({
        module: new Conv2d({ inChannels: 2, outChannels: 4, kernelSize: 3, dilation: 2, groups: 2, random }),
        input: () => tf.ones([1, 7, 7, 2]),
      }),
    ],
    [
      'PatchEmbed conv',
      () => ({
        module: new PatchEmbed({ imgSize: 8, patchSize: 4, inChans: 1, embedDim: 8, normEps: 1e-6, random }),
        input: () => tf.ones([1, 8, 8, 1]),
      }),
    ],
    [
      'PatchEmbed linear',
      () => ({
        module: new PatchEmbed({ imgSize: 8, patchSize: 4, inChans: 1, embedDim: 8, mode: 'linear', random }),
        input: () => tf.ones([1, 8, 8, 1]),
      }),
    ],
    [
      'MultiHeadAttention',
      () => ({
        module: new MultiHeadAttention({ dim: 8, numHeads: 2, qkNorm: true, gate: 'headwise', random }),
        input: () => tf.ones([1, 3, 8]),
      }),
    ],
    ['LayerNorm', () => ({ module: new LayerNorm({ normalizedShape: 4 }), input: () => tf.ones([2, 4]) })],
    ['RMSNorm', () => ({ module: new RMSNorm({ normalizedShape: 4 }), input: () => tf.ones([2, 4]) })],
    [
      'BatchNorm training',
      () => ({
        module: new BatchNorm({ numFeatures: 4 }),
        input: () => tf.randomNormal([3, 4], 0, 1, 'float32', 1),
        options: { training: true },
      }),
    ],
    ['BatchNorm eval', () => ({ module: new BatchNorm({ numFeatures: 4 }), input: () => tf.ones([3, 4]) })],
    [
      'Dropout training',
      () => ({
        module: new Dropout({ probability: 0.5, random }),
        input: () => tf.ones([4, 4]),
        options: { training: true },
      }),
    ],
    [
      'DropPath training',
      () => ({
        module: new DropPath({ probability: 0.5, random }),
        input: () => tf.ones([4, 4]),
        options: { training: true },
      }),
    ],
    [
      'Embedding',
      () => ({
        module: new Embedding({ numEmbeddings: 5, embeddingDim: 3, paddingIndex: 0, random }),
        input: () => tf.tensor1d([0, 4, 2], 'int32'),
      }),
    ],
    [
      'LearnedPositionEmbedding',
      () => ({
        module: new LearnedPositionEmbedding({ numTokens: 3, dim: 4, random }),
        input: () => tf.ones([2, 3, 4]),
      }),
    ],
    [
      'SincosPositionEmbedding',
      () => ({
        module: new SincosPositionEmbedding({ gridSize: [2, 2], dim: 4 }),
        input: () => tf.ones([1, 4, 4]),
      }),
    ],
    ['GELU tanh', () => ({ module: new GELU({ approximate: 'tanh' }), input: () => tf.ones([2, 4]) })],
    ['SiLU', () => ({ module: new SiLU(), input: () => tf.ones([2, 4]) })],
    ['ReLU', () => ({ module: new ReLU(), input: () => tf.ones([2, 4]) })],
    ['Activation gelu', () => ({ module: new Activation('gelu'), input: () => tf.ones([2, 4]) })],
    ['GLU', () => ({ module: new GLU(), input: () => tf.ones([2, 4]) })],
    ['GEGLU', () => ({ module: new GEGLU(), input: () => tf.ones([2, 4]) })],
    ['SwiGLU', () => ({ module: new SwiGLU(), input: () => tf.ones([2, 4]) })],
    ['ReGLU', () => ({ module: new ReGLU(), input: () => tf.ones([2, 4]) })],
    ['Identity', () => ({ module: new Identity(), input: () => tf.ones([2, 4]) })],
    [
      'MlpClassifier with dropout in training',
      () => ({
        module: new MlpClassifier({ imgSize: 4, hiddenDims: [8, 6], numClasses: 3, dropRate: 0.5, random }),
        input: () => tf.ones([2, 4, 4, 1]),
        options: { training: true },
      }),
    ],
  ];

  it.each(cases)('%s adds only its output', (_, make) => {
    const { module, input: makeInput, options } = make();
    const input = makeInput();
    const tensors = tf.memory().numTensors;
    const output = module.forward(input, options);
    expect(tf.memory().numTensors - tensors).toBe(output === input ? 0 : 1);
    tf.dispose([input, output]);
    module.dispose();
  });
});

describe('Dropout and DropPath', () => {
  it('are identity outside training', () => {
    const dropout = new Dropout({ probability: 0.5 });
    const input = tf.ones([4, 4]);
    expect(dropout.forward(input)).toBe(input);
    expect(new DropPath({ probability: 0.5 }).forward(input, { training: false })).toBe(input);
    input.dispose();
  });

  it('dropout zeroes about p of the elements, scales the rest by 1/(1-p), and is reproducible by seed', () => {
    const make = () => new Dropout({ probability: 0.25, random: new Random(11) });
    tf.tidy(() => {
      const input = tf.ones([100, 100]);
      const first = make().forward(input, { training: true }).dataSync();
      const second = make().forward(input, { training: true }).dataSync();
      expect(first).toEqual(second);
      const zeros = first.filter((value) => value === 0).length;
      expect(zeros / first.length).toBeGreaterThan(0.22);
      expect(zeros / first.length).toBeLessThan(0.28);
      expect(new Set(first.filter((value) => value !== 0))).toEqual(new Set([Math.fround(1 / 0.75)]));
    });
  });

  it('drop path keeps or drops whole samples, scaled by 1/keep (timm scale_by_keep)', () => {
    const dropPath = new DropPath({ probability: 0.5, random: new Random(5) });
    tf.tidy(() => {
      const output = dropPath.forward(tf.ones([64, 3, 2]), { training: true });
      const rows = (output.arraySync() as number[][][]).map((sample) => new Set(sample.flat()));
      for (const row of rows) expect(row.size).toBe(1);
      const values = rows.map((row) => [...row][0]);
      expect(new Set(values)).toEqual(new Set([0, 2]));
      const unscaled = new DropPath({ probability: 0.5, scaleByKeep: false, random: new Random(5) });
      expect(new Set(unscaled.forward(tf.ones([64, 1]), { training: true }).dataSync())).toEqual(
        new Set([0, 1]),
      );
    });
  });
});

describe('BatchNorm', () => {
  it('updates running stats only in training and only when asked; eval uses them', () => {
    const norm = new BatchNorm({ numFeatures: 2 });
    const input = tf.tensor4d([1, 10, 3, 20, 5, 30, 7, 40], [2, 2, 1, 2]);
    tf.tidy(() => {
      norm.forward(input, { training: true, updateRunningStats: false });
    });
    expect(norm.runningMean!.dataSync()).toEqual(new Float32Array([0, 0]));
    tf.tidy(() => {
      norm.forward(input, { training: true });
    });
    expect([...norm.runningMean!.dataSync()]).toEqual([0.4, 2.5].map(Math.fround));
    // unbiased variance of [1,3,5,7] = 20/3, of [10,20,30,40] = 500/3
    const runningVar = [...norm.runningVar!.dataSync()];
    expect(runningVar[0]).toBeCloseTo(0.9 + 0.1 * (20 / 3), 5);
    expect(runningVar[1]).toBeCloseTo(0.9 + 0.1 * (500 / 3), 4);
    expect(norm.numBatchesTracked!.dataSync()[0]).toBe(1);
    tf.tidy(() => {
      const evaluated = norm.forward(input).dataSync();
      expect(evaluated[0]).toBeCloseTo((1 - 0.4) / Math.sqrt(runningVar[0]! + 1e-5), 5);
    });
    expect(() => tf.tidy(() => norm.forward(tf.zeros([1, 2]), { training: true }))).toThrow(
      'more than 1 value',
    );
    input.dispose();
    norm.dispose();
  });
});

describe('PatchEmbed', () => {
  it('gives the same tokens in conv and linear mode with shared parameter names', () => {
    const conv = new PatchEmbed({ imgSize: 8, patchSize: 4, inChans: 3, embedDim: 5, random: new Random(2) });
    const linear = new PatchEmbed({ imgSize: 8, patchSize: 4, inChans: 3, embedDim: 5, mode: 'linear' });
    expect(linear.stateDictShapes()).toEqual(conv.stateDictShapes());
    tf.tidy(() => {
      linear.loadStateDict(conv.stateDict());
    });
    tf.tidy(() => {
      const image = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 9);
      const difference = tf.max(tf.abs(tf.sub(conv.forward(image), linear.forward(image)))).dataSync()[0]!;
      expect(difference).toBeLessThan(1e-5);
      expect(conv.forward(image).shape).toEqual([2, 4, 5]);
    });
    expect(conv.numPatches).toBe(4);
    expect(() => new PatchEmbed({ imgSize: 10, patchSize: 4 })).toThrow('not divisible');
    expect(() => tf.tidy(() => conv.forward(tf.zeros([1, 12, 12, 3])))).toThrow(
      'expected input [B, 8, 8, 3], got [1, 12, 12, 3]',
    );
    const anySize = new PatchEmbed({ imgSize: null, patchSize: 4, inChans: 1, embedDim: 2 });
    expect(() => tf.tidy(() => anySize.forward(tf.zeros([1, 6, 8, 1])))).toThrow(
      'not divisible by patch size 4x4',
    );
    conv.dispose();
    linear.dispose();
    anySize.dispose();
  });
});

describe('position embeddings', () => {
  it('learned pos_embed is a trainable [1, N, D] parameter; sin-cos is a buffer, persistent on request', () => {
    const learned = new LearnedPositionEmbedding({ numTokens: 5, dim: 4, random: new Random(0) });
    expect(learned.stateDictShapes()).toEqual({ pos_embed: [1, 5, 4] });
    const fixed = new SincosPositionEmbedding({ gridSize: [2, 2], dim: 8, numPrefixTokens: 1 });
    expect(fixed.stateDictShapes()).toEqual({});
    expect(fixed.numParameters()).toBe(0);
    expect([...fixed.posEmbed.dataSync().slice(0, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const stored = new SincosPositionEmbedding({ gridSize: [2, 2], dim: 8, persistent: true });
    expect(stored.stateDictShapes()).toEqual({ pos_embed: [1, 4, 8] });
    tf.tidy(() => {
      expect(fixed.forward(tf.zeros([3, 5, 8])).shape).toEqual([3, 5, 8]);
    });
    for (const module of [learned, fixed, stored]) module.dispose();
  });
});

describe('Embedding', () => {
  it('keeps the padding row at zero with no gradient, and rejects float indices', () => {
    const embedding = new Embedding({
      numEmbeddings: 5,
      embeddingDim: 3,
      paddingIndex: -1,
      random: new Random(4),
    });
    expect(embedding.paddingIndex).toBe(4);
    expect([...embedding.weight.dataSync().slice(12)].map((value) => value + 0)).toEqual([0, 0, 0]);
    tf.tidy(() => {
      const indices = tf.tensor2d([4, 1, 1, 4], [2, 2], 'int32');
      const { grads } = tf.variableGrads(
        () => tf.sum(embedding.forward(indices)) as tf.Scalar,
        [embedding.weight],
      );
      const gradient = grads[embedding.weight.name]!.arraySync() as number[][];
      expect(gradient[1]).toEqual([2, 2, 2]);
      expect(gradient[4]!.map((value) => value + 0)).toEqual([0, 0, 0]);
      expect(gradient[0]!.map((value) => value + 0)).toEqual([0, 0, 0]);
    });
    expect(() => tf.tidy(() => embedding.forward(tf.zeros([2])))).toThrow(
      'expected int32 indices, got float32 [2]',
    );
    embedding.dispose();
  });
});

describe('MultiHeadAttention', () => {
  it('validates options and accepts any sequence length (sigmoid bias -log N follows N)', () => {
    expect(() => new MultiHeadAttention({ dim: 10, numHeads: 3 })).toThrow('divisible');
    expect(() => new MultiHeadAttention({ dim: 8, numHeads: 2, learnSigmoidBias: true })).toThrow(
      'sigmoidBias',
    );
    const attention = new MultiHeadAttention({
      dim: 8,
      numHeads: 2,
      scoreNorm: 'sigmoid',
      random: new Random(3),
    });
    tf.tidy(() => {
      expect(attention.forward(tf.randomNormal([1, 3, 8], 0, 1, 'float32', 1)).shape).toEqual([1, 3, 8]);
      expect(attention.forward(tf.randomNormal([2, 7, 8], 0, 1, 'float32', 1)).shape).toEqual([2, 7, 8]);
      // All-zero scores: weights are sigmoid(-log N) = 1 / (N + 1).
      const weights = attention.normalizeScores(tf.zeros([1, 2, 4, 4])).dataSync();
      expect(weights[0]).toBeCloseTo(1 / 5, 6);
    });
    const gated = new MultiHeadAttention({ dim: 8, numHeads: 2, gate: 'headwise' });
    expect(gated.stateDictShapes()['gate.weight']).toEqual([2, 8]);
    attention.dispose();
    gated.dispose();
  });

  it('clipped softmax can output exact zeros', () => {
    const attention = new MultiHeadAttention({
      dim: 4,
      numHeads: 1,
      scoreNorm: 'clipped-softmax',
      clipGamma: -0.1,
    });
    tf.tidy(() => {
      const weights = attention.normalizeScores(tf.tensor4d([[[[5, 0, 0]]]])).dataSync();
      expect(weights[1]).toBe(0);
      expect(weights[0]).toBeGreaterThan(0.9);
    });
    attention.dispose();
  });
});

describe('MlpClassifier', () => {
  it('mlp_fashion_mnist has 535,818 parameters, fc1/fc2/head names and the Classifier surface', () => {
    registerLayersModels();
    registerLayersModels(); // idempotent
    expect(listModels('mlp_*')).toContain('mlp_fashion_mnist');
    expect(getModelInfo('mlp_fashion_mnist').preset.numParameters).toBe(535_818);
    const model = createModel<MlpClassifier>('mlp_fashion_mnist');
    expect(model.numParameters()).toBe(535_818);
    expect(Object.keys(model.stateDictShapes())).toEqual([
      'fc1.weight',
      'fc1.bias',
      'fc2.weight',
      'fc2.bias',
      'head.weight',
      'head.bias',
    ]);
    expect(model.stateDictShapes()['fc1.weight']).toEqual([512, 784]);
    expect([model.numFeatures, model.headHiddenSize, model.classifierName, model.firstLayerName]).toEqual([
      256,
      256,
      'head',
      'fc1',
    ]);
    tf.tidy(() => {
      const images = tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 1);
      expect(model.forward(images).shape).toEqual([2, 10]);
      const features = model.forwardFeatures(images);
      expect(model.forwardHead(features, { preLogits: true }).shape).toEqual([2, 256]);
    });
    model.resetClassifier(0);
    expect(model.numClasses).toBe(0);
    expect(model.head).toBeInstanceOf(Identity);
    tf.tidy(() => {
      expect(model.forward(tf.zeros([1, 28, 28, 1])).shape).toEqual([1, 256]);
    });
    model.resetClassifier(3);
    expect(model.stateDictShapes()['head.weight']).toEqual([3, 256]);
    expect(() => tf.tidy(() => model.forward(tf.zeros([1, 28, 28, 3])))).toThrow(
      'expected input [B, 28, 28, 1], got [1, 28, 28, 3]',
    );
    model.dispose();
    unregisterModel('mlp_fashion_mnist');
  });
});

describe('MlpClassifier config errors', () => {
  it('name the option and create nothing', () => {
    const before = tf.memory().numTensors;
    expect(() => new MlpClassifier({ hiddenDims: [512, -3] })).toThrow(
      'MlpClassifier: hiddenDims must be positive integers, got [512, -3]',
    );
    expect(() => new MlpClassifier({ imgSize: 0, dropRate: 1 })).toThrow(
      'MlpClassifier: imgSize must be positive integers, got 0; dropRate must be in [0, 1), got 1',
    );
    expect(tf.memory().numTensors).toBe(before);
  });
});
