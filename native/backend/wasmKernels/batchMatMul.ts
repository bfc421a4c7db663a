import { broadcast_util, type KernelConfig, type KernelFunc } from '@tensorflow/tfjs-core';
import {
  free,
  run,
  sizeOf,
  stockKernel,
  view,
  type KernelArgs,
  type TensorInfo,
} from './kernelCall.js';
import { transposeLastTwo } from './transposeLastTwo.js';

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/**
 * Below this many multiply-adds the shipped kernel's simple loop is as quick as the detour through
 * XNNPACK (operator creation, weight packing, copies), so small products keep it.
 */
export const SMALL_PRODUCT = 16_384;

interface Plan {
  batchA: number;
  batchB: number;
  m: number;
  k: number;
  n: number;
  outShape: number[];
}

function plan(a: TensorInfo, b: TensorInfo, { transposeA, transposeB }: MatMulAttrs): Plan | null {
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return null;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const k = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kB = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (k !== kB) return null; // let the shipped kernel raise its own error
  const batchA = sizeOf(a.shape.slice(0, -2));
  const batchB = sizeOf(b.shape.slice(0, -2));
  // Batches pair up one to one, or one side is shared; other broadcasts stay with the shipped kernel.
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
  const outer = broadcast_util.assertAndGetBroadcastShape(
    a.shape.slice(0, -2),
    b.shape.slice(0, -2),
  );
  return { batchA, batchB, m, k, n, outShape: [...outer, m, n] };
}

/**
 * BatchMatMul that always reaches XNNPACK's fast product. The shipped kernel takes that path only for
 * an untransposed product with no batch (about 25 GFLOP/s here); a transposed operand or a batch sends
 * it to a plain loop at 0.4–2 GFLOP/s, and a dense layer's backward pass is exactly two transposed
 * products. So: transpose explicitly, fold a batch of A into its rows when B is shared, and run one
 * plain product per batch entry otherwise.
 */
export function batchMatMul(args: KernelArgs<'a' | 'b', MatMulAttrs>): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b } = inputs;
  const shipped = stockKernel('BatchMatMul') as unknown as (x: typeof args) => TensorInfo;
  const p = plan(a, b, attrs);
  const alreadyFast = !attrs.transposeA && !attrs.transposeB && p?.batchA === 1 && p.batchB === 1;
  if (
    !p ||
    alreadyFast ||
    a.dtype !== 'float32' ||
    b.dtype !== 'float32' ||
    Math.max(p.batchA, p.batchB) * p.m * p.k * p.n < SMALL_PRODUCT
  )
    return shipped(args);
  if (p.batchB === 1 && attrs.transposeB && (p.batchA === 1 || !attrs.transposeA)) {
    const swapped = viaTransposedProduct(args, p);
    if (swapped) return swapped;
  }

  const aT = attrs.transposeA ? transposeLastTwo(backend, a) : null;
  const bT = attrs.transposeB ? transposeLastTwo(backend, b) : null;
  const A = aT ?? a;
  const B = bT ?? b;
  const plain = { transposeA: false, transposeB: false };
  let out: TensorInfo;
  if (p.batchB === 1) {
    const rows = run(
      backend,
      'BatchMatMul',
      { a: view(A, [p.batchA * p.m, p.k]), b: view(B, [p.k, p.n]) },
      plain,
    );
    out = { ...rows, shape: p.outShape };
  } else {
    out = perBatch(args.backend, A, B, p);
  }
  if (aT) free(backend, aT);
  if (bT) free(backend, bT);
  return out;
}

// Relative costs per element, measured here: the tiled transpose, and XNNPACK packing a product's
// right operand (which it does on every call, since weights change every step).
const TRANSPOSE_COST = 3.5;
const PACK_COST = 1.7;

/**
 * A·Bᵀ computed as (B·A')ᵀ when that moves less memory: B is then the left operand, which XNNPACK
 * reads in place, so the big weight matrix of a dense layer's input gradient (dy·Wᵀ) is neither
 * transposed nor packed; only the batch-sized operand and result are. Returns null when the direct
 * route (transpose B, then a plain product) is cheaper.
 */
