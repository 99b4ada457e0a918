// KANLinear: one Kolmogorov-Arnold layer with pykan's semantics (KindXiaoming/pykan, kan/KANLayer.py).
//
// Paper: "KAN: Kolmogorov-Arnold Networks", Ziming Liu, Yixuan Wang, Sachin Vaidya, Fabian Ruehle,
// James Halverson, Marin Soljačić, Thomas Y. Hou, Max Tegmark, 2024. https://arxiv.org/abs/2404.19756
//
// Edge i -> j computes φ_ij(x) = mask_ij · (scale_base_ij · b(x_i) + scale_sp_ij · Σ_m coef_ijm B_m(x_i)),
// node j sums its edges. Computed the efficient way (efficient-kan's): the basis expansion
// [B, in · M] times the combined weight (coef · scale_sp · mask) [in · M, out], plus b(x) [B, in]
// times (scale_base · mask) [in, out]; the per-edge tensors are only built when asked for
// (regularisation, attribution, plots).
//
// State dict (pykan's names and layouts): grid [in, G + 2k + 1], coef [in, out, G + k],
// scale_base [in, out], scale_sp [in, out], mask [in, out]. pykan stores grid and mask as
// non-trainable nn.Parameters; here they are persistent buffers (same keys, not counted as parameters).
import { defaultRandom, type ForwardOptions, init, Module, type Random } from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import { BASIS_NAMES, type BasisName, type BasisSpec, basisValues, numBasisFunctions } from './bases.js';
import {
  adaptiveGridRow,
  bsplineBasisRow,
  extendGrid,
  fitSplineCoefficients,
  uniformGrid,
} from './spline.js';

export type BaseActivationName = 'silu' | 'identity' | 'zero';

export interface KANLinearOptions {
  inFeatures: number;
  outFeatures: number;
  /** Basis family of the learnable part (default 'bspline', pykan's). */
  basis?: BasisName;
  /** G: grid intervals (bspline), RBF centres (rbf) or frequencies (fourier). Default 5 (pykan KANLayer num=5). */
  gridSize?: number;
  /** k: B-spline order (default 3). */
  splineOrder?: number;
  /** Polynomial degree for chebyshev and jacobi (default 3). */
  degree?: number;
  /** Jacobi α and β (default 1, 1 as JacobiKAN). */
  jacobiAlpha?: number;
  jacobiBeta?: number;
  /** Grid range before extension / RBF centre range (default [-1, 1]). */
  gridRange?: readonly [number, number];
  /** Scale of the initial spline noise (default 0.5, pykan KANLayer's; KAN passes 0.3). */
  noiseScale?: number;
  /** scale_base init: mu/√in + sigma · U(-1, 1)/√in (defaults 0 and 1). */
  scaleBaseMu?: number;
  scaleBaseSigma?: number;
  /** scale_sp init: scaleSp/√in (default 1). */
  scaleSp?: number;
  /** Residual function b(x) (default 'silu'). */
  baseActivation?: BaseActivationName;
  /** Mix of the uniform grid in a grid update (default 0.02). */
  gridEps?: number;
  /** Whether scale_base / scale_sp are trained (default true). */
  sbTrainable?: boolean;
  spTrainable?: boolean;
  random?: Random;
}

/** Per-edge tensors of one layer, pykan's layout [B, out, in]. */
export interface EdgeActivations {
  /** φ_ij(x_i): base + spline, scaled and masked. */
  postacts: tf.Tensor;
  /** Σ_m coef_ijm B_m(x_i): the learnable part before scale_sp and mask. */
  postspline: tf.Tensor;
}

/**
 * One KAN layer [B, in] -> [B, out].
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { KANLinear } from '@mlzoo/kan';
 *
 * const layer = new KANLinear({ inFeatures: 2, outFeatures: 3, gridSize: 5, splineOrder: 3 });
 * layer.forward(tf.zeros([4, 2])).shape; // [4, 3]
 * layer.numParameters(); // 2 * 3 * (5 + 3) + 2 * 2 * 3 = 60
 * ```
 */
