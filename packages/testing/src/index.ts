// @mlzoo/testing: the model suite contributors reuse. `runModelSuite(spec)` registers one vitest test
// per invariant; the checks themselves live in `@mlzoo/testing/checks` and need no test runner.
import type { Classifier } from '@mlzoo/core';
import { describe, it } from 'vitest';
import { MODEL_CHECKS, type ModelSuiteSpec } from './checks.js';

export {
  checkClassifierSurface,
  checkForward,
  checkGradients,
  checkModel,
  checkNoLeaks,
  checkParameterCount,
  checkStateDictRoundTrip,
  MODEL_CHECKS,
  type ModelSuiteSpec,
} from './checks.js';

/**
 * Registers the shared model suite for one model with vitest.
 *
 * @example
 * ```ts
 * import { runModelSuite } from '@mlzoo/testing';
 * import { MlpClassifier } from '@mlzoo/layers';
 *
 * runModelSuite({
 *   name: 'mlp_tiny',
 *   create: () => new MlpClassifier({ imgSize: 8, inChans: 1, numClasses: 3, hiddenDims: [16] }),
 *   inputShape: [8, 8, 1],
 *   numParameters: 8 * 8 * 16 + 16 + 16 * 3 + 3,
 * });
 * ```
 */
export function runModelSuite<M extends Classifier>(spec: ModelSuiteSpec<M>): void {
  describe(`model suite: ${spec.name}`, () => {
    for (const [title, check] of Object.entries(MODEL_CHECKS)) {
      it(title, async () => {
        await check(spec as ModelSuiteSpec);
      });
    }
  });
}
