// KANLinear and KAN against golden fixtures written by tools/fixtures/kan.py (a PyTorch re-creation of
// pykan's spline.py / KANLayer.py / MultKAN.py), plus behaviour the fixtures cannot show.
import { manualSeed, Random } from '@mlzoo/core';
import { runModelSuite } from '@mlzoo/testing';
import { checkAgainstFixture, expectClose, fixtureNames, loadFixture } from '@mlzoo/testing/golden';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { KAN, KAN_PRESETS, KANClassifier, type KANConfig } from '../src/kan.js';
import { KANLinear, type KANLinearOptions } from '../src/kan-linear.js';
import { bsplineBasis } from '../src/spline.js';
import { createDataset, disposeDataset, fitKAN } from '../src/train.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);

function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
}

function withoutLeaks(body: () => void): void {
  const before = tf.memory().numTensors;
  body();
  expect(tf.memory().numTensors).toBe(before);
}

describe('golden fixtures (PyTorch re-creation of pykan)', () => {
  it('B-spline basis values and their gradient in x', () => {
    withoutLeaks(() => {
      const fixture = loadFixture(FIXTURES, 'bspline_basis_k3');
      const { grid, input, output, cotangent } = fixture.tensors;
      const basis = bsplineBasis(input!, grid!, 3);
      expectClose(basis, output!, 1e-5, 'basis');
      const gradient = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(bsplineBasis(x, grid!, 3), cotangent!)))(
        input!,
      );
      expectClose(gradient, fixture.tensors['grad.input']!, 1e-4, 'grad.input');
      tf.dispose([basis, gradient]);
      fixture.dispose();
    });
  });

  for (const name of fixtureNames(FIXTURES).filter((n) => n.startsWith('kan_linear_') || n === 'kan_2_5_1')) {
    it(`${name}: output, input and parameter gradients`, () => {
      withoutLeaks(() => {
        const fixture = loadFixture(FIXTURES, name);
        const module =
          fixture.layer === 'KAN'
            ? new KAN(fixture.options as unknown as KANConfig)
            : new KANLinear(fixture.options as unknown as KANLinearOptions);
        checkAgainstFixture(fixture, module, (x) => module.forward(x), 1e-4);
        module.dispose();
        fixture.dispose();
      });
    });
  }

  it('grid update from samples (new grid and refit coef)', () => {
    withoutLeaks(() => {
      const fixture = loadFixture(FIXTURES, 'grid_update');
      const layer = new KANLinear(fixture.options as unknown as KANLinearOptions);
      layer.loadStateDict(fixture.group('params'));
      layer.updateGridFromSamples(fixture.tensors.input!);
      expectClose(layer.grid!, fixture.tensors.grid_after!, 1e-5, 'grid');
      expectClose(layer.coef, fixture.tensors.coef_after!, 1e-4, 'coef');
      layer.dispose();
      fixture.dispose();
    });
  });

  it('grid refinement G=5 -> G=10 fits the fine spline to the coarse one', () => {
    withoutLeaks(() => {
      const fixture = loadFixture(FIXTURES, 'grid_refine_5_to_10');
      const options = fixture.options as unknown as KANLinearOptions & { newGridSize: number };
      const parent = new KANLinear(options);
      parent.loadStateDict(fixture.group('params'));
      const child = parent.withOptions({ gridSize: options.newGridSize });
      child.initializeFromParent(parent, fixture.tensors.input!);
      expectClose(child.grid!, fixture.tensors.grid_after!, 1e-5, 'grid');
      expectClose(child.coef, fixture.tensors.coef_after!, 1e-4, 'coef');
      // the refined layer computes (nearly) the parent's function on the samples
      const [a, b] = [parent.forward(fixture.tensors.input!), child.forward(fixture.tensors.input!)];
      expect(maxAbsDifference(a, b)).toBeLessThan(2e-2);
      tf.dispose([a, b]);
      parent.dispose();
      child.dispose();
      fixture.dispose();
    });
  });

  it('regularisation (value and d/dcoef) and attribution scores', () => {
    withoutLeaks(() => {
      const fixture = loadFixture(FIXTURES, 'kan_2_5_1_reg_attribution');
      const options = fixture.options as unknown as KANConfig & {
        lambL1: number;
        lambEntropy: number;
        lambCoef: number;
        lambCoefDiff: number;
      };
      const model = new KAN(options);
      model.loadStateDict(fixture.group('params'));
      const x = fixture.tensors.input!;
      const { value, grads } = tf.variableGrads(
        () => model.regularization(x, options),
        model.layers.map((layer) => layer.coef),
      );
      tf.tidy(() => expectClose(tf.reshape(value, [1]), fixture.tensors.reg!, 1e-4, 'reg'));
      model.layers.forEach((layer, l) => {
        expectClose(
          grads[layer.coef.name]!,
          fixture.tensors[`grad.act_fun.${l}.coef`]!,
          1e-4,
          `grad coef ${l}`,
        );
      });
      tf.dispose([value, ...Object.values(grads)]);
      const { nodeScores, edgeScores } = model.attribute(x);
      nodeScores.forEach((scores, l) => {
        tf.tidy(() =>
          expectClose(tf.tensor1d(scores), fixture.tensors[`node_scores.${l}`]!, 1e-4, `node ${l}`),
        );
      });
      edgeScores.forEach((scores, l) => {
        tf.tidy(() =>
          expectClose(tf.tensor2d(scores), fixture.tensors[`edge_scores.${l}`]!, 1e-4, `edge ${l}`),
        );
      });
      model.dispose();
      fixture.dispose();
    });
  });
});

