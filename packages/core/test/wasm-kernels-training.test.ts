// The kernels mlzoo adds to or replaces in tfjs-backend-wasm, checked against the cpu backend: forward
// values and, through tf.grad, the gradients that call them. Each test selects wasm itself, so the
// kernels are tested whatever MLZOO_BACKEND says.
import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installWasmKernelFixes, Random, setBackend } from '../src/index.js';

type Results = Array<{ shape: number[]; values: Float32Array | Int32Array | Uint8Array }>;

let suiteBackend = 'cpu';

beforeAll(async () => {
  suiteBackend = tf.getBackend();
  expect(installWasmKernelFixes()).toBe(true);
});

afterAll(async () => {
  await tf.setBackend(suiteBackend);
});

function normals(seed: number, shape: number[]): tf.Tensor {
  const random = new Random(seed);
  const size = shape.reduce((product, dimension) => product * dimension, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => random.normal()),
    shape,
  );
}

async function read(outputs: tf.Tensor | tf.Tensor[]): Promise<Results> {
  const list = Array.isArray(outputs) ? outputs : [outputs];
  const results: Results = [];
  for (const tensor of list) {
    results.push({ shape: tensor.shape, values: (await tensor.data()) as Float32Array | Int32Array });
  }
  tf.dispose(list);
  return results;
}

/** Runs `compute` on cpu then on wasm; checks the wasm results equal cpu's and that wasm leaked nothing. */
async function expectWasmMatchesCpu(compute: () => tf.Tensor | tf.Tensor[], tolerance = 1e-4): Promise<void> {
  await setBackend('cpu');
  const expected = await read(tf.tidy(compute));
  expect(await setBackend('wasm')).toBe('wasm');
  const before = tf.memory().numTensors;
  const actual = await read(tf.tidy(compute));
  expect(tf.memory().numTensors).toBe(before);
  expect(actual.length).toBe(expected.length);
  actual.forEach((result, index) => {
    const reference = expected[index]!;
    expect(result.shape).toEqual(reference.shape);
    let scale = 1;
    for (const value of reference.values) scale = Math.max(scale, Math.abs(value));
    let worst = 0;
    result.values.forEach((value, position) => {
      worst = Math.max(worst, Math.abs(value - reference.values[position]!));
    });
    expect(worst / scale).toBeLessThan(tolerance);
  });
}

interface ConvCase {
  name: string;
  input: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number | [number, number];
  pad: 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]];
}

const convCases: ConvCase[] = [
  { name: '3x3 stride 1 same', input: [2, 7, 7, 3], filter: [3, 3, 3, 4], stride: 1, pad: 'same' },
  { name: '3x3 stride 2 same', input: [2, 9, 8, 3], filter: [3, 3, 3, 5], stride: 2, pad: 'same' },
  { name: '3x3 stride 2 valid', input: [2, 9, 9, 2], filter: [3, 3, 2, 3], stride: 2, pad: 'valid' },
  {
    name: '3x3 stride 1 same, 16 channels',
    input: [2, 6, 6, 16],
    filter: [3, 3, 16, 8],
    stride: 1,
    pad: 'same',
  },
  {
    name: '3x3 stride 2 same, 12 channels',
    input: [2, 7, 8, 12],
    filter: [3, 3, 12, 4],
    stride: 2,
    pad: 'same',
  },
  { name: '4x4 stride 4, 8 channels', input: [1, 8, 8, 8], filter: [4, 4, 8, 6], stride: 4, pad: 'valid' },
  { name: '4x4 patch embed stride 4', input: [2, 8, 8, 1], filter: [4, 4, 1, 6], stride: 4, pad: 'valid' },
  { name: '1x1 stride 2', input: [3, 6, 6, 4], filter: [1, 1, 4, 2], stride: [2, 1], pad: 'valid' },
  {
    name: '3x2 explicit asymmetric padding',
    input: [1, 6, 7, 2],
    filter: [3, 2, 2, 3],
    stride: [2, 3],
    pad: [
      [0, 0],
      [1, 2],
      [2, 0],
      [0, 0],
    ],
  },
];

