import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { getKernel, type Tensor, type Tensor4D } from '@tensorflow/tfjs-core';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { SMALL_PRODUCT } from '../../native/backend/wasmKernels/batchMatMul.js';
import {
  installWasmKernels,
  stockKernel,
  WASM_KERNEL_NAMES,
} from '../../native/backend/wasmKernels/index.js';
import { assertSameOnWasm, randomValues } from '../helpers/backendCompare.js';

let tf: Tf;
let seed = 1;

before(async () => {
  tf = (await initBackend({ prefer: 'wasm' })).tf;
});

function rand(shape: number[]): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(randomValues(size, seed++), shape);
}

/** Gradients of Σ f(inputs)·r for a fixed random r: every output element gets a different weight. */
function gradsOf(f: (...xs: Tensor[]) => Tensor, shapes: number[][]): () => Tensor[] {
  return () => {
    seed = 1000;
    const inputs = shapes.map(rand);
    const outShape = f(...inputs).shape;
    const r = rand(outShape);
    return [f(...inputs), ...tf.grads((...xs: Tensor[]) => tf.sum(tf.mul(f(...xs), r)))(inputs)];
  };
}

describe('wasm matMul (BatchMatMul, _FusedMatMul)', () => {
  const forms: [boolean, boolean][] = [
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ];
  const shape = (rows: number, cols: number, t: boolean, batch: number[] = []) =>
    t ? [...batch, cols, rows] : [...batch, rows, cols];

  for (const [ta, tb] of forms) {
    it(`2-D, transposeA=${ta} transposeB=${tb}, large and small products`, () => {
      for (const [m, k, n] of [
        [64, 96, 80],
        [3, 5, 7],
        [1, 300, 200],
      ] as const) {
        assertSameOnWasm(tf, () => {
          seed = 1;
          return tf.matMul(rand(shape(m, k, ta)), rand(shape(k, n, tb)), ta, tb);
        });
      }
    });

    it(`batched, transposeA=${ta} transposeB=${tb}: paired, shared A, shared B, rank 4`, () => {
      const cases: [number[], number[]][] = [
        [[3], [3]],
        [[3], []],
        [[], [3]],
        [
          [2, 3],
          [2, 3],
        ],
        [[1], [4]],
      ];
      for (const [ba, bb] of cases) {
        assertSameOnWasm(tf, () => {
          seed = 1;
          return tf.matMul(rand(shape(24, 40, ta, ba)), rand(shape(40, 32, tb, bb)), ta, tb);
        });
      }
    });
  }

  it('small products keep the shipped kernel, large ones ours', () => {
    assert.ok(3 * 5 * 7 < SMALL_PRODUCT && 64 * 96 * 80 > SMALL_PRODUCT);
  });

  it("gives a dense layer's gradients (both transposed products) as cpu does", () => {
    assertSameOnWasm(
      tf,
      gradsOf(
        (x, w) => tf.relu(tf.matMul(x, w)),
        [
          [64, 300],
          [300, 200],
        ],
      ),
    );
  });

  it('fused matMul with bias, activation and transposed operands', () => {
    for (const [ta, tb] of forms) {
      assertSameOnWasm(tf, () => {
        seed = 1;
        return tf.fused.matMul({
          a: rand(shape(50, 70, ta)),
          b: rand(shape(70, 60, tb)),
          transposeA: ta,
          transposeB: tb,
          bias: rand([60]),
          activation: 'relu',
        });
      });
    }
  });
});