function viaTransposedProduct(
  args: KernelArgs<'a' | 'b', MatMulAttrs>,
  p: Plan,
): TensorInfo | null {
  const { inputs, backend, attrs } = args;
  const rows = p.batchA * p.m;
  const { k, n } = p;
  const direct =
    (attrs.transposeA ? TRANSPOSE_COST * rows * k : 0) + (TRANSPOSE_COST + PACK_COST) * n * k;
  const swapped =
    (attrs.transposeA ? 0 : TRANSPOSE_COST * rows * k) +
    PACK_COST * rows * k +
    TRANSPOSE_COST * rows * n;
  if (swapped >= direct) return null;
  // B·A' where A' is A transposed to [k, rows]: for transposeA it already is.
  const aPrime = attrs.transposeA
    ? view(inputs.a, [k, rows])
    : transposeLastTwo(backend, view(inputs.a, [rows, k]));
  const product = run(
    backend,
    'BatchMatMul',
    { a: view(inputs.b, [n, k]), b: aPrime },
    { transposeA: false, transposeB: false },
  );
  const out = transposeLastTwo(backend, view(product, [n, rows]));
  free(backend, product);
  if (!attrs.transposeA) free(backend, aPrime);
  return { ...out, shape: p.outShape };
}

/** One plain product per batch entry, each written into its place in one output. */
function perBatch(
  backend: KernelArgs['backend'],
  A: TensorInfo,
  B: TensorInfo,
  p: Plan,
): TensorInfo {
  const batch = Math.max(p.batchA, p.batchB);
  const out = backend.makeOutput(p.outShape, 'float32');
  const sliceOf = (x: TensorInfo, i: number, r: number, c: number) =>
    run(backend, 'Slice', { x: view(x, [batch, r, c]) }, { begin: [i, 0, 0], size: [1, r, c] });
  for (let i = 0; i < batch; i++) {
    const ai = p.batchA === 1 ? null : sliceOf(A, i, p.m, p.k);
    const bi = sliceOf(B, i, p.k, p.n);
    const ci = run(
      backend,
      'BatchMatMul',
      { a: view(ai ?? A, [p.m, p.k]), b: view(bi, [p.k, p.n]) },
      { transposeA: false, transposeB: false },
    );
    const size = p.m * p.n;
    const dst = backend.typedArrayFromHeap({ ...out, shape: [sizeOf(p.outShape)] });
    dst.set(backend.typedArrayFromHeap({ ...ci, shape: [size] }), i * size);
    free(backend, ci, bi);
    if (ai) free(backend, ai);
  }
  return out;
}

interface FusedAttrs extends MatMulAttrs {
  activation: string;
  leakyreluAlpha?: number;
}

/**
 * _FusedMatMul (dense layers' forward product with bias and activation) has the same slow
 * transposed path; layers never transpose here, but tfjs ops may, so transpose explicitly too.
 */
export function fusedMatMul(
  args: KernelArgs<'a' | 'b' | 'bias' | 'preluActivationWeights', FusedAttrs>,
): TensorInfo {
  const { inputs, backend, attrs } = args;
  const shipped = stockKernel('_FusedMatMul') as unknown as (x: typeof args) => TensorInfo;
  if (
    (!attrs.transposeA && !attrs.transposeB) ||
    inputs.a.dtype !== 'float32' ||
    inputs.b.dtype !== 'float32'
  )
    return shipped(args);
  const aT = attrs.transposeA ? transposeLastTwo(backend, inputs.a) : null;
  const bT = attrs.transposeB ? transposeLastTwo(backend, inputs.b) : null;
  const out = shipped({
    inputs: { ...inputs, a: aT ?? inputs.a, b: bT ?? inputs.b },
    backend,
    attrs: { ...attrs, transposeA: false, transposeB: false },
  });
  if (aT) free(backend, aT);
  if (bT) free(backend, bT);
  return out;
}

export const batchMatMulKernel = (): Omit<KernelConfig, 'backendName'> => ({
  kernelName: 'BatchMatMul',
  kernelFunc: batchMatMul as unknown as KernelFunc,
});

export const fusedMatMulKernel = (): Omit<KernelConfig, 'backendName'> => ({
  kernelName: '_FusedMatMul',
  kernelFunc: fusedMatMul as unknown as KernelFunc,
});
