// Activator: a transformer whose token mixer is replaced by a GLU MLP (no attention).
//
// Abdullah Nazhat Abdullah & Tarkan Aydin, "Activator: GLU Activation Function as the Core Component
// of a Vision Transformer", 2024, arXiv:2405.15953 (https://arxiv.org/abs/2405.15953).
// Reference: Abdullah-88/Activator, activator.py (`ActivatorGatingUnit`, `ActivatorBlock`, `ACTIVATOR`)
// and train.py (`ACTIVATORImageClassification`: conv patcher, token mean, linear classifier);
// activator_only_GEGLU.py is the variant without the second MLP (`ffn: false` here). Parameter
// names are that code's state-dict keys.
//
// Block (pre-norm; ONE LayerNorm `norm` serves both residual branches, shared gamma/beta):
//   x = x + actgu(norm(x)),  actgu(x) = proj_3( LN_h(act(proj_1 x)) * LN_h(proj_2 x) )
//   x = x + ffn(norm(x)),    ffn = Linear -> GELU -> Dropout -> Linear -> Dropout
// with ONE hidden LayerNorm `actgu.norm` (LN_h) shared by the two gate branches. Every operation is
// per token: nothing mixes tokens (the paper's point; it relies on the patch embedding only).
// Model: patcher (Conv2d k = s = patch) -> tokens in (h, w) order -> blocks -> mean over tokens ->
// classifier. There is no position embedding, no cls token and no final norm (as train.py).
// LayerNorms use torch's default eps 1e-5; GELU is exact (nn.GELU).
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardIntermediatesOptions,
  type ForwardOptions,
  type ModelPreset,
  Module,
  ModuleList,
  type Random,
  registerModel,
  resolveIntermediateIndices,
  Sequential,
} from '@mlzoo/core';
import {
  Activation,
  type ActivationName,
  Conv2d,
  Dropout,
  GELU,
  Identity,
  LayerNorm,
  Linear,
} from '@mlzoo/layers';
import * as tf from '@tensorflow/tfjs-core';

export interface ActivatorConfig {
  /** Image size, square or [height, width] (default 32, train.py's CIFAR-10). */
  imgSize?: number | readonly [number, number];
  /** Patch size of the conv patcher (default 4). */
  patchSize?: number;
  /** Image channels (default 3). */
  inChans?: number;
  /** Classes (default 10; 0 makes `forward` return the pooled features). */
  numClasses?: number;
  /** Token width, the reference's `d_model` (default 256). */
  embedDim?: number;
  /** Hidden width of the gating unit and of the FFN, the reference's `d_ffn` (default 512). */
  hiddenDim?: number;
  /** Number of blocks, the reference's `num_layers` (default 4). */
  depth?: number;
  /** Dropout inside the FFN in training, the reference's `dropout` (default 0.5, train.py's). */
  dropRate?: number;
  /** Keep the second (FFN) branch of each block (default true; false is activator_only_GEGLU.py). */
  ffn?: boolean;
  /**
   * Activation of the gated branch (`proj_1`): 'gelu' (default, GEGLU-like as the reference), or the
   * paper's ablations 'silu' (SwiGLU-like) and 'relu' (ReGLU-like).
   */
  gateActivation?: Extract<ActivationName, 'gelu' | 'silu' | 'relu'>;
  /** eps of every LayerNorm (default 1e-5, torch's). */
  normEps?: number;
  random?: Random;
}

/** An `ActivatorConfig` with every default filled in (the model's `config`). */
export interface ResolvedActivatorConfig {
  imgSize: [number, number];
  patchSize: number;
  inChans: number;
  numClasses: number;
  embedDim: number;
  hiddenDim: number;
  depth: number;
  dropRate: number;
  ffn: boolean;
  gateActivation: 'gelu' | 'silu' | 'relu';
  normEps: number;
}

