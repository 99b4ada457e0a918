// KAN: a stack of KANLinear layers with pykan's MultKAN semantics (KindXiaoming/pykan, kan/MultKAN.py),
// additions only (no multiplication nodes), plus KANClassifier, the image-classifier form.
//
// Paper: "KAN: Kolmogorov-Arnold Networks", Ziming Liu, Yixuan Wang, Sachin Vaidya, Fabian Ruehle,
// James Halverson, Marin Soljačić, Thomas Y. Hou, Max Tegmark, 2024. https://arxiv.org/abs/2404.19756
// "KAN 2.0: Kolmogorov-Arnold Networks Meet Science", Liu et al., 2024. https://arxiv.org/abs/2408.10205
//
// Layer l: x ← act_fun[l](x) + symbolic_fun[l](x); x ← subnode_scale[l] · x + subnode_bias[l];
// x ← node_scale[l] · x + node_bias[l]. State dict keys as MultKAN's: act_fun.{l}.{grid,coef,scale_base,
// scale_sp,mask}, symbolic_fun.{l}.{mask,affine}, node_bias.{l}, node_scale.{l}, subnode_bias.{l},
// subnode_scale.{l}. Differences from pykan: the node/subnode affines, grid, masks and the symbolic
// affine are buffers (pykan: nn.Parameters with requires_grad False, except symbolic affine, which
// pykan trains; here it is set by fixSymbolic only), so numParameters counts coef, scale_base and
// scale_sp.
import {
  type Classifier,
  type ForwardHeadOptions,
  type ForwardOptions,
  type ModelPreset,
  Module,
  ModuleList,
  type Random,
  registerModel,
} from '@mlzoo/core';
import * as tf from '@tensorflow/tfjs-core';
import type { BasisName } from './bases.js';
import {
  type BaseActivationName,
  KANLinear,
  type KANLinearOptions,
  kanLinearProblems,
} from './kan-linear.js';
import { fitSymbolicParams, SYMBOLIC_LIBRARY, type SymbolicFit, suggestSymbolic } from './symbolic.js';

/** Options shared by every layer of a KAN (see KANLinearOptions for each). */
export interface KANLayerConfig {
  /** Basis family (default 'bspline'). */
  basis?: BasisName;
  /** G (default 3, pykan KAN's). */
  gridSize?: number;
  /** k (default 3). */
  splineOrder?: number;
  degree?: number;
  gridRange?: readonly [number, number];
  /** Default 0.3 (pykan KAN's). */
  noiseScale?: number;
  scaleBaseMu?: number;
  scaleBaseSigma?: number;
  scaleSp?: number;
  baseActivation?: BaseActivationName;
  gridEps?: number;
  random?: Random;
}

export interface KANConfig extends KANLayerConfig {
  /** Node counts [in, hidden..., out], e.g. [2, 5, 1]. */
  widths: readonly number[];
}

function layerOptions(config: KANLayerConfig, inFeatures: number, outFeatures: number): KANLinearOptions {
  return {
    inFeatures,
    outFeatures,
    basis: config.basis,
    gridSize: config.gridSize ?? 3,
    splineOrder: config.splineOrder ?? 3,
    degree: config.degree,
    gridRange: config.gridRange,
    noiseScale: config.noiseScale ?? 0.3,
    scaleBaseMu: config.scaleBaseMu,
    scaleBaseSigma: config.scaleBaseSigma,
    scaleSp: config.scaleSp,
    baseActivation: config.baseActivation,
    gridEps: config.gridEps,
    random: config.random,
  };
}

function validateWidths(owner: string, widths: readonly number[]): void {
  if (!(Array.isArray(widths) && widths.length >= 2 && widths.every((w) => Number.isInteger(w) && w > 0))) {
    throw new Error(`${owner}: widths must be at least two positive integers, got ${JSON.stringify(widths)}`);
  }
}

/** A module holding one buffer per layer under '0', '1', ... (pykan's ParameterList of node affines). */
export class BufferList extends Module {
  readonly items: tf.Variable[] = [];
  constructor(values: tf.Tensor[]) {
    super();
    values.forEach((value, index) => {
      this.items.push(this.addBuffer(String(index), value));
    });
  }
}