describe('wasm Conv2DBackpropFilter and Conv2DBackpropInput', () => {
  for (const { name, input, filter, stride, pad } of convCases) {
    it(`gives cpu's conv2d gradients: ${name}`, async () => {
      await expectWasmMatchesCpu(() => {
        const x = normals(1, input) as tf.Tensor4D;
        const weights = normals(2, filter) as tf.Tensor4D;
        const loss = (image: tf.Tensor4D, kernel: tf.Tensor4D) =>
          tf.sum(
            tf.mul(tf.conv2d(image, kernel, stride, pad), tf.cos(tf.conv2d(image, kernel, stride, pad))),
          );
        const [dx, dw] = tf.grads(loss as (...inputs: tf.Tensor[]) => tf.Tensor)([x, weights]);
        return [tf.conv2d(x, weights, stride, pad), dx!, dw!];
      });
    });
  }

  it("gives cpu's conv2dTranspose and its filter gradient", async () => {
    await expectWasmMatchesCpu(() => {
      const x = normals(5, [2, 4, 4, 9]) as tf.Tensor4D;
      const weights = normals(6, [3, 3, 2, 9]) as tf.Tensor4D;
      const forward = (kernel: tf.Tensor) =>
        tf.conv2dTranspose(x, kernel as tf.Tensor4D, [2, 8, 8, 2], 2, 'same');
      return [forward(weights), tf.grad((kernel: tf.Tensor) => tf.sum(tf.square(forward(kernel))))(weights)];
    });
  });
});

interface DepthwiseCase {
  name: string;
  input: [number, number, number, number];
  filter: [number, number, number, number];
  stride: number;
  pad: 'same' | 'valid' | [[0, 0], [number, number], [number, number], [0, 0]];
}

const depthwiseCases: DepthwiseCase[] = [
  { name: '3x3 stride 1 same', input: [2, 7, 7, 4], filter: [3, 3, 4, 1], stride: 1, pad: 'same' },
  { name: '3x3 stride 2 same', input: [2, 9, 9, 3], filter: [3, 3, 3, 1], stride: 2, pad: 'same' },
  {
    name: '3x3 stride 2 valid, even size',
    input: [2, 8, 8, 3],
    filter: [3, 3, 3, 1],
    stride: 2,
    pad: 'valid',
  },
  { name: '7x7 stride 1 same', input: [1, 9, 10, 5], filter: [7, 7, 5, 1], stride: 1, pad: 'same' },
  { name: '7x7 stride 2 same', input: [1, 11, 11, 2], filter: [7, 7, 2, 1], stride: 2, pad: 'same' },
  { name: 'channel multiplier 3', input: [2, 6, 6, 2], filter: [3, 3, 2, 3], stride: 1, pad: 'valid' },
  { name: 'multiplier 2, stride 2 same', input: [2, 7, 7, 3], filter: [3, 3, 3, 2], stride: 2, pad: 'same' },
  {
    name: 'explicit padding larger than the kernel',
    input: [1, 5, 6, 2],
    filter: [3, 3, 2, 1],
    stride: 2,
    pad: [
      [0, 0],
      [3, 1],
      [0, 4],
      [0, 0],
    ],
  },
];

