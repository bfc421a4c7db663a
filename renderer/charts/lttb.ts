/**
 * Largest-Triangle-Three-Buckets (Steinarsson 2013): picks `threshold` of the points so the drawn line
 * keeps the shape of the full series — peaks and dips survive, unlike every-nth sampling. Works on
 * parallel x/y arrays and answers indices, so callers can carry other columns along. Points whose y is
 * not finite are skipped (a NaN loss must not poison a bucket's average).
 */
export function lttbIndices(
  xs: ArrayLike<number>,
  ys: ArrayLike<number>,
  threshold: number,
  from = 0,
  to = xs.length,
): number[] {
  // Positions of the finite points. When all are finite (the usual case) position j is from + j and
  // nothing is copied: a live 100,000-step run is downsampled on every update.
  let list: number[] | null = null;
  for (let i = from; i < to; i++)
    if (!Number.isFinite(ys[i]!)) {
      list = [];
      for (let k = from; k < to; k++) if (Number.isFinite(ys[k]!)) list.push(k);
      break;
    }
  const n = list ? list.length : Math.max(0, to - from);
  const at = list ? (j: number) => list[j]! : (j: number) => from + j;
  if (threshold >= n || threshold < 3) {
    if (threshold < 3 && n > 2) return [at(0), at(n - 1)];
    return Array.from({ length: n }, (_, j) => at(j));
  }
  const out: number[] = [at(0)];
  const every = (n - 2) / (threshold - 2);
  let a = 0;
  for (let i = 0; i < threshold - 2; i++) {
    // The next bucket's average is the third point of the triangle.
    const nextStart = Math.floor((i + 1) * every) + 1;
    const nextEnd = Math.min(Math.floor((i + 2) * every) + 1, n);
    let avgX = 0;
    let avgY = 0;
    for (let j = nextStart; j < nextEnd; j++) {
      avgX += xs[at(j)]!;
      avgY += ys[at(j)]!;
    }
    const len = nextEnd - nextStart;
    avgX /= len;
    avgY /= len;
    const start = Math.floor(i * every) + 1;
    const end = Math.floor((i + 1) * every) + 1;
    const ax = xs[at(a)]!;
    const ay = ys[at(a)]!;
    let best = start;
    let bestArea = -1;
    for (let j = start; j < end; j++) {
      const p = at(j);
      const area = Math.abs((ax - avgX) * (ys[p]! - ay) - (ax - xs[p]!) * (avgY - ay));
      if (area > bestArea) {
        bestArea = area;
        best = j;
      }
    }
    out.push(at(best));
    a = best;
  }
  out.push(at(n - 1));
  return out;
}

/** First index with xs[i] >= x (xs ascending). */
export function lowerBound(xs: ArrayLike<number>, x: number, n = xs.length): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