/**
 * Edges fixed to symbolic functions (pykan's Symbolic_KANLayer): edge i -> j adds
 * mask[j, i] · (c · f(a · x_i + b) + d) with affine[j, i] = [a, b, c, d]. mask [out, in], affine [out, in, 4].
 */
export class SymbolicKANLayer extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly mask: tf.Variable;
  readonly affine: tf.Variable;
  /** Function name of each edge [out][in] ('0' where unset). */
  readonly functionNames: string[][];

  constructor(inFeatures: number, outFeatures: number) {
    super();
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.mask = this.addBuffer('mask', tf.zeros([outFeatures, inFeatures]));
    this.affine = this.addBuffer('affine', tf.zeros([outFeatures, inFeatures, 4]));
    this.functionNames = Array.from({ length: outFeatures }, () => new Array<string>(inFeatures).fill('0'));
  }

  /** Edges with a symbolic function ([j, i] pairs). */
  activeEdges(): [number, number][] {
    const mask = this.mask.arraySync() as number[][];
    const edges: [number, number][] = [];
    mask.forEach((row, j) => {
      row.forEach((value, i) => {
        if (value !== 0) edges.push([j, i]);
      });
    });
    return edges;
  }

  /** Sum of the symbolic edges into each output [B, out], or null when no edge is symbolic. */
  forward(x: tf.Tensor): tf.Tensor | null {
    const edges = this.activeEdges();
    if (edges.length === 0) return null;
    const affine = this.affine.arraySync() as number[][][];
    const mask = this.mask.arraySync() as number[][];
    return tf.tidy(() => {
      const columns: tf.Tensor[] = [];
      for (let j = 0; j < this.outFeatures; j++) {
        let sum: tf.Tensor = tf.zeros([x.shape[0]!]);
        for (const [edgeOut, i] of edges) {
          if (edgeOut !== j) continue;
          const [a, b, c, d] = affine[j]![i]!;
          const fn = SYMBOLIC_LIBRARY[this.functionNames[j]![i]!]!;
          const xi = tf.reshape(tf.slice(x, [0, i], [-1, 1]), [-1]);
          const value = tf.add(tf.mul(c!, fn.apply(tf.add(tf.mul(a!, xi), b!))), d!);
          sum = tf.add(sum, tf.mul(mask[j]![i]!, value));
        }
        columns.push(sum);
      }
      return tf.stack(columns, 1);
    });
  }
}

/** Everything one forward pass records (pykan's acts, postacts, ...). Caller disposes with `disposeTrace`. */
export interface KANTrace {
  output: tf.Tensor;
  /** Input of each layer [B, in_l]. */
  inputs: tf.Tensor[];
  /** Per-edge φ [B, out, in] (numeric part), per layer. */
  postacts: tf.Tensor[];
  /** Per-edge spline part [B, out, in], per layer. */
  postspline: tf.Tensor[];
  /** Subnode outputs (after act_fun + symbolic and the subnode affine) [B, out], per layer. */
  subnodes: tf.Tensor[];
}

export function disposeTrace(trace: KANTrace): void {
  tf.dispose([trace.output, ...trace.inputs, ...trace.postacts, ...trace.postspline, ...trace.subnodes]);
}

export interface RegularizationOptions {
  /** Weight of Σ|φ| (default 1, pykan's lamb_l1). */
  lambL1?: number;
  /** Weight of the row and column entropies (default 2, pykan's lamb_entropy). */
  lambEntropy?: number;
  /** Weight of Σ mean |coef| (default 0). */
  lambCoef?: number;
  /** Weight of Σ mean |Δcoef| (default 0). */
  lambCoefDiff?: number;
}

export interface Attribution {
  /** Node scores per layer of nodes (layer 0: inputs ... last: outputs), each [width]. */
  nodeScores: number[][];
  /** Edge scores per layer, [out][in]. */
  edgeScores: number[][][];
}

/**
 * A KAN regressor [B, widths[0]] -> [B, widths.at(-1)].
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { KAN } from '@mlzoo/kan';
 *
 * const model = new KAN({ widths: [2, 5, 1], gridSize: 3, splineOrder: 3 });
 * model.forward(tf.zeros([4, 2])).shape; // [4, 1]
 * model.numParameters(); // (2·5 + 5·1) · (3 + 3 + 2) = 120
 * ```
 */