describe('wasm depthwise convolution backprops', () => {
  for (const { name, input, filter, stride, pad } of depthwiseCases) {
    it(`gives cpu's depthwiseConv2d gradients: ${name}`, async () => {
      await expectWasmMatchesCpu(() => {
        const x = normals(7, input) as tf.Tensor4D;
        const weights = normals(8, filter) as tf.Tensor4D;
        const forward = (image: tf.Tensor4D, kernel: tf.Tensor4D) =>
          tf.depthwiseConv2d(image, kernel, stride, pad);
        const loss = (image: tf.Tensor4D, kernel: tf.Tensor4D) => {
          const output = forward(image, kernel);
          return tf.sum(tf.mul(output, tf.sin(output)));
        };
        const [dx, dw] = tf.grads(loss as (...inputs: tf.Tensor[]) => tf.Tensor)([x, weights]);
        return [forward(x, weights), dx!, dw!];
      });
    });
  }

  it('computes dilated backprops (tfjs has no gradient for them; the kernels take the attribute)', async () => {
    // cpu's kernels ignore dilations, so on cpu the reference convolves with the kernel spread by zeros
    // (dilation 1), whose filter gradient at the taps equals the dilated one
    await expectWasmMatchesCpu(() => {
      const x = normals(9, [2, 9, 9, 3]);
      const filter = normals(10, [3, 3, 3, 2]);
      const dy = normals(11, [2, 5, 5, 6]);
      const engine = tf.engine();
      const attrs = { strides: [1, 1], pad: 'valid' };
      if (tf.getBackend() === 'cpu') {
        const spreadBuffer = tf.buffer([5, 5, 3, 2]);
        const values = filter.arraySync() as number[][][][];
        values.forEach((row, tapRow) => {
          row.forEach((column, tapColumn) => {
            column.forEach((channel, channelIndex) => {
              channel.forEach((value, multiplierIndex) => {
                spreadBuffer.set(value, 2 * tapRow, 2 * tapColumn, channelIndex, multiplierIndex);
              });
            });
          });
        });
        const spread = spreadBuffer.toTensor();
        const dx = engine.runKernel(
          'DepthwiseConv2dNativeBackpropInput',
          { dy, filter: spread },
          { ...attrs, dilations: [1, 1], inputShape: [2, 9, 9, 3] },
        ) as tf.Tensor;
        const spreadGradient = engine.runKernel(
          'DepthwiseConv2dNativeBackpropFilter',
          { x, dy },
          { ...attrs, dilations: [1, 1], filterShape: [5, 5, 3, 2] },
        ) as tf.Tensor;
        return [dx, tf.stridedSlice(spreadGradient, [0, 0, 0, 0], [5, 5, 3, 2], [2, 2, 1, 1])];
      }
      const dx = engine.runKernel(
        'DepthwiseConv2dNativeBackpropInput',
        { dy, filter },
        { ...attrs, dilations: [2, 2], inputShape: [2, 9, 9, 3] },
      ) as tf.Tensor;
      const dw = engine.runKernel(
        'DepthwiseConv2dNativeBackpropFilter',
        { x, dy },
        { ...attrs, dilations: [2, 2], filterShape: [3, 3, 3, 2] },
      ) as tf.Tensor;
      return [dx, dw];
    });
  });
});

describe('wasm UnsortedSegmentSum', () => {
  it('sums duplicate segment ids and drops ids out of range, as cpu', async () => {
    await expectWasmMatchesCpu(() => {
      const values = normals(14, [7, 3, 2]);
      const all = tf.unsortedSegmentSum(values, tf.tensor1d([2, 0, 2, 2, 4, 0, 1], 'int32'), 6);
      const some = tf.unsortedSegmentSum(values, tf.tensor1d([1, -1, 1, 9, 0, 3, 1], 'int32'), 4);
      const flat = tf.unsortedSegmentSum(
        tf.tensor1d([1, 2, 3, 4], 'int32'),
        tf.tensor1d([3, 3, 0, 3], 'int32'),
        5,
      );
      return [all, some, flat];
    });
  });

  it("gives cpu's gradient of gather (an embedding lookup with repeated tokens)", async () => {
    await expectWasmMatchesCpu(() => {
      const table = normals(15, [10, 4]);
      const tokens = tf.tensor2d(
        [
          [1, 3, 3, 9],
          [0, 1, 1, 1],
        ],
        [2, 4],
        'int32',
      );
      const weights = normals(16, [2, 4, 4]);
      return tf.grad((embedding: tf.Tensor) => tf.sum(tf.mul(tf.gather(embedding, tokens), weights)))(table);
    });
  });
});

describe('wasm OneHot', () => {
  it('gives float and int one-hots with any on and off values, as cpu', async () => {
    await expectWasmMatchesCpu(() => {
      const indices = tf.tensor2d(
        [
          [0, 2],
          [4, 1],
        ],
        [2, 2],
        'int32',
      );
      return [
        tf.oneHot(indices, 5),
        tf.oneHot(indices, 5, 0.9, 0.025, 'float32'),
        tf.oneHot(indices, 5, 3, -1, 'int32'),
        tf.oneHot(tf.tensor1d([1, 0], 'int32'), 3, 1, 0, 'int32'),
      ];
    });
  });
});