interface ConvCase {
  x: [number, number, number, number];
  /** [fh, fw, out] for conv2d, [fh, fw, multiplier] for depthwise. */
  f: [number, number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number;
}

const CONV_CASES: ConvCase[] = [
  { x: [2, 9, 9, 3], f: [3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 9, 9, 3], f: [3, 3, 4], strides: 1, pad: 'valid' },
  { x: [2, 10, 10, 3], f: [3, 3, 4], strides: 2, pad: 'same' },
  { x: [2, 10, 10, 3], f: [3, 3, 4], strides: 2, pad: 'valid' },
  { x: [2, 11, 11, 2], f: [5, 5, 3], strides: 3, pad: 'valid' },
  { x: [2, 11, 11, 2], f: [5, 5, 3], strides: 3, pad: 'same' },
  { x: [2, 8, 8, 3], f: [3, 3, 2], strides: 2, pad: 1 },
  { x: [2, 9, 12, 3], f: [3, 2, 4], strides: [2, 1], pad: 'same' },
  { x: [2, 9, 12, 3], f: [2, 3, 4], strides: [1, 3], pad: 'valid' },
  { x: [3, 7, 7, 4], f: [1, 1, 5], strides: 2, pad: 'valid' },
  { x: [2, 6, 6, 2], f: [6, 6, 3], strides: 1, pad: 'valid' },
];

const label = (c: ConvCase) =>
  `x ${c.x.join('×')}, filter ${c.f[0]}×${c.f[1]}, strides ${String(c.strides)}, pad ${c.pad}`;

describe('wasm Conv2DBackpropFilter and Conv2DBackpropInput', () => {
  for (const c of CONV_CASES) {
    it(label(c), () => {
      assertSameOnWasm(
        tf,
        gradsOf(
          (x, f) => tf.conv2d(x as Tensor4D, f as Tensor4D, c.strides, c.pad),
          [c.x, [c.f[0], c.f[1], c.x[3], c.f[2]]],
        ),
      );
    });
  }

  it("the catalogue CNN's layers: 28×28×1 → 5×5×16 and 14×14×16 → 5×5×32, 'same'", () => {
    for (const [x, f] of [
      [
        [4, 28, 28, 1],
        [5, 5, 1, 16],
      ],
      [
        [4, 14, 14, 16],
        [5, 5, 16, 32],
      ],
    ]) {
      assertSameOnWasm(
        tf,
        gradsOf((a, b) => tf.conv2d(a as Tensor4D, b as Tensor4D, 1, 'same'), [x!, f!]),
      );
    }
  });
});

describe('wasm DepthwiseConv2dNativeBackpropFilter and …BackpropInput', () => {
  for (const c of CONV_CASES) {
    for (const mult of [1, 2]) {
      it(`${label(c)}, channel multiplier ${mult}`, () => {
        assertSameOnWasm(
          tf,
          gradsOf(
            (x, f) => tf.depthwiseConv2d(x as Tensor4D, f as Tensor4D, c.strides, c.pad),
            [c.x, [c.f[0], c.f[1], c.x[3], mult]],
          ),
        );
      });
    }
  }
});

describe('wasm UnsortedSegmentSum', () => {
  const ids = (values: number[]) => tf.tensor1d(values, 'int32');

  it('sums rows that share a segment, leaves empty segments zero', () => {
    assertSameOnWasm(tf, () => {
      seed = 1;
      return tf.unsortedSegmentSum(rand([7, 5]), ids([0, 2, 2, 5, 0, 2, 1]), 8);
    });
  });

  it('drops ids outside [0, numSegments) as TensorFlow does', () => {
    assertSameOnWasm(tf, () => {
      seed = 1;
      return tf.unsortedSegmentSum(rand([6, 3]), ids([-1, 1, 4, 1, 9, 0]), 4);
    });
    assertSameOnWasm(tf, () => {
      seed = 1;
      return tf.unsortedSegmentSum(rand([3, 3]), ids([-1, 7, 9]), 4);
    });
  });

  it('handles 1-D data, rows of any rank, and int32 data', () => {
    assertSameOnWasm(tf, () => {
      seed = 1;
      return [
        tf.unsortedSegmentSum(rand([5]), ids([1, 1, 0, 3, 1]), 4),
        tf.unsortedSegmentSum(rand([4, 3, 2]), ids([2, 0, 2, 2]), 3),
        tf.unsortedSegmentSum(tf.tensor1d([1, 2, 3, 4], 'int32'), ids([0, 1, 0, 1]), 2),
      ];
    });
  });

  it("gives an embedding's gradient (gather with repeated ids) as cpu does", () => {
    assertSameOnWasm(
      tf,
      gradsOf((table) => tf.gather(table, ids([3, 1, 3, 0, 29, 3, 1, 7])), [[30, 16]]),
    );
  });
});

describe('wasm kernels free what they allocate', () => {
  it('no wasm buffers are left after every added kernel has run', () => {
    tf.setBackend('wasm');
    const backend = tf.backend();
    const before = backend.numDataIds();
    tf.tidy(() => {
      gradsOf(
        (x, w) => tf.matMul(x, w, true, true),
        [
          [96, 64],
          [80, 96],
        ],
      )();
      gradsOf(
        (x, w) => tf.matMul(x, w),
        [
          [3, 64, 96],
          [3, 96, 80],
        ],
      )();
      gradsOf(
        (x, f) => tf.conv2d(x as Tensor4D, f as Tensor4D, 2, 'same'),
        [
          [2, 9, 9, 3],
          [3, 3, 3, 4],
        ],
      )();
      gradsOf(
        (x, f) => tf.depthwiseConv2d(x as Tensor4D, f as Tensor4D, 2, 'valid'),
        [
          [2, 9, 9, 3],
          [3, 3, 3, 2],
        ],
      )();
      tf.unsortedSegmentSum(rand([4, 3]), tf.tensor1d([0, 5, 1, 0], 'int32'), 3);
    });
    assert.equal(backend.numDataIds(), before);
  });
});

describe('wasm kernel registration', () => {
  it('is idempotent and keeps the shipped kernels reachable', () => {
    const before = WASM_KERNEL_NAMES.map((n) => getKernel(n, 'wasm')!.kernelFunc);
    installWasmKernels();
    installWasmKernels();
    const after = WASM_KERNEL_NAMES.map((n) => getKernel(n, 'wasm')!.kernelFunc);
    assert.deepEqual(after, before);
    assert.notEqual(stockKernel('BatchMatMul'), getKernel('BatchMatMul', 'wasm')!.kernelFunc);
    assert.ok(WASM_KERNEL_NAMES.includes('Conv2DBackpropFilter'));
    assert.ok(WASM_KERNEL_NAMES.includes('UnsortedSegmentSum'));
  });
});