export class KAN extends Module {
  readonly config: KANConfig;
  readonly widths: number[];
  readonly depth: number;
  readonly actFun: ModuleList<KANLinear>;
  readonly symbolicFun: ModuleList<SymbolicKANLayer>;
  readonly nodeBias: BufferList;
  readonly nodeScale: BufferList;
  readonly subnodeBias: BufferList;
  readonly subnodeScale: BufferList;

  constructor(config: KANConfig) {
    super();
    validateWidths('KAN', config.widths);
    this.config = { ...config, widths: [...config.widths] };
    this.widths = [...config.widths];
    this.depth = this.widths.length - 1;
    const outs = this.widths.slice(1);
    // validate the layer options once before any variable exists
    validateLayerOptions('KAN', layerOptions(config, this.widths[0]!, outs[0]!));
    this.actFun = this.addModule(
      'act_fun',
      new ModuleList(outs.map((out, l) => new KANLinear(layerOptions(config, this.widths[l]!, out)))),
    );
    this.symbolicFun = this.addModule(
      'symbolic_fun',
      new ModuleList(outs.map((out, l) => new SymbolicKANLayer(this.widths[l]!, out))),
    );
    this.nodeBias = this.addModule('node_bias', new BufferList(outs.map((out) => tf.zeros([out]))));
    this.nodeScale = this.addModule('node_scale', new BufferList(outs.map((out) => tf.ones([out]))));
    this.subnodeBias = this.addModule('subnode_bias', new BufferList(outs.map((out) => tf.zeros([out]))));
    this.subnodeScale = this.addModule('subnode_scale', new BufferList(outs.map((out) => tf.ones([out]))));
  }

  get layers(): KANLinear[] {
    return this.actFun.items;
  }