describe('wasm Transpose of rank > 4 and Slice', () => {
  it('transposes rank-5 and rank-6 tensors as cpu, for every kind of permutation', async () => {
    const permutations: Array<[number[], number[]]> = [
      [
        [2, 3, 4, 5, 6],
        [4, 2, 0, 3, 1],
      ],
      [
        [2, 3, 4, 5, 6],
        [0, 3, 1, 4, 2],
      ],
      [
        [2, 3, 4, 5, 6],
        [1, 2, 0, 3, 4],
      ],
      [
        [2, 1, 4, 5, 3],
        [4, 3, 2, 1, 0],
      ],
      [
        [2, 3, 2, 3, 2, 3],
        [0, 2, 4, 1, 3, 5],
      ],
      [
        [3, 2, 4, 2, 3, 2],
        [5, 3, 1, 4, 2, 0],
      ],
      [
        [2, 3, 4, 5, 6],
        [0, 1, 2, 3, 4],
      ],
    ];
    await expectWasmMatchesCpu(() =>
      permutations.flatMap(([shape, perm], index) => [
        tf.transpose(normals(20 + index, shape), perm),
        tf.transpose(tf.cast(tf.mul(normals(30 + index, shape), 100), 'int32'), perm),
      ]),
    );
  });

  it('slices tensors of rank 1 to 6 and of every dtype as cpu', async () => {
    const slices: Array<[number[], number[], number[]]> = [
      [[7], [2], [4]],
      [
        [5, 40],
        [1, 3],
        [3, 30],
      ],
      [
        [4, 5, 6],
        [0, 1, 0],
        [4, 3, 6],
      ],
      [
        [3, 4, 5, 20],
        [1, 0, 2, 1],
        [2, 4, 2, 18],
      ],
      [
        [2, 3, 4, 5, 6],
        [1, 0, 1, 2, 3],
        [1, 3, 2, 3, 2],
      ],
      [
        [2, 3, 4, 5, 6],
        [0, 1, 0, 0, 0],
        [2, 1, 4, 5, 6],
      ],
      [
        [2, 3, 4, 5, 6],
        [0, 0, 0, 0, 4],
        [2, 3, 4, 5, 2],
      ],
      [
        [3, 3, 3, 3, 3, 3],
        [1, 1, 1, 1, 1, 1],
        [2, 1, 2, 1, 2, 1],
      ],
      [
        [2, 1, 4, 1, 6],
        [1, 0, 2, 0, 1],
        [-1, 1, 2, 1, -1],
      ],
      [
        [4, 3],
        [1, 0],
        [0, 3],
      ],
    ];
    await expectWasmMatchesCpu(() =>
      slices.flatMap(([shape, begin, size], index) => {
        const values = normals(40 + index, shape);
        return [
          tf.slice(values, begin, size),
          tf.slice(tf.cast(tf.mul(values, 100), 'int32'), begin, size),
          tf.slice(tf.greater(values, 0), begin, size),
        ];
      }),
    );
  });

  it('gives the gradient of a rank-5 attention-style reshuffle as cpu', async () => {
    await expectWasmMatchesCpu(() => {
      const qkv = normals(50, [2, 5, 3, 2, 4]);
      const weights = normals(51, [3, 2, 2, 5, 4]);
      return tf.grad((input: tf.Tensor) => {
        const heads = tf.transpose(input, [2, 0, 3, 1, 4]);
        const queries = tf.slice(heads, [0, 0, 0, 0, 0], [1, 2, 2, 5, 4]);
        return tf.sum(
          tf.mul(tf.concat([queries, tf.slice(heads, [1, 0, 0, 0, 0], [2, 2, 2, 5, 4])], 0), weights),
        );
      })(qkv);
    });
  });
});