/** Defaults filled in and every value checked; throws one sentence naming each problem. */
function resolveConfig(config: ActivatorConfig): ResolvedActivatorConfig {
  const size = config.imgSize ?? 32;
  const resolved: ResolvedActivatorConfig = {
    imgSize: typeof size === 'number' ? [size, size] : [size[0], size[1]],
    patchSize: config.patchSize ?? 4,
    inChans: config.inChans ?? 3,
    numClasses: config.numClasses ?? 10,
    embedDim: config.embedDim ?? 256,
    hiddenDim: config.hiddenDim ?? 512,
    depth: config.depth ?? 4,
    dropRate: config.dropRate ?? 0.5,
    ffn: config.ffn ?? true,
    gateActivation: config.gateActivation ?? 'gelu',
    normEps: config.normEps ?? 1e-5,
  };
  const positive = (value: number) => Number.isInteger(value) && value > 0;
  const problems = [
    !resolved.imgSize.every(positive) && `imgSize must be positive integers, got ${JSON.stringify(size)}`,
    !positive(resolved.patchSize) && `patchSize must be a positive integer, got ${resolved.patchSize}`,
    positive(resolved.patchSize) &&
      resolved.imgSize.some((side) => side % resolved.patchSize !== 0) &&
      `imgSize [${resolved.imgSize.join(', ')}] is not divisible by patchSize ${resolved.patchSize}`,
    !positive(resolved.inChans) && `inChans must be a positive integer, got ${resolved.inChans}`,
    !(Number.isInteger(resolved.numClasses) && resolved.numClasses >= 0) &&
      `numClasses must be a non-negative integer, got ${resolved.numClasses}`,
    !positive(resolved.embedDim) && `embedDim must be a positive integer, got ${resolved.embedDim}`,
    !positive(resolved.hiddenDim) && `hiddenDim must be a positive integer, got ${resolved.hiddenDim}`,
    !positive(resolved.depth) && `depth must be a positive integer, got ${resolved.depth}`,
    !(resolved.dropRate >= 0 && resolved.dropRate < 1) &&
      `dropRate must be in [0, 1), got ${resolved.dropRate}`,
    !['gelu', 'silu', 'relu'].includes(resolved.gateActivation) &&
      `gateActivation must be 'gelu', 'silu' or 'relu', got '${String(resolved.gateActivation)}'`,
    !(resolved.normEps > 0) && `normEps must be positive, got ${resolved.normEps}`,
  ].filter(Boolean);
  if (problems.length > 0) throw new Error(`Activator: ${problems.join('; ')}`);
  return resolved;
}

/** The reference's `ActivatorGatingUnit`: proj_3(LN(act(proj_1 x)) * LN(proj_2 x)), one shared LN. */
export class ActivatorGatingUnit extends Module {
  readonly proj_1: Linear;
  readonly proj_2: Linear;
  readonly proj_3: Linear;
  readonly act: Activation;
  readonly norm: LayerNorm;

  constructor(options: {
    dim: number;
    hiddenDim: number;
    activation?: ActivationName;
    normEps?: number;
    random?: Random;
  }) {
    super();
    const { dim, hiddenDim, random } = options;
    this.proj_1 = this.addModule('proj_1', new Linear({ inFeatures: dim, outFeatures: hiddenDim, random }));
    this.proj_2 = this.addModule('proj_2', new Linear({ inFeatures: dim, outFeatures: hiddenDim, random }));
    this.proj_3 = this.addModule('proj_3', new Linear({ inFeatures: hiddenDim, outFeatures: dim, random }));
    this.act = new Activation(options.activation ?? 'gelu');
    this.norm = this.addModule(
      'norm',
      new LayerNorm({ normalizedShape: hiddenDim, eps: options.normEps ?? 1e-5 }),
    );
  }

  forward(input: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const gate = this.norm.forward(this.act.forward(this.proj_1.forward(input)));
      const value = this.norm.forward(this.proj_2.forward(input));
      return this.proj_3.forward(tf.mul(gate, value));
    });
  }
}

/** The reference's `FeedForward`: `net` = [Linear, GELU, Dropout, Linear, Dropout] (keys net.0, net.3). */
export class ActivatorFeedForward extends Module {
  readonly net: Sequential;

  constructor(options: { dim: number; hiddenDim: number; dropRate: number; random?: Random }) {
    super();
    const { dim, hiddenDim, dropRate, random } = options;
    this.net = this.addModule(
      'net',
      new Sequential([
        new Linear({ inFeatures: dim, outFeatures: hiddenDim, random }),
        new GELU(),
        new Dropout({ probability: dropRate, random }),
        new Linear({ inFeatures: hiddenDim, outFeatures: dim, random }),
        new Dropout({ probability: dropRate, random }),
      ]),
    );
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return this.net.forward(input, options);
  }
}