  #layerStep(l: number, x: tf.Tensor, numeric: tf.Tensor): { subnode: tf.Tensor; output: tf.Tensor } {
    const symbolic = this.symbolicFun.at(l).forward(x);
    let y = symbolic ? tf.add(numeric, symbolic) : numeric;
    y = tf.add(tf.mul(this.subnodeScale.items[l]!, y), this.subnodeBias.items[l]!);
    const subnode = y;
    return { subnode, output: tf.add(tf.mul(this.nodeScale.items[l]!, y), this.nodeBias.items[l]!) };
  }

  forward(x: tf.Tensor, _options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(x, ['B', this.widths[0]!]);
    return tf.tidy(() => {
      let h = x;
      for (let l = 0; l < this.depth; l++) h = this.#layerStep(l, h, this.actFun.at(l).forward(h)).output;
      return h;
    });
  }

  /** Forward pass that keeps every layer's inputs and per-edge activations (for reg, attribution, plots). */
  trace(x: tf.Tensor): KANTrace {
    this.checkShape(x, ['B', this.widths[0]!]);
    const trace: KANTrace = { output: x, inputs: [], postacts: [], postspline: [], subnodes: [] };
    let h = tf.clone(x);
    for (let l = 0; l < this.depth; l++) {
      const layer = this.actFun.at(l);
      const edges = layer.edgeActivations(h);
      const step = tf.tidy(() => {
        const { subnode, output } = this.#layerStep(l, h, tf.sum(edges.postacts, 2));
        return [subnode, output] as const;
      });
      trace.inputs.push(h);
      trace.postacts.push(edges.postacts);
      trace.postspline.push(edges.postspline);
      trace.subnodes.push(step[0]);
      h = step[1];
    }
    trace.output = h;
    return trace;
  }

  /**
   * pykan's `get_reg` with reg_metric 'edge_forward_spline_n': for each layer,
   * v_ji = std_B(φ_ji) / (std_B(x_i) + 0.1); reg = Σ_l [λ1 Σ v + λH (H_row + H_col)] + coefficient terms,
   * H_row = -mean_j Σ_i p log2(p + 1e-4) with p = v / (Σ_i v + 1). Differentiable (a scalar to add to the loss).
   */
  regularization(x: tf.Tensor, options: RegularizationOptions = {}): tf.Scalar {
    const lambL1 = options.lambL1 ?? 1;
    const lambEntropy = options.lambEntropy ?? 2;
    const lambCoef = options.lambCoef ?? 0;
    const lambCoefDiff = options.lambCoefDiff ?? 0;
    return tf.tidy(() => {
      const trace = this.trace(x);
      let reg: tf.Tensor = tf.scalar(0);
      for (let l = 0; l < this.depth; l++) {
        const inputRange = tf.add(unbiasedStd(trace.inputs[l]!, 0), 0.1); // [in]
        const vec = tf.div(unbiasedStd(trace.postacts[l]!, 0), inputRange); // [out, in]
        const l1 = tf.sum(vec);
        const pRow = tf.div(vec, tf.add(tf.sum(vec, 1, true), 1));
        const pCol = tf.div(vec, tf.add(tf.sum(vec, 0, true), 1));
        const entropy = (p: tf.Tensor, axis: number) =>
          tf.neg(tf.mean(tf.sum(tf.mul(p, tf.div(tf.log(tf.add(p, 1e-4)), Math.LN2)), axis)));
        reg = tf.add(
          reg,
          tf.add(tf.mul(lambL1, l1), tf.mul(lambEntropy, tf.add(entropy(pRow, 1), entropy(pCol, 0)))),
        );
        const coef = this.actFun.at(l).coef;
        if (lambCoef !== 0) reg = tf.add(reg, tf.mul(lambCoef, tf.sum(tf.mean(tf.abs(coef), 1))));
        if (lambCoefDiff !== 0 && coef.shape[2]! > 1) {
          const size = coef.shape[2]!;
          const diff = tf.sub(
            tf.slice(coef, [0, 0, 1], [-1, -1, size - 1]),
            tf.slice(coef, [0, 0, 0], [-1, -1, size - 1]),
          );
          reg = tf.add(reg, tf.mul(lambCoefDiff, tf.sum(tf.mean(tf.abs(diff), 1))));
        }
      }
      return reg as tf.Scalar;
    });
  }

  /** pykan's `update_grid_from_samples`: each layer's grid moves to the quantiles of its own inputs on x. */
  updateGridFromSamples(x: tf.Tensor): void {
    for (let l = 0; l < this.depth; l++) {
      const input = tf.tidy(() => {
        let h = x;
        for (let m = 0; m < l; m++) h = this.#layerStep(m, h, this.actFun.at(m).forward(h)).output;
        return tf.clone(h);
      });
      this.actFun.at(l).updateGridFromSamples(input);
      input.dispose();
    }
  }

  /** Layer inputs [B, in_l] for every layer on x (caller disposes). */
  layerInputs(x: tf.Tensor): tf.Tensor[] {
    const inputs: tf.Tensor[] = [];
    let h = tf.clone(x);
    for (let l = 0; l < this.depth; l++) {
      inputs.push(h);
      const current = h;
      h = tf.tidy(() => this.#layerStep(l, current, this.actFun.at(l).forward(current)).output);
    }
    h.dispose();
    return inputs;
  }

  /**
   * pykan's `refine(new_grid)`: a new KAN with gridSize `newGridSize` whose splines are least-squares
   * fits of this model's splines on the sample inputs x (grid on the samples' quantiles); scales,
   * masks, node affines and symbolic edges are copied. This model is left as it is.
   */
  refine(newGridSize: number, x: tf.Tensor): KAN {
    const model = new KAN({ ...this.config, gridSize: newGridSize });
    const inputs = this.layerInputs(x);
    try {
      for (let l = 0; l < this.depth; l++)
        model.actFun.at(l).initializeFromParent(this.actFun.at(l), inputs[l]!);
    } finally {
      tf.dispose(inputs);
    }
    model.#copyNonSpline(this);
    return model;
  }

  #copyNonSpline(source: KAN): void {
    tf.tidy(() => {
      for (let l = 0; l < this.depth; l++) {
        for (const name of ['nodeBias', 'nodeScale', 'subnodeBias', 'subnodeScale'] as const) {
          this[name].items[l]!.assign(source[name].items[l]!);
        }
        const symbolic = this.symbolicFun.at(l);
        const from = source.symbolicFun.at(l);
        symbolic.mask.assign(from.mask);
        symbolic.affine.assign(from.affine);
        from.functionNames.forEach((row, j) => {
          symbolic.functionNames[j] = [...row];
        });
      }
    });
  }

  /**
   * pykan's `attribute`: scores flow back from the outputs (each 1): edge score
   * E_ji = std(φ_ji) · S_j / (std(subnode_j) + 1e-4), node score S_i = Σ_j E_ji.
   */
  attribute(x: tf.Tensor): Attribution {
    const trace = this.trace(x);
    try {
      const edgeActScale = trace.postacts.map((acts) => readStd(acts) as number[][]);
      const subnodeActScale = trace.subnodes.map((acts) => readStd(acts) as number[]);
      let nodeScore = new Array<number>(this.widths[this.depth]!).fill(1);
      const nodeScores: number[][] = [nodeScore];
      const edgeScores: number[][][] = [];
      for (let l = this.depth - 1; l >= 0; l--) {
        const scale = edgeActScale[l]!;
        const sub = subnodeActScale[l]!;
        const edges = scale.map((row, j) => row.map((value) => (value * nodeScore[j]!) / (sub[j]! + 1e-4)));
        nodeScore = new Array<number>(this.widths[l]!).fill(0);
        for (const row of edges) {
          row.forEach((value, i) => {
            nodeScore[i]! += value;
          });
        }
        edgeScores.unshift(edges);
        nodeScores.unshift(nodeScore);
      }
      return { nodeScores, edgeScores };
    } finally {
      disposeTrace(trace);
    }
  }

  /** pykan's `prune_edge`: masks every edge whose attribution score is below `threshold` (default 3e-2). */
  pruneEdges(x: tf.Tensor, threshold = 3e-2): number {
    const { edgeScores } = this.attribute(x);
    let pruned = 0;
    edgeScores.forEach((edges, l) => {
      const layer = this.actFun.at(l);
      const mask = layer.mask.arraySync() as number[][];
      edges.forEach((row, j) => {
        row.forEach((score, i) => {
          if (score < threshold && mask[i]![j] !== 0) {
            mask[i]![j] = 0;
            pruned++;
          }
        });
      });
      tf.tidy(() => layer.mask.assign(tf.tensor2d(mask)));
    });
    return pruned;
  }

  /**
   * pykan's `prune_node`: a smaller KAN without the hidden nodes whose score is below `threshold`
   * (default 1e-2). Inputs and outputs stay. This model is left as it is.
   */
  pruneNodes(x: tf.Tensor, threshold = 1e-2): KAN {
    const { nodeScores } = this.attribute(x);
    const keep = nodeScores.map((scores, l) =>
      l === 0 || l === this.depth
        ? scores.map((_, index) => index)
        : scores.flatMap((score, index) => (score > threshold ? [index] : [])),
    );
    for (let l = 1; l < this.depth; l++) if (keep[l]!.length === 0) keep[l] = [argmax(nodeScores[l]!)];
    const model = new KAN({ ...this.config, widths: keep.map((ids) => ids.length) });
    for (let l = 0; l < this.depth; l++) {
      const sub = this.actFun.at(l).subset(keep[l]!, keep[l + 1]!);
      const old = model.actFun.setSubmodule(String(l), sub);
      old.dispose();
      tf.tidy(() => {
        const outIndex = tf.tensor1d(keep[l + 1]!, 'int32');
        const inIndex = tf.tensor1d(keep[l]!, 'int32');
        for (const name of ['nodeBias', 'nodeScale', 'subnodeBias', 'subnodeScale'] as const) {
          model[name].items[l]!.assign(tf.gather(this[name].items[l]!, outIndex));
        }
        const symbolic = model.symbolicFun.at(l);
        const from = this.symbolicFun.at(l);
        symbolic.mask.assign(tf.gather(tf.gather(from.mask, outIndex, 0), inIndex, 1));
        symbolic.affine.assign(tf.gather(tf.gather(from.affine, outIndex, 0), inIndex, 1));
        keep[l + 1]!.forEach((j, newJ) => {
          symbolic.functionNames[newJ] = keep[l]!.map((i) => from.functionNames[j]![i]!);
        });
      });
    }
    return model;
  }

  /** pykan's `prune`: pruneNodes then pruneEdges on the smaller model (returned). */
  prune(x: tf.Tensor, options: { nodeThreshold?: number; edgeThreshold?: number } = {}): KAN {
    const model = this.pruneNodes(x, options.nodeThreshold ?? 1e-2);
    model.pruneEdges(x, options.edgeThreshold ?? 3e-2);
    return model;
  }

  /** Samples (x_i, φ_ji(x_i)) of one edge on x (numeric part, float64 arrays). */
  edgeSamples(
    x: tf.Tensor,
    l: number,
    i: number,
    j: number,
  ): { inputs: Float64Array; outputs: Float64Array } {
    this.#checkEdge(l, i, j);
    const trace = this.trace(x);
    try {
      const batch = x.shape[0]!;
      const input = trace.inputs[l]!.dataSync();
      const acts = trace.postacts[l]!.dataSync();
      const width = this.widths[l]!;
      const out = this.widths[l + 1]!;
      const inputs = new Float64Array(batch);
      const outputs = new Float64Array(batch);
      for (let s = 0; s < batch; s++) {
        inputs[s] = input[s * width + i]!;
        outputs[s] = acts[(s * out + j) * width + i]!;
      }
      return { inputs, outputs };
    } finally {
      disposeTrace(trace);
    }
  }

  #checkEdge(l: number, i: number, j: number): void {
    if (!(l >= 0 && l < this.depth && i >= 0 && i < this.widths[l]! && j >= 0 && j < this.widths[l + 1]!)) {
      throw new Error(
        `${this.location}: no edge (${l}, ${i}, ${j}) in a KAN of widths [${this.widths.join(', ')}]`,
      );
    }
  }

  /**
   * pykan's `fix_symbolic`: fits edge (l, i -> j) on x to c · f(a x + b) + d and replaces the numeric
   * edge by it (act_fun mask 0, symbolic_fun mask 1). Returns the fit (with R²).
   */
  fixSymbolic(x: tf.Tensor, l: number, i: number, j: number, name: string): SymbolicFit {
    const fn = SYMBOLIC_LIBRARY[name];
    if (!fn)
      throw new Error(
        `${this.location}: unknown symbolic function '${name}' (known: ${Object.keys(SYMBOLIC_LIBRARY).join(', ')})`,
      );
    const { inputs, outputs } = this.edgeSamples(x, l, i, j);
    const fit = fitSymbolicParams(inputs, outputs, fn);
    this.#setSymbolic(l, i, j, fit);
    return fit;
  }

  #setSymbolic(l: number, i: number, j: number, fit: SymbolicFit): void {
    const layer = this.actFun.at(l);
    const symbolic = this.symbolicFun.at(l);
    tf.tidy(() => {
      const numericMask = layer.mask.arraySync() as number[][];
      numericMask[i]![j] = 0;
      layer.mask.assign(tf.tensor2d(numericMask));
      const maskValues = symbolic.mask.arraySync() as number[][];
      maskValues[j]![i] = 1;
      symbolic.mask.assign(tf.tensor2d(maskValues));
      const affine = symbolic.affine.arraySync() as number[][][];
      affine[j]![i] = [...fit.params];
      symbolic.affine.assign(tf.tensor3d(affine));
    });
    symbolic.functionNames[j]![i] = fit.name;
  }

  /** The best library candidates for one edge (pykan's `suggest_symbolic`). */
  suggestSymbolic(
    x: tf.Tensor,
    l: number,
    i: number,
    j: number,
    options: { library?: readonly string[]; topK?: number } = {},
  ) {
    const { inputs, outputs } = this.edgeSamples(x, l, i, j);
    return suggestSymbolic(inputs, outputs, options);
  }

  /**
   * pykan's `auto_symbolic`: every active numeric edge is replaced by its best candidate (when its R² is
   * at least r2Threshold). Returns the chosen fit per edge.
   */
  autoSymbolic(
    x: tf.Tensor,
    options: { library?: readonly string[]; r2Threshold?: number; weightSimple?: number } = {},
  ): { l: number; i: number; j: number; fit: SymbolicFit }[] {
    const chosen: { l: number; i: number; j: number; fit: SymbolicFit }[] = [];
    for (let l = 0; l < this.depth; l++) {
      const mask = this.actFun.at(l).mask.arraySync() as number[][];
      for (let i = 0; i < this.widths[l]!; i++) {
        for (let j = 0; j < this.widths[l + 1]!; j++) {
          if (mask[i]![j] === 0) continue;
          const { inputs, outputs } = this.edgeSamples(x, l, i, j);
          const [best] = suggestSymbolic(inputs, outputs, {
            library: options.library,
            weightSimple: options.weightSimple,
            topK: 1,
          });
          if (best && best.r2 >= (options.r2Threshold ?? 0)) {
            this.#setSymbolic(l, i, j, best);
            chosen.push({ l, i, j, fit: best });
          }
        }
      }
    }
    return chosen;
  }
}

