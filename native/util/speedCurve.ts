/**
 * One point of a measured speed curve: training GFLOP/s at a micro-batch of `rows` samples, the three
 * products of a dense layer's training together, and, where measured, each one's own: the forward
 * y = x·W, the input gradient dx = dy·Wᵀ and the weight gradient dW = xᵀ·dy (whose inner dimension is
 * the rows: at 16 rows it ran at half the others' rate on wasm).
 */
export interface CurvePoint {
  rows: number;
  gflops: number;
  forward?: number;
  inputGrad?: number;
  weightGrad?: number;
}

/** Each product's rate as a fraction of the three together (1, 1, 1: one rate for all). */
export interface ProductRatios {
  forward: number;
  inputGrad: number;
  weightGrad: number;
}

const PRODUCTS = ['forward', 'inputGrad', 'weightGrad'] as const;

/**
 * GFLOP/s at `rows`: the curve interpolated in log(rows) and clamped at its ends, or `flat` where
 * nothing was measured by rows. The planner and the agent's backend choice read speed the same way.
 */
export function speedOnCurve(
  curve: readonly CurvePoint[] | undefined,
  flat: number,
  rows: number,
): number {
  if (!curve || curve.length === 0) return flat;
  const pts = [...curve].sort((a, b) => a.rows - b.rows);
  if (rows <= pts[0]!.rows) return pts[0]!.gflops;
  if (rows >= pts.at(-1)!.rows) return pts.at(-1)!.gflops;
  const i = pts.findIndex((p) => p.rows >= rows);
  const a = pts[i - 1]!;
  const b = pts[i]!;
  const t = (Math.log(rows) - Math.log(a.rows)) / (Math.log(b.rows) - Math.log(a.rows));
  return a.gflops + t * (b.gflops - a.gflops);
}

/**
 * Each product's rate at `rows` relative to the curve's combined rate there, each interpolated as
 * speedOnCurve does; null where some point lacks a product's figure (a report from before they were
 * measured).
 */
export function productRatiosOnCurve(
  curve: readonly CurvePoint[] | undefined,
  rows: number,
): ProductRatios | null {
  if (!curve || curve.length === 0) return null;
  if (!curve.every((p) => PRODUCTS.every((k) => (p[k] ?? 0) > 0))) return null;
  const combined = speedOnCurve(curve, 0, rows);
  if (!(combined > 0)) return null;
  const at = (k: (typeof PRODUCTS)[number]) =>
    speedOnCurve(
      curve.map((p) => ({ rows: p.rows, gflops: p[k]! })),
      0,
      rows,
    ) / combined;
  return { forward: at('forward'), inputGrad: at('inputGrad'), weightGrad: at('weightGrad') };
}
