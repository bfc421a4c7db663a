/** One point of a measured speed curve: training GFLOP/s at a micro-batch of `rows` samples. */
export interface CurvePoint {
  rows: number;
  gflops: number;
}

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