export class KANLinear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly basis: BasisName;
  readonly gridSize: number;
  readonly splineOrder: number;
  readonly degree: number;
  readonly numBasis: number;
  readonly gridRange: [number, number];
  readonly gridEps: number;
  readonly baseActivation: BaseActivationName;
  readonly spec: BasisSpec;
  /** Knots [in, G + 2k + 1] (bspline) or RBF centres [in, G]; null for the other families. */
  readonly grid: tf.Variable | null;
  readonly coef: tf.Variable;
  readonly scaleBase: tf.Variable;
  readonly scaleSp: tf.Variable;
  readonly mask: tf.Variable;
  readonly options: Readonly<KANLinearOptions>;

  constructor(options: KANLinearOptions) {
    super();
    this.options = { ...options };
    this.inFeatures = options.inFeatures;
    this.outFeatures = options.outFeatures;
    this.basis = options.basis ?? 'bspline';
    this.gridSize = options.gridSize ?? 5;
    this.splineOrder = options.splineOrder ?? 3;
    this.degree = options.degree ?? 3;
    this.gridRange = [options.gridRange?.[0] ?? -1, options.gridRange?.[1] ?? 1];
    this.gridEps = options.gridEps ?? 0.02;
    this.baseActivation = options.baseActivation ?? 'silu';
    const problems = kanLinearProblems(options);
    if (problems.length > 0) throw new Error(`KANLinear: ${problems.join('; ')}`);

    this.numBasis = numBasisFunctions(this.basis, this.gridSize, this.splineOrder, this.degree);
    this.spec = {
      basis: this.basis,
      gridSize: this.gridSize,
      splineOrder: this.splineOrder,
      degree: this.degree,
      jacobiAlpha: options.jacobiAlpha ?? 1,
      jacobiBeta: options.jacobiBeta ?? 1,
      rbfWidth: (this.gridRange[1] - this.gridRange[0]) / Math.max(this.gridSize - 1, 1),
    };
    const random = options.random ?? defaultRandom();
    const { inFeatures: fanIn, outFeatures: fanOut } = this;
    const noiseScale = options.noiseScale ?? 0.5;

    let gridRows: number[][] | null = null;
    if (this.basis === 'bspline')
      gridRows = uniformGrid(fanIn, this.gridSize, this.splineOrder, this.gridRange);
    else if (this.basis === 'rbf') {
      const [low, high] = this.gridRange;
      const centres = Array.from(
        { length: this.gridSize },
        (_, index) => low + ((high - low) * index) / (this.gridSize - 1),
      );
      gridRows = Array.from({ length: fanIn }, () => centres);
    }
    this.grid = gridRows ? this.addBuffer('grid', tf.tensor2d(gridRows)) : null;

    // coef: pykan fits noise (U(0,1) - 1/2) · noise_scale / G placed at the G + 1 grid points by least squares,
    // so the initial spline is near zero. The other families draw the coefficients directly:
    // N(0, (noise_scale / √numBasis)²).
    const coef = new Float32Array(fanIn * fanOut * this.numBasis);
    if (this.basis === 'bspline') {
      const k = this.splineOrder;
      const noise: number[][][] = Array.from({ length: this.gridSize + 1 }, () =>
        Array.from({ length: fanIn }, () =>
          Array.from({ length: fanOut }, () => ((random.uniform() - 0.5) * noiseScale) / this.gridSize),
        ),
      );
      for (let i = 0; i < fanIn; i++) {
        const knots = gridRows![i]!;
        const samples = knots.slice(k, knots.length - k);
        const targets = samples.map((_, s) => noise[s]![i]!);
        const fitted = fitSplineCoefficients(samples, targets, knots, k);
        for (let j = 0; j < fanOut; j++) coef.set(fitted[j]!, (i * fanOut + j) * this.numBasis);
      }
    } else {
      const std = noiseScale / Math.sqrt(this.numBasis);
      for (let index = 0; index < coef.length; index++) coef[index] = std * random.normal();
    }
    this.coef = this.addParameter('coef', tf.tensor3d(coef, [fanIn, fanOut, this.numBasis]));
    const mu = options.scaleBaseMu ?? 0;
    const sigma = options.scaleBaseSigma ?? 1;
    const root = Math.sqrt(fanIn);
    this.scaleBase = this.addParameter(
      'scale_base',
      tf.tidy(() =>
        tf.add(mu / root, tf.mul(sigma / root, init.uniform([fanIn, fanOut], { random, low: -1, high: 1 }))),
      ),
      { trainable: options.sbTrainable ?? true },
    );
    this.scaleSp = this.addParameter(
      'scale_sp',
      init.constant([fanIn, fanOut], (options.scaleSp ?? 1) / root),
      {
        trainable: options.spTrainable ?? true,
      },
    );
    this.mask = this.addBuffer('mask', init.ones([fanIn, fanOut]));
  }

  /** Basis values [B, in, numBasis] of the input. */
  basisValues(x: tf.Tensor): tf.Tensor {
    return basisValues(x, this.spec, this.grid);
  }

  /** b(x) for the residual branch. */
  baseFunction(x: tf.Tensor): tf.Tensor {
    switch (this.baseActivation) {
      case 'silu':
        return tf.mul(x, tf.sigmoid(x));
      case 'identity':
        return x;
      case 'zero':
        return tf.zerosLike(x);
    }
  }

  /** y_j = Σ_i φ_ij(x_i): [B, in] -> [B, out]. */
  forward(x: tf.Tensor, _options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(x, ['B', this.inFeatures]);
    return tf.tidy(() => {
      const batch = x.shape[0]!;
      const basis = tf.reshape(this.basisValues(x), [batch, this.inFeatures * this.numBasis]);
      // [in, out, M] · (scale_sp · mask)[in, out, 1] -> [in, M, out] -> [in · M, out]
      const weight = tf.reshape(
        tf.transpose(tf.mul(this.coef, tf.expandDims(tf.mul(this.scaleSp, this.mask), 2)), [0, 2, 1]),
        [this.inFeatures * this.numBasis, this.outFeatures],
      );
      const spline = tf.matMul(basis, weight);
      if (this.baseActivation === 'zero') return spline;
      return tf.add(spline, tf.matMul(this.baseFunction(x), tf.mul(this.scaleBase, this.mask)));
    });
  }

  /** Per-edge activations (pykan's postacts and postspline), [B, out, in] each. Caller disposes. */
  edgeActivations(x: tf.Tensor): EdgeActivations {
    this.checkShape(x, ['B', this.inFeatures]);
    return tf.tidy(() => {
      const basis = this.basisValues(x); // [B, in, M]
      // postspline[b, i, j] = Σ_m basis[b, i, m] coef[i, j, m]: batched over i
      const spline = tf.matMul(tf.transpose(basis, [1, 0, 2]), tf.transpose(this.coef, [0, 2, 1])); // [in, B, out]
      const splineBio = tf.transpose(spline, [1, 0, 2]); // [B, in, out]
      const base = tf.expandDims(this.baseFunction(x), 2); // [B, in, 1]
      const acts = tf.mul(tf.add(tf.mul(this.scaleBase, base), tf.mul(this.scaleSp, splineBio)), this.mask);
      return {
        postacts: tf.transpose(acts, [0, 2, 1]),
        postspline: tf.transpose(splineBio, [0, 2, 1]),
      };
    });
  }

  #requireBspline(what: string): void {
    if (this.basis !== 'bspline') {
      throw new Error(`${this.location}: ${what} needs the bspline basis (this layer uses '${this.basis}')`);
    }
  }

  /** The learnable part Σ_m coef_ijm B_m(x) of every edge at float64 precision: [samples][in] -> [samples][in][out]. */
  #splineValuesExact(
    columns: Float64Array[],
    gridRows: number[][],
    coefValues: Float32Array | Float64Array,
  ): number[][][] {
    const k = this.splineOrder;
    const samples = columns[0]?.length ?? 0;
    const out = this.outFeatures;
    const size = this.numBasis;
    const values: number[][][] = Array.from({ length: samples }, () =>
      Array.from({ length: this.inFeatures }, () => new Array<number>(out).fill(0)),
    );
    for (let i = 0; i < this.inFeatures; i++) {
      for (let s = 0; s < samples; s++) {
        const row = bsplineBasisRow(columns[i]![s]!, gridRows[i]!, k);
        for (let j = 0; j < out; j++) {
          let sum = 0;
          const offset = (i * out + j) * size;
          for (let m = 0; m < size; m++) sum += row[m]! * coefValues[offset + m]!;
          values[s]![i]![j] = sum;
        }
      }
    }
    return values;
  }

  /** Sorted sample columns of x [B, in] (float64). */
  #sortedColumns(x: tf.Tensor): Float64Array[] {
    this.checkShape(x, ['B', this.inFeatures], 'samples');
    const batch = x.shape[0]!;
    const data = x.dataSync();
    return Array.from({ length: this.inFeatures }, (_, i) => {
      const column = new Float64Array(batch);
      for (let s = 0; s < batch; s++) column[s] = data[s * this.inFeatures + i]!;
      return column.sort();
    });
  }

  #fitFromSamples(
    columns: Float64Array[],
    targets: number[][][],
    gridSize: number,
  ): { grid: number[][]; coef: Float32Array } {
    const k = this.splineOrder;
    const core = columns.map((column) => adaptiveGridRow(column, gridSize, this.gridEps));
    const grid = extendGrid(core, k);
    const size = gridSize + k;
    const coef = new Float32Array(this.inFeatures * this.outFeatures * size);
    for (let i = 0; i < this.inFeatures; i++) {
      const fitted = fitSplineCoefficients(
        columns[i]!,
        targets.map((sample) => sample[i]!),
        grid[i]!,
        k,
      );
      for (let j = 0; j < this.outFeatures; j++) coef.set(fitted[j]!, (i * this.outFeatures + j) * size);
    }
    return { grid, coef };
  }

  /**
   * pykan's `update_grid_from_samples`: the grid moves to the sample quantiles of x [B, in] (mixed with
   * the uniform grid by gridEps), and the coefficients are refit by least squares so every edge keeps
   * its function on the samples.
   */
  updateGridFromSamples(x: tf.Tensor): void {
    this.#requireBspline('updateGridFromSamples');
    const columns = this.#sortedColumns(x);
    const oldGrid = this.grid!.arraySync() as number[][];
    const targets = this.#splineValuesExact(columns, oldGrid, this.coef.dataSync() as Float32Array);
    const { grid, coef } = this.#fitFromSamples(columns, targets, this.gridSize);
    tf.tidy(() => {
      this.grid!.assign(tf.tensor2d(grid));
      this.coef.assign(tf.tensor3d(coef, this.coef.shape as [number, number, number]));
    });
  }

  /**
   * pykan's `initialize_grid_from_parent` (grid extension): this layer's grid (its own gridSize) is
   * placed on the sample quantiles of x, and its coefficients are fitted by least squares to the
   * parent's spline on those samples. scale_base, scale_sp and mask are copied.
   */
  initializeFromParent(parent: KANLinear, x: tf.Tensor): void {
    this.#requireBspline('initializeFromParent');
    parent.#requireBspline('initializeFromParent');
    if (parent.inFeatures !== this.inFeatures || parent.outFeatures !== this.outFeatures) {
      throw new Error(
        `${this.location}: parent is [${parent.inFeatures} -> ${parent.outFeatures}], this layer [${this.inFeatures} -> ${this.outFeatures}]`,
      );
    }
    const columns = this.#sortedColumns(x);
    const targets = parent.#splineValuesExact(
      columns,
      parent.grid!.arraySync() as number[][],
      parent.coef.dataSync() as Float32Array,
    );
    const { grid, coef } = this.#fitFromSamples(columns, targets, this.gridSize);
    tf.tidy(() => {
      this.grid!.assign(tf.tensor2d(grid));
      this.coef.assign(tf.tensor3d(coef, this.coef.shape as [number, number, number]));
      this.scaleBase.assign(parent.scaleBase);
      this.scaleSp.assign(parent.scaleSp);
      this.mask.assign(parent.mask);
    });
  }

  /**
   * pykan's `curve2coef` on this layer: sets coef so that the learnable part of edge i -> j fits
   * targets[:, i, j] at the samples x[:, i] by least squares (x [B, in], targets [B, in, out]).
   */
  fitCoefficients(x: tf.Tensor, targets: tf.Tensor): void {
    this.#requireBspline('fitCoefficients');
    this.checkShape(targets, ['B', this.inFeatures, this.outFeatures], 'targets');
    const batch = x.shape[0]!;
    const xs = x.dataSync();
    const ys = targets.dataSync();
    const gridRows = this.grid!.arraySync() as number[][];
    const coef = new Float32Array(this.coef.size);
    for (let i = 0; i < this.inFeatures; i++) {
      const samples = Array.from({ length: batch }, (_, s) => xs[s * this.inFeatures + i]!);
      const rows = Array.from({ length: batch }, (_, s) =>
        Array.from(
          { length: this.outFeatures },
          (_, j) => ys[(s * this.inFeatures + i) * this.outFeatures + j]!,
        ),
      );
      const fitted = fitSplineCoefficients(samples, rows, gridRows[i]!, this.splineOrder);
      for (let j = 0; j < this.outFeatures; j++)
        coef.set(fitted[j]!, (i * this.outFeatures + j) * this.numBasis);
    }
    tf.tidy(() => this.coef.assign(tf.tensor3d(coef, this.coef.shape as [number, number, number])));
  }

  /** A new layer with options changed (same random stream semantics); parameters are fresh. */
  withOptions(changes: Partial<KANLinearOptions>): KANLinear {
    return new KANLinear({ ...this.options, ...changes });
  }

  /** pykan's `get_subset`: the layer restricted to inputs `inIds` and outputs `outIds` (copies). */
  subset(inIds: readonly number[], outIds: readonly number[]): KANLinear {
    const layer = this.withOptions({ inFeatures: inIds.length, outFeatures: outIds.length });
    tf.tidy(() => {
      const inIndex = tf.tensor1d(inIds as number[], 'int32');
      const outIndex = tf.tensor1d(outIds as number[], 'int32');
      const pick = (value: tf.Tensor) => tf.gather(tf.gather(value, inIndex, 0), outIndex, 1);
      if (this.grid && layer.grid) layer.grid.assign(tf.gather(this.grid, inIndex, 0));
      layer.coef.assign(pick(this.coef));
      layer.scaleBase.assign(pick(this.scaleBase));
      layer.scaleSp.assign(pick(this.scaleSp));
      layer.mask.assign(pick(this.mask));
    });
    return layer;
  }
}