/** The reference's `ActivatorBlock`: one LayerNorm `norm` before both residual branches. */
export class ActivatorBlock extends Module {
  readonly norm: LayerNorm;
  readonly actgu: ActivatorGatingUnit;
  readonly ffn: ActivatorFeedForward | null;

  constructor(options: {
    dim: number;
    hiddenDim: number;
    dropRate: number;
    ffn: boolean;
    gateActivation: ActivationName;
    normEps: number;
    random?: Random;
  }) {
    super();
    const { dim, hiddenDim, dropRate, normEps, random } = options;
    this.norm = this.addModule('norm', new LayerNorm({ normalizedShape: dim, eps: normEps }));
    this.actgu = this.addModule(
      'actgu',
      new ActivatorGatingUnit({ dim, hiddenDim, activation: options.gateActivation, normEps, random }),
    );
    this.ffn = options.ffn
      ? this.addModule('ffn', new ActivatorFeedForward({ dim, hiddenDim, dropRate, random }))
      : null;
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = tf.add(input, this.actgu.forward(this.norm.forward(input)));
      if (this.ffn) x = tf.add(x, this.ffn.forward(this.norm.forward(x), options));
      return x;
    });
  }
}

/**
 * Activator image classifier on NHWC images [B, H, W, C] (train.py's `ACTIVATORImageClassification`).
 *
 * State dict: `patcher.{weight,bias}` (Conv2d, OIHW), `model.{i}.norm.*`,
 * `model.{i}.actgu.{proj_1,proj_2,proj_3,norm}.*`, `model.{i}.ffn.net.{0,3}.*` (with ffn),
 * `classifier.{weight,bias}`. `forwardFeatures` returns the tokens [B, N, embedDim];
 * `forwardHead` averages them and applies the classifier.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { Activator } from '@mlzoo/vit';
 *
 * const model = new Activator({ imgSize: 28, inChans: 1, embedDim: 32, hiddenDim: 64, depth: 2 });
 * model.forward(tf.zeros([2, 28, 28, 1])).shape; // [2, 10]
 * ```
 */
export class Activator extends Module implements Classifier {
  readonly config: Readonly<ResolvedActivatorConfig>;
  readonly gridSize: [number, number];
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly classifierName = 'classifier';
  readonly firstLayerName = 'patcher';
  readonly patcher: Conv2d;
  readonly model: ModuleList<ActivatorBlock>;
  classifier: Linear | Identity;
  #numClasses: number;
  readonly #random: Random | undefined;

