// S-KAN: "Activation Space Selectable KAN" (Yang, Zhang, Luo, Lu, Shen, 2024; https://arxiv.org/abs/2408.08338).
// Each node chooses its activation space (basis family) from a pool with a learned selection, trained in
// three phases: full (every space trained, equal weights), selective (softmax selection weights learned,
// with an entropy penalty pushing each node to one space), pruning (each node keeps its argmax space and
// is fine-tuned). The paper's exact selection parametrisation is not public in code; this follows its
// description (weighted combination, then pruning to one space per node).
//
// State dict: spaces.{s}.{coef, scale_base, scale_sp, mask[, grid]} (one KANLinear per space, pykan
// names), selection [spaces, out] (logits), choice [out] (buffer: the kept space per node after pruning,
// -1 before).
import { type ForwardOptions, Module, ModuleList, type Random } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { BASIS_NAMES, type BasisName } from './bases.js';
import { KANLinear, type KANLinearOptions, kanLinearProblems } from './kan-linear.js';

export type SKANPhase = 'full' | 'selective' | 'pruned';

export interface SKANLinearOptions extends Omit<KANLinearOptions, 'basis'> {
  /** Candidate activation spaces (default ['bspline', 'rbf', 'chebyshev', 'fourier', 'jacobi']). */
  spaces?: readonly BasisName[];
  /** Softmax temperature of the selection (default 1). */
  temperature?: number;
  random?: Random;
}

/**
 * An S-KAN layer [B, in] -> [B, out]: y_j = Σ_s w_sj · KAN_s(x)_j.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { SKANLinear } from '@mlzoo/kan';
 *
 * const layer = new SKANLinear({ inFeatures: 2, outFeatures: 3, spaces: ['bspline', 'chebyshev'] });
 * layer.setPhase('selective'); // learn the selection
 * layer.forward(tf.zeros([4, 2])).shape; // [4, 3]
 * ```
 */
export class SKANLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly spaceNames: BasisName[];
  readonly spaces: ModuleList<KANLinear>;
  readonly selection: tf.Variable;
  readonly choice: tf.Variable;
  readonly temperature: number;
  #phase: SKANPhase = 'full';

  constructor(options: SKANLinearOptions) {
    super();
    this.spaceNames = [...(options.spaces ?? ['bspline', 'rbf', 'chebyshev', 'fourier', 'jacobi'])];
    this.temperature = options.temperature ?? 1;
    const problems = [
      ...kanLinearProblems({ ...options, basis: 'bspline' }),
      ...(this.spaceNames.length === 0 ? ['spaces must name at least one basis'] : []),
      ...this.spaceNames
        .filter((name) => !BASIS_NAMES.includes(name))
        .map((name) => `unknown space '${name}' (known: ${BASIS_NAMES.join(', ')})`),
      ...(this.temperature > 0 ? [] : [`temperature must be positive, got ${this.temperature}`]),
    ];
    if (problems.length > 0) throw new Error(`SKANLinear: ${problems.join('; ')}`);
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.spaces = this.addModule(
      'spaces',
      new ModuleList(this.spaceNames.map((basis) => new KANLinear({ ...options, basis }))),
    );
    this.selection = this.addParameter('selection', tf.zeros([this.spaceNames.length, this.outFeatures]), {
      trainable: false,
    });
    this.choice = this.addBuffer('choice', tf.fill([this.outFeatures], -1, 'int32'));
  }

  get phase(): SKANPhase {
    return this.#phase;
  }

  /**
   * Switches the training phase. 'full': equal weights, selection frozen. 'selective': softmax
   * weights, selection trained. 'pruned': each node keeps argmax_s selection (stored in `choice`),
   * selection frozen.
   */
  setPhase(phase: SKANPhase): void {
    if (phase === 'pruned') {
      tf.tidy(() => this.choice.assign(tf.cast(tf.argMax(this.selection, 0), 'int32')));
    }
    // the selection variable is trainable only in the selective phase
    this.selection.trainable = phase === 'selective';
    this.#phase = phase;
  }

  /** Selection weights [spaces, out] of the current phase. */
  weights(): tf.Tensor {
    return tf.tidy(() => {
      const count = this.spaceNames.length;
      switch (this.#phase) {
        case 'full':
          return tf.fill([count, this.outFeatures], 1 / count);
        case 'selective':
          return tf.softmax(tf.transpose(tf.div(this.selection, this.temperature)), -1).transpose();
        case 'pruned':
          return tf.transpose(tf.oneHot(this.choice, Math.max(count, 2)).slice([0, 0], [-1, count]));
      }
    });
  }

  /** Mean entropy (nats) of the nodes' selection distributions: the selective phase's penalty. */
  selectionEntropy(): tf.Scalar {
    return tf.tidy(() => {
      const p = tf.softmax(tf.transpose(tf.div(this.selection, this.temperature)), -1);
      return tf.neg(tf.mean(tf.sum(tf.mul(p, tf.log(tf.add(p, 1e-12))), -1))) as tf.Scalar;
    });
  }

  /** The space each node uses (argmax of the selection, or the pruned choice). */
  chosenSpaces(): BasisName[] {
    const indices =
      this.#phase === 'pruned'
        ? (this.choice.arraySync() as number[])
        : tf.tidy(() => tf.argMax(this.selection, 0).arraySync() as number[]);
    return indices.map((index) => this.spaceNames[index]!);
  }

  forward(x: tf.Tensor, _options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(x, ['B', this.inFeatures]);
    return tf.tidy(() => {
      const weightTensor = this.weights();
      // pruned: spaces no node uses are skipped entirely (a synchronous read of the one-hot weights,
      // only in that phase, so the full and selective phases also run where reads must be async)
      const weights = this.#phase === 'pruned' ? (weightTensor.arraySync() as number[][]) : null;
      let y: tf.Tensor | null = null;
      this.spaces.items.forEach((space, s) => {
        if (weights?.[s]?.every((value) => value === 0)) return;
        const term = tf.mul(space.forward(x), tf.slice(weightTensor, [s, 0], [1, -1]));
        y = y ? tf.add(y, term) : term;
      });
      return y ?? tf.zeros([x.shape[0]!, this.outFeatures]);
    });
  }
}

export interface SKANConfig extends Omit<SKANLinearOptions, 'inFeatures' | 'outFeatures'> {
  widths: readonly number[];
}

/** An S-KAN network of SKANLinear layers (`layers.{l}`). */
export class SKAN extends Module {
  readonly widths: number[];
  readonly layers: ModuleList<SKANLinear>;

  constructor(config: SKANConfig) {
    super();
    if (!(config.widths.length >= 2 && config.widths.every((w) => Number.isInteger(w) && w > 0))) {
      throw new Error(
        `SKAN: widths must be at least two positive integers, got ${JSON.stringify(config.widths)}`,
      );
    }
    this.widths = [...config.widths];
    this.layers = this.addModule(
      'layers',
      new ModuleList(
        this.widths
          .slice(1)
          .map(
            (out, l) =>
              new SKANLinear({ gridSize: 5, ...config, inFeatures: this.widths[l]!, outFeatures: out }),
          ),
      ),
    );
  }

  setPhase(phase: SKANPhase): void {
    for (const layer of this.layers) layer.setPhase(phase);
  }

  selectionEntropy(): tf.Scalar {
    return tf.tidy(() => tf.addN(this.layers.items.map((layer) => layer.selectionEntropy())) as tf.Scalar);
  }

  forward(x: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(x, ['B', this.widths[0]!]);
    return tf.tidy(() => {
      let h = x;
      for (const layer of this.layers) h = layer.forward(h, options);
      return h;
    });
  }
}
