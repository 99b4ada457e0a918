// Seeded pseudo-random numbers, independent of the tfjs backend so that initial weights are the same
// on cpu, wasm and webgpu for the same seed (tfjs's own random ops differ between backends).

/**
 * A small, fast, seedable generator (xoshiro128**, seeded through splitmix32). Not cryptographic.
 *
 * @example
 * ```ts
 * const random = new Random(42);
 * random.uniform(); // in [0, 1)
 * ```
 */
export class Random {
  #state = new Uint32Array(4);
  #spareNormal: number | null = null;

  constructor(seed = 0) {
    this.seed(seed);
  }

  /** Resets the generator to the sequence for `seed` (any finite number). */
  seed(seed: number): void {
    if (!Number.isFinite(seed)) throw new Error(`Random.seed: seed must be a finite number, got ${seed}`);
    let value = (Math.trunc(seed) ^ (Math.trunc(seed / 2 ** 32) * 0x9e3779b9)) >>> 0;
    for (let index = 0; index < 4; index++) {
      value = (value + 0x9e3779b9) >>> 0;
      let mixed = value;
      mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b) >>> 0;
      mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35) >>> 0;
      this.#state[index] = (mixed ^ (mixed >>> 16)) >>> 0;
    }
    if (this.#state.every((word) => word === 0)) this.#state[0] = 1;
    this.#spareNormal = null;
  }

  /** Next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const state = this.#state;
    const result = Math.imul(rotateLeft(Math.imul(state[1]!, 5), 7), 9) >>> 0;
    const shifted = (state[1]! << 9) >>> 0;
    state[2]! ^= state[0]!;
    state[3]! ^= state[1]!;
    state[1]! ^= state[2]!;
    state[0]! ^= state[3]!;
    state[2]! ^= shifted;
    state[3] = rotateLeft(state[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of randomness. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Standard normal (Box-Muller, caching the second value). */
  normal(): number {
    if (this.#spareNormal != null) {
      const spare = this.#spareNormal;
      this.#spareNormal = null;
      return spare;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.#spareNormal = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, bound). */
  integer(bound: number): number {
    if (!(bound > 0 && bound <= 2 ** 32))
      throw new Error(`Random.integer: bound must be in (0, 2^32], got ${bound}`);
    return Math.floor(this.uniform() * bound);
  }

  /** A seed for a derived generator or a tfjs op that takes one (e.g. dropout). */
  nextSeed(): number {
    return this.nextUint32();
  }

  /** A new generator whose sequence is determined by this one's next output. */
  fork(): Random {
    return new Random(this.nextUint32() * 4096 + (this.nextUint32() >>> 20));
  }

  /** Fisher-Yates permutation of 0..length-1. */
  permutation(length: number): Int32Array {
    const order = new Int32Array(length);
    for (let index = 0; index < length; index++) order[index] = index;
    for (let index = length - 1; index > 0; index--) {
      const other = this.integer(index + 1);
      const swap = order[index]!;
      order[index] = order[other]!;
      order[other] = swap;
    }
    return order;
  }
}

function rotateLeft(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

let globalRandom = new Random(0);

/** Seeds the default generator that initializers and dropout use (like `torch.manual_seed`). */
export function manualSeed(seed: number): void {
  globalRandom = new Random(seed);
}

/** The default generator (seed it with {@link manualSeed}). */
export function defaultRandom(): Random {
  return globalRandom;
}