/** Throws `owner: ...` when the layer options are invalid (before any variable exists). */
function validateLayerOptions(owner: string, options: KANLinearOptions): void {
  const problems = kanLinearProblems(options);
  if (problems.length > 0) throw new Error(`${owner}: ${problems.join('; ')}`);
}

function argmax(values: readonly number[]): number {
  let best = 0;
  values.forEach((value, index) => {
    if (value > values[best]!) best = index;
  });
  return best;
}

/** Unbiased std over the batch axis, read back as nested arrays. */
function readStd(x: tf.Tensor): number[] | number[][] {
  const std = unbiasedStd(x, 0);
  const values = std.arraySync() as number[] | number[][];
  std.dispose();
  return values;
}

/** torch.std (unbiased) along an axis. */
export function unbiasedStd(x: tf.Tensor, axis: number): tf.Tensor {
  return tf.tidy(() => {
    const n = x.shape[axis]!;
    const mean = tf.mean(x, axis, true);
    return tf.sqrt(tf.div(tf.sum(tf.square(tf.sub(x, mean)), axis), Math.max(n - 1, 1)));
  });
}

// ---- image classifier ------------------------------------------------------------------------------

export interface KANClassifierConfig extends KANLayerConfig {
  /** Image size, square or [height, width] (default 28). */
  imgSize?: number | readonly [number, number];
  /** Image channels (default 1). */
  inChans?: number;
  /** Classes (default 10; 0 makes `forward` return the last hidden features). */
  numClasses?: number;
  /** Hidden widths (default [64]). */
  hiddenDims?: readonly number[];
}

