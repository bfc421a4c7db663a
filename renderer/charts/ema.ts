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

/**
 * The same smoothing kept up to date as an append-only series grows: only the new points are computed
 * (the average runs forward), so a 100,000-step run costs one step per update, not 100,000. Keep one
 * per column; the column may move to a bigger buffer, its values never change.
 */
export class EmaCache {
  private out = new Float64Array(0);
  private n = 0;
  private last = 0;
  private count = 0;
  private weight = NaN;

  update(ys: ArrayLike<number>, weight: number, n: number): Float64Array {
    if (weight !== this.weight || n < this.n) {
      this.n = 0;
      this.last = 0;
      this.count = 0;
      this.weight = weight;
    }
    if (this.out.length < n) {
      const next = new Float64Array(Math.max(n, this.out.length * 2, 256));
      next.set(this.out.subarray(0, this.n));
      this.out = next;
    }
    for (let i = this.n; i < n; i++) {
      const y = ys[i]!;
      if (!Number.isFinite(y)) {
        this.out[i] = NaN;
        continue;
      }
      this.last = this.last * weight + (1 - weight) * y;
      this.count++;
      this.out[i] = this.last / (weight === 1 ? 1 : 1 - Math.pow(weight, this.count));
    }
    this.n = n;
    return this.out;
  }
}