describe('KANLinear and KAN behaviour', () => {
  it('pykan initialisation: near-zero spline, scale_sp = 1/sqrt(in), scale_base within ±1/sqrt(in)', () => {
    withoutLeaks(() => {
      const layer = new KANLinear({ inFeatures: 4, outFeatures: 3, gridSize: 5, noiseScale: 0.5 });
      expect(layer.coef.shape).toEqual([4, 3, 8]);
      expect(layer.grid!.shape).toEqual([4, 12]);
      expect(Math.max(...(layer.coef.dataSync() as Float32Array).map(Math.abs))).toBeLessThan(0.5);
      expect(new Set(layer.scaleSp.dataSync()).size).toBe(1);
      expect(layer.scaleSp.dataSync()[0]).toBeCloseTo(0.5, 6);
      expect(Math.max(...(layer.scaleBase.dataSync() as Float32Array).map(Math.abs))).toBeLessThanOrEqual(
        0.5,
      );
      expect(layer.numParameters()).toBe(4 * 3 * (8 + 2));
      expect(Object.keys(layer.stateDictShapes()).sort()).toEqual([
        'coef',
        'grid',
        'mask',
        'scale_base',
        'scale_sp',
      ]);
      layer.dispose();
    });
  });

  it('grid update keeps the layer function on the samples', () => {
    withoutLeaks(() => {
      const layer = new KANLinear({ inFeatures: 2, outFeatures: 2, gridSize: 8, noiseScale: 3 });
      const x = tf.randomUniform([200, 2], -0.9, 0.9, 'float32', 3);
      const before = layer.forward(x);
      layer.updateGridFromSamples(x);
      const after = layer.forward(x);
      expect(maxAbsDifference(before, after)).toBeLessThan(0.05);
      tf.dispose([x, before, after]);
      layer.dispose();
    });
  });

  it('state dict keys follow pykan MultKAN', () => {
    const model = new KAN({ widths: [2, 3, 1] });
    const keys = Object.keys(model.stateDictShapes()).sort();
    expect(keys).toContain('act_fun.0.coef');
    expect(keys).toContain('act_fun.1.grid');
    expect(keys).toContain('symbolic_fun.0.affine');
    expect(keys).toContain('node_scale.1');
    expect(keys).toContain('subnode_bias.0');
    expect(model.stateDictShapes()['act_fun.0.coef']).toEqual([2, 3, 6]);
    expect(model.numParameters()).toBe((2 * 3 + 3 * 1) * (6 + 2));
    model.dispose();
  });

  it('refine returns a finer model computing nearly the same function', () => {
    withoutLeaks(() => {
      const model = new KAN({ widths: [2, 3, 1], gridSize: 3, noiseScale: 1 });
      const x = tf.randomUniform([256, 2], -1, 1, 'float32', 5);
      const fine = model.refine(10, x);
      expect(fine.layers[0]!.gridSize).toBe(10);
      const [a, b] = [model.forward(x), fine.forward(x)];
      expect(maxAbsDifference(a, b)).toBeLessThan(0.05);
      tf.dispose([x, a, b]);
      model.dispose();
      fine.dispose();
    });
  });

  it('pruning removes dead hidden nodes and masks weak edges', () => {
    withoutLeaks(() => {
      const model = new KAN({ widths: [2, 4, 1], gridSize: 3 });
      // kill hidden node 2: no incoming and no outgoing edges
      tf.tidy(() => {
        const first = model.layers[0]!;
        first.mask.assign(
          tf.tensor2d([
            [1, 1, 0, 1],
            [1, 1, 0, 1],
          ]),
        );
        model.layers[1]!.mask.assign(tf.tensor2d([[1], [1], [0], [1]]));
      });
      const x = tf.randomUniform([64, 2], -1, 1, 'float32', 9);
      const { nodeScores } = model.attribute(x);
      expect(nodeScores[1]![2]).toBe(0);
      const pruned = model.pruneNodes(x);
      expect(pruned.widths).toEqual([2, 3, 1]);
      const [a, b] = [model.forward(x), pruned.forward(x)];
      expectClose(b, a, 1e-5, 'pruned output');
      const masked = pruned.pruneEdges(x, 1e9);
      expect(masked).toBe(2 * 3 + 3);
      tf.dispose([x, a, b]);
      model.dispose();
      pruned.dispose();
    });
  });

  it('fixSymbolic replaces an edge by c·f(a·x+b)+d', () => {
    withoutLeaks(() => {
      const model = new KAN({ widths: [1, 1], gridSize: 10, baseActivation: 'zero' });
      const x = tf.tidy(() => tf.reshape(tf.linspace(-1, 1, 101), [101, 1]));
      const y = tf.tidy(() => tf.add(tf.mul(0.7, tf.sin(tf.mul(2, x))), 0.1));
      const layer = model.layers[0]!;
      // make the edge 0.7 sin(2x) + 0.1 (scale_sp 1) by least squares on the samples
      tf.tidy(() => layer.scaleSp.assign(tf.onesLike(layer.scaleSp)));
      tf.tidy(() => layer.fitCoefficients(x, tf.reshape(y, [101, 1, 1])));
      const [best] = model.suggestSymbolic(x, 0, 0, 0, { topK: 1, library: ['x', 'x^2', 'sin', 'exp'] });
      expect(best!.name).toBe('sin');
      const fit = model.fixSymbolic(x, 0, 0, 0, 'sin');
      expect(fit.r2).toBeGreaterThan(0.999);
      expect(model.symbolicFun.at(0).functionNames[0]![0]).toBe('sin');
      const out = model.forward(x);
      expect(maxAbsDifference(out, y)).toBeLessThan(1e-2);
      tf.dispose([x, y, out]);
      model.dispose();
    });
  });

  it('rejects bad configs before creating variables', () => {
    const before = tf.memory().numTensors;
    expect(() => new KAN({ widths: [2] })).toThrow(/KAN: widths must be at least two positive integers/);
    expect(() => new KAN({ widths: [2, 1], basis: 'bogus' as never })).toThrow(/KAN: basis must be one of/);
    expect(() => new KANLinear({ inFeatures: 2, outFeatures: 1, gridSize: 0 })).toThrow(
      /KANLinear: gridSize/,
    );
    expect(tf.memory().numTensors).toBe(before);
    const model = new KAN({ widths: [2, 1] });
    expect(() => model.forward(tf.zeros([3, 4]))).toThrow(/KAN: expected input \[B, 2\], got \[3, 4\]/);
    const chebyshev = new KANLinear({ inFeatures: 1, outFeatures: 1, basis: 'chebyshev' });
    expect(() => chebyshev.updateGridFromSamples(tf.zeros([4, 1]))).toThrow(/needs the bspline basis/);
    tf.disposeVariables();
  });
});