describe('wasm binary kernels with broadcasting, and Tile', () => {
  it('broadcast as cpu for every kind of shape pair and dtype', async () => {
    const pairs: Array<[number[], number[]]> = [
      [[6, 20], [20]],
      [
        [6, 20],
        [1, 20],
      ],
      [
        [6, 20],
        [6, 1],
      ],
      [
        [3, 1, 20],
        [1, 4, 20],
      ],
      [
        [2, 5, 3, 4],
        [5, 1, 4],
      ],
      [[20], [3, 1]],
      [[2, 3, 17], []],
      [
        [2, 1, 1],
        [1, 3, 5],
      ],
    ];
    await expectWasmMatchesCpu(() =>
      pairs.flatMap(([shapeA, shapeB], index) => {
        const a = normals(60 + index, shapeA);
        const b = tf.add(tf.abs(normals(70 + index, shapeB)), 0.5);
        const integers = tf.cast(tf.mul(b, 10), 'int32');
        return [
          tf.add(a, b),
          tf.sub(b, a),
          tf.mul(a, b),
          tf.div(a, b),
          tf.maximum(a, b),
          tf.squaredDifference(a, b),
          tf.cast(tf.greater(a, b), 'float32'),
          tf.mul(tf.cast(tf.mul(a, 10), 'int32'), integers),
        ];
      }),
    );
  });

  it('pads as cpu, with any constant, rank and dtype', async () => {
    await expectWasmMatchesCpu(() => [
      tf.pad(normals(85, [2, 5, 5, 3]), [
        [0, 0],
        [1, 2],
        [3, 0],
        [0, 0],
      ]),
      tf.pad(normals(86, [1, 16]), [
        [0, 0],
        [2, 1],
      ]),
      tf.pad(
        normals(87, [3, 4, 20]),
        [
          [1, 0],
          [0, 0],
          [0, 5],
        ],
        1.5,
      ),
      tf.pad(tf.tensor1d([1, 2, 3], 'int32'), [[2, 2]], 7),
      tf.pad(normals(88, [2, 3, 2, 2, 3]), [
        [0, 1],
        [1, 0],
        [0, 0],
        [2, 0],
        [0, 1],
      ]),
    ]);
  });

  it('tiles as cpu', async () => {
    await expectWasmMatchesCpu(() => [
      tf.tile(normals(80, [1, 8]), [50, 1]),
      tf.tile(normals(81, [2, 3, 4]), [2, 1, 3]),
      tf.tile(tf.tensor1d([1, 2, 3], 'int32'), [4]),
    ]);
  });

  it("gives cpu's gradients through broadcast products (a LayerNorm-style scale and shift)", async () => {
    await expectWasmMatchesCpu(() => {
      const x = normals(82, [4, 6, 8]);
      const scale = normals(83, [8]);
      const shift = normals(84, [8]);
      const [dx, dScale, dShift] = tf.grads((input: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) =>
        tf.sum(tf.square(tf.add(tf.mul(input, gamma), beta))),
      )([x, scale, shift]);
      return [dx!, dScale!, dShift!];
    });
  });
});

describe('wasm BatchMatMul of batches of small matrices', () => {
  it('gives cpu products and gradients for every transpose combination', async () => {
    await expectWasmMatchesCpu(() => {
      const results: tf.Tensor[] = [];
      for (const [transposeA, transposeB] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const a = normals(90, transposeA ? [3, 4, 5, 7] : [3, 4, 7, 5]);
        const b = normals(91, transposeB ? [3, 4, 6, 5] : [3, 4, 5, 6]);
        const product = (left: tf.Tensor, right: tf.Tensor) => tf.matMul(left, right, transposeA, transposeB);
        const [dA, dB] = tf.grads((left: tf.Tensor, right: tf.Tensor) =>
          tf.sum(tf.square(product(left, right))),
        )([a, b]);
        results.push(product(a, b), dA!, dB!);
      }
      // a batch larger than one chunk of the elementwise path, and matrices large enough for XNNPACK
      results.push(tf.matMul(normals(92, [300, 17, 40]), normals(93, [300, 40, 17])));
      results.push(tf.matMul(normals(94, [2, 128, 96]), normals(95, [2, 96, 128])));
      return results;
    });
  });
});