/**
 * A KAN on flattened NHWC images [B, H, W, C] -> [B, numClasses] (efficient-kan's MNIST example,
 * KAN [784, 64, 10]). Layers are `act_fun.{l}` (KANLinear); the last one is the classifier.
 */
export class KANClassifier extends Module implements Classifier {
  readonly imgSize: [number, number];
  readonly inChans: number;
  readonly hiddenDims: number[];
  readonly numFeatures: number;
  readonly headHiddenSize: number;
  readonly firstLayerName = 'act_fun.0';
  readonly classifierName: string;
  readonly actFun: ModuleList<Module & { forward(x: tf.Tensor): tf.Tensor }>;
  readonly config: KANClassifierConfig;
  #numClasses: number;

  constructor(config: KANClassifierConfig = {}) {
    super();
    this.config = { ...config };
    const size = config.imgSize ?? 28;
    this.imgSize = typeof size === 'number' ? [size, size] : [size[0], size[1]];
    this.inChans = config.inChans ?? 1;
    this.hiddenDims = [...(config.hiddenDims ?? [64])];
    this.#numClasses = config.numClasses ?? 10;
    const positive = (value: number) => Number.isInteger(value) && value > 0;
    const problems = [
      !this.imgSize.every(positive) && `imgSize must be positive integers, got ${JSON.stringify(size)}`,
      !positive(this.inChans) && `inChans must be a positive integer, got ${this.inChans}`,
      !(this.hiddenDims.length > 0 && this.hiddenDims.every(positive)) &&
        `hiddenDims must be one or more positive integers, got [${this.hiddenDims.join(', ')}]`,
      !(Number.isInteger(this.#numClasses) && this.#numClasses >= 0) &&
        `numClasses must be a non-negative integer, got ${this.#numClasses}`,
    ].filter(Boolean);
    if (problems.length > 0) throw new Error(`KANClassifier: ${problems.join('; ')}`);
    const inputs = this.imgSize[0] * this.imgSize[1] * this.inChans;
    validateLayerOptions('KANClassifier', layerOptions(config, inputs, this.hiddenDims[0]!));
    const widths = [inputs, ...this.hiddenDims];
    this.actFun = this.addModule(
      'act_fun',
      new ModuleList<Module & { forward(x: tf.Tensor): tf.Tensor }>(
        this.hiddenDims.map((out, l) => new KANLinear(layerOptions(config, widths[l]!, out))),
      ),
    );
    this.numFeatures = this.hiddenDims.at(-1)!;
    this.headHiddenSize = this.numFeatures;
    this.classifierName = `act_fun.${this.hiddenDims.length}`;
    this.actFun.append(this.#makeHead(this.#numClasses));
  }

  get numClasses(): number {
    return this.#numClasses;
  }

  #makeHead(numClasses: number): Module & { forward(x: tf.Tensor): tf.Tensor } {
    return numClasses > 0
      ? new KANLinear(layerOptions(this.config, this.numFeatures, numClasses))
      : new IdentityLayer();
  }

  forwardFeatures(input: tf.Tensor, _options: ForwardOptions = {}): tf.Tensor {
    this.checkShape(input, ['B', this.imgSize[0], this.imgSize[1], this.inChans]);
    return tf.tidy(() => {
      let x = tf.reshape(input, [input.shape[0]!, -1]);
      for (let l = 0; l < this.hiddenDims.length; l++) x = this.actFun.at(l).forward(x);
      return x;
    });
  }

  forwardHead(features: tf.Tensor, options: ForwardHeadOptions = {}): tf.Tensor {
    this.checkShape(features, ['B', this.numFeatures], 'features');
    return options.preLogits ? features : this.actFun.at(this.hiddenDims.length).forward(features);
  }

  forward(input: tf.Tensor, options: ForwardOptions = {}): tf.Tensor {
    return tf.tidy(() => this.forwardHead(this.forwardFeatures(input, options), options));
  }

  resetClassifier(numClasses: number): void {
    if (!(Number.isInteger(numClasses) && numClasses >= 0)) {
      throw new Error(`${this.location}: numClasses must be a non-negative integer, got ${numClasses}`);
    }
    const old = this.setSubmodule(this.classifierName, this.#makeHead(numClasses));
    old.dispose();
    this.#numClasses = numClasses;
  }
}

class IdentityLayer extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return tf.clone(x);
  }
}

/** Parameters of a B-spline KAN layer stack: Σ in·out·(G + k + 2). */
export function kanParameterCount(widths: readonly number[], numBasis: number): number {
  let total = 0;
  for (let l = 0; l + 1 < widths.length; l++) total += widths[l]! * widths[l + 1]! * (numBasis + 2);
  return total;
}

/** Presets of `KANClassifier` (pure data). */
export const KAN_PRESETS: Record<string, ModelPreset<KANClassifierConfig>> = {
  kan_fashion_mnist: {
    config: { imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [64], gridSize: 5, splineOrder: 3 },
    numParameters: kanParameterCount([784, 64, 10], 5 + 3),
    description: 'KAN [784, 64, 10], B-spline G=5 k=3, on flattened 28x28 grayscale images (Fashion-MNIST).',
    paper: 'KAN: Kolmogorov-Arnold Networks (arXiv 2404.19756)',
    source: 'mlzoo (efficient-kan MNIST example shape)',
    packageName: '@mlzoo/kan',
  },
  fastkan_fashion_mnist: {
    config: {
      imgSize: 28,
      inChans: 1,
      numClasses: 10,
      hiddenDims: [64],
      basis: 'rbf',
      gridSize: 8,
      gridRange: [-2, 2],
    },
    numParameters: kanParameterCount([784, 64, 10], 8),
    description: 'FastKAN-style RBF KAN [784, 64, 10], 8 Gaussian centres on [-2, 2].',
    paper: 'Kolmogorov-Arnold Networks are Radial Basis Function Networks (arXiv 2405.06721)',
    source: 'mlzoo',
    packageName: '@mlzoo/kan',
  },
  chebykan_fashion_mnist: {
    config: { imgSize: 28, inChans: 1, numClasses: 10, hiddenDims: [64], basis: 'chebyshev', degree: 4 },
    numParameters: kanParameterCount([784, 64, 10], 5),
    description: 'Chebyshev KAN [784, 64, 10], degree 4 on tanh(x).',
    paper: 'Chebyshev Polynomial-Based Kolmogorov-Arnold Networks (arXiv 2405.07200)',
    source: 'mlzoo',
    packageName: '@mlzoo/kan',
  },
};

/** Factory used by the registry. */
export function createKANClassifier(config: KANClassifierConfig): KANClassifier {
  return new KANClassifier(config);
}

/** Registers `kan_fashion_mnist`, `fastkan_fashion_mnist`, `chebykan_fashion_mnist`. Nothing registers on import. */
export function registerKanModels(): void {
  for (const [name, preset] of Object.entries(KAN_PRESETS)) registerModel(name, createKANClassifier, preset);
}