  constructor(config: ActivatorConfig = {}) {
    super();
    // everything is checked before the first variable exists, so a bad config leaks nothing
    const resolved = resolveConfig(config);
    this.config = resolved;
    this.#random = config.random;
    this.#numClasses = resolved.numClasses;
    const { embedDim, patchSize } = resolved;
    this.gridSize = [resolved.imgSize[0] / patchSize, resolved.imgSize[1] / patchSize];
    this.numFeatures = embedDim;
    this.headHiddenSize = embedDim;
    this.patcher = this.addModule(
      'patcher',
      new Conv2d({
        inChannels: resolved.inChans,
        outChannels: embedDim,
        kernelSize: patchSize,
        stride: patchSize,
        random: this.#random,
      }),
    );
    this.model = this.addModule('model', new ModuleList<ActivatorBlock>());
    for (let index = 0; index < resolved.depth; index++) {
      this.model.append(
        new ActivatorBlock({
          dim: embedDim,
          hiddenDim: resolved.hiddenDim,
          dropRate: resolved.dropRate,
          ffn: resolved.ffn,
          gateActivation: resolved.gateActivation,
          normEps: resolved.normEps,
          random: this.#random,
        }),
      );
    }
    this.classifier = this.addModule('classifier', this.#makeHead(resolved.numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Linear | Identity {
    return numClasses > 0
      ? new Linear({ inFeatures: this.numFeatures, outFeatures: numClasses, random: this.#random })
      : new Identity();
  }

  #embed(input: tf.Tensor): tf.Tensor {
    const { imgSize, inChans } = this.config;
    this.checkShape(input, ['B', imgSize[0], imgSize[1], inChans]);
    return tf.tidy(() => tf.reshape(this.patcher.forward(input), [input.shape[0]!, -1, this.numFeatures]));
  }

  /** Tokens after the blocks: [B, H, W, C] -> [B, N, embedDim]. */
  forwardFeatures(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => {
      let x = this.#embed(input);
      for (const block of this.model) x = block.forward(x, options);
      return x;
    });
  }

  /** Mean over tokens, then the classifier (or the pooled features with preLogits). */
  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', 'N', this.numFeatures], 'features');
    return tf.tidy(() => {
      const pooled = tf.mean(features, 1);
      return options.preLogits ? pooled : this.classifier.forward(pooled);
    });
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  /** Token maps [B, H / p, W / p, embedDim] after the selected blocks. */
  forwardIntermediates(input: tf.Tensor, options: ForwardIntermediatesOptions = {}): tf.Tensor[] {
    const indices = resolveIntermediateIndices(options.indices, this.model.length);
    const last = Math.max(-1, ...indices);
    return tf.tidy(() => {
      const outputs = new Map<number, tf.Tensor>();
      let x = this.#embed(input);
      for (let index = 0; index <= last; index++) {
        x = this.model.at(index).forward(x, options);
        outputs.set(
          index,
          tf.reshape(x, [x.shape[0]!, this.gridSize[0], this.gridSize[1], this.numFeatures]),
        );
      }
      return indices.map((index) => outputs.get(index)!);
    });
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

const ACTIVATOR_PAPER =
  'Abdullah & Aydin, "Activator: GLU Activation Function as the Core Component of a Vision Transformer", arXiv:2405.15953';

/** Presets of `Activator` (pure data). */
export const ACTIVATOR_PRESETS: Record<string, ModelPreset<ActivatorConfig>> = {
  activator_cifar10: {
    config: {
      imgSize: 32,
      patchSize: 4,
      inChans: 3,
      numClasses: 10,
      embedDim: 256,
      hiddenDim: 512,
      depth: 4,
      dropRate: 0.5,
    },
    numParameters: 2_650_890,
    description: 'Activator on 32x32 CIFAR-10: patch 4, d_model 256, d_ffn 512, 4 blocks, dropout 0.5.',
    paper: ACTIVATOR_PAPER,
    source: 'Abdullah-88/Activator train.py (ACTIVATORImageClassification defaults)',
    packageName: '@mlzoo/vit',
  },
  activator_only_geglu_cifar10: {
    config: {
      imgSize: 32,
      patchSize: 4,
      inChans: 3,
      numClasses: 10,
      embedDim: 256,
      hiddenDim: 512,
      depth: 4,
      dropRate: 0.5,
      ffn: false,
    },
    numParameters: 1_599_242,
    description: 'Activator without the second MLP (gating unit only), CIFAR-10 configuration.',
    paper: ACTIVATOR_PAPER,
    source: 'Abdullah-88/Activator activator_only_GEGLU.py + train_only_GEGLU.py',
    packageName: '@mlzoo/vit',
  },
  activator_fashion_mnist: {
    config: {
      imgSize: 28,
      patchSize: 4,
      inChans: 1,
      numClasses: 10,
      embedDim: 128,
      hiddenDim: 256,
      depth: 4,
      dropRate: 0.1,
    },
    numParameters: 665_994,
    description: 'Small Activator for 28x28 grayscale images (Fashion-MNIST): patch 4, width 128, 4 blocks.',
    paper: ACTIVATOR_PAPER,
    source: 'mlzoo',
    packageName: '@mlzoo/vit',
  },
};

function withOverrides(name: string, overrides: ActivatorConfig): Activator {
  return new Activator({ ...ACTIVATOR_PRESETS[name]!.config, ...overrides });
}

export const activatorCifar10 = (overrides: ActivatorConfig = {}) =>
  withOverrides('activator_cifar10', overrides);
export const activatorOnlyGegluCifar10 = (overrides: ActivatorConfig = {}) =>
  withOverrides('activator_only_geglu_cifar10', overrides);
export const activatorFashionMnist = (overrides: ActivatorConfig = {}) =>
  withOverrides('activator_fashion_mnist', overrides);

/** Factory used by the registry. */
export function createActivator(config: ActivatorConfig): Activator {
  return new Activator(config);
}

/** Registers every Activator preset with core's `createModel`. Nothing registers on import. */
export function registerActivatorModels(): void {
  for (const [name, preset] of Object.entries(ACTIVATOR_PRESETS)) {
    registerModel(name, createActivator, preset);
  }
}