describe('KANClassifier presets', () => {
  for (const [name, preset] of Object.entries(KAN_PRESETS)) {
    it(`${name}: parameter count`, () => {
      const model = new KANClassifier(preset.config);
      expect(model.numParameters()).toBe(preset.numParameters);
      model.dispose();
    });
  }
});

runModelSuite({
  name: 'kan_classifier_tiny',
  create: () => new KANClassifier({ imgSize: 4, inChans: 1, numClasses: 3, hiddenDims: [5], gridSize: 3 }),
  inputShape: [4, 4, 1],
  numParameters: (16 * 5 + 5 * 3) * (6 + 2),
  tolerance: 1e-5,
});

describe('fitKAN with L-BFGS', () => {
  it("fits sin(πx) with a [1, 1] KAN in two steps (pykan's L-BFGS settings)", () => {
    const before = tf.memory().numTensors;
    const sine = (x: tf.Tensor) => tf.tidy(() => tf.sin(tf.mul(Math.PI, x)));
    const dataset = createDataset(sine, {
      numVariables: 1,
      trainCount: 100,
      testCount: 100,
      random: new Random(1),
    });
    manualSeed(0);
    const model = new KAN({ widths: [1, 1], gridSize: 5, splineOrder: 3 });
    const start = tf.tidy(() =>
      Math.sqrt(
        tf.mean(tf.square(tf.sub(model.forward(dataset.testInput), dataset.testLabel))).dataSync()[0]!,
      ),
    );
    const history = fitKAN(model, dataset, { steps: 2, optimizer: 'lbfgs' });
    expect(history.testLoss.at(-1)!).toBeLessThan(start / 50);
    model.dispose();
    disposeDataset(dataset);
    expect(tf.memory().numTensors).toBe(before);
  });
});
