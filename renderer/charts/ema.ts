/**
 * TensorBoard's smoothing: an exponential moving average debiased like Adam's moments, so the first
 * points are not dragged toward zero. `weight` 0 is the raw series, 0.99 very smooth. Non-finite values
 * are carried through as NaN without touching the average.
 */
export function debiasedEma(ys: ArrayLike<number>, weight: number, n = ys.length): Float64Array {
  const out = new Float64Array(n);
  let last = 0;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const y = ys[i]!;
    if (!Number.isFinite(y)) {
      out[i] = NaN;
      continue;
    }
    last = last * weight + (1 - weight) * y;
    count++;
    const debias = weight === 1 ? 1 : 1 - Math.pow(weight, count);
    out[i] = last / debias;
  }
  return out;
}