/** What is wrong with KANLinear options (empty when valid); checked before any variable exists. */
export function kanLinearProblems(options: KANLinearOptions): string[] {
  const basis = options.basis ?? 'bspline';
  const gridSize = options.gridSize ?? 5;
  const splineOrder = options.splineOrder ?? 3;
  const degree = options.degree ?? 3;
  const gridRange = [options.gridRange?.[0] ?? -1, options.gridRange?.[1] ?? 1];
  const gridEps = options.gridEps ?? 0.02;
  const baseActivation = options.baseActivation ?? 'silu';
  const positive = (value: number) => Number.isInteger(value) && value > 0;
  return [
    !positive(options.inFeatures) && `inFeatures must be a positive integer, got ${options.inFeatures}`,
    !positive(options.outFeatures) && `outFeatures must be a positive integer, got ${options.outFeatures}`,
    !BASIS_NAMES.includes(basis) && `basis must be one of ${BASIS_NAMES.join(', ')}, got '${basis}'`,
    !(positive(gridSize) && (basis !== 'rbf' || gridSize >= 2)) &&
      `gridSize must be a positive integer (>= 2 for rbf), got ${gridSize}`,
    !(Number.isInteger(splineOrder) && splineOrder >= 0) &&
      `splineOrder must be a non-negative integer, got ${splineOrder}`,
    !(Number.isInteger(degree) && degree >= 0) && `degree must be a non-negative integer, got ${degree}`,
    !(gridRange[0]! < gridRange[1]!) && `gridRange must be increasing, got [${gridRange.join(', ')}]`,
    !(gridEps >= 0 && gridEps <= 1) && `gridEps must be in [0, 1], got ${gridEps}`,
    !['silu', 'identity', 'zero'].includes(baseActivation) &&
      `baseActivation must be 'silu', 'identity' or 'zero', got '${baseActivation}'`,
  ].filter((problem): problem is string => typeof problem === 'string');
}
