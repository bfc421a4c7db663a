import type { StageCoster } from './stageCost.js';
import type { Machine } from './cluster.js';

/**
 * The balanced partitioner: contiguous stages, one machine per stage, minimising the bottleneck (the
 * slowest resource per micro-batch: a stage's forward + backward, or a link's transfer), subject to
 * every stage fitting its machine's free memory. Ties are broken by the sum of stage and link times
 * (which sets the pipeline's fill and drain).
 *
 * For a fixed machine order the split is exact dynamic programming over contiguous splits. Orders are
 * searched exhaustively (depth-first, sharing DP rows between orders with a common prefix, skipping
 * interchangeable machines, pruning by a lower bound) up to EXHAUSTIVE_MAX_MACHINES, and by local
 * search from good starting orders beyond.
 */
export const EXHAUSTIVE_MAX_MACHINES = 8;

export interface Split {
  /** bounds[k]..bounds[k+1] are stage k's layers; bounds[0] = 0, bounds[p] = layer count. */
  bounds: number[];
  /** Machine index (into problem.machines) of each stage. */
  machines: number[];
}

export interface Score {
  /** The bottleneck: seconds per micro-batch of the slowest stage or link. */
  max: number;
  /** Σ stage compute + link transfer and latency, per micro-batch. */
  sum: number;
}

export interface SearchResult {
  split: Split;
  score: Score;
  method: 'exhaustive' | 'heuristic';
  /** Machine orders (or order prefixes) evaluated. */
  evaluations: number;
}

const TOL = 1e-12;

/** Lexicographic (max, then sum) comparison with a relative tolerance, so float noise never decides. */
export function better(a: Score, b: Score): boolean {
  if (b.max === Infinity) return a.max < Infinity;
  if (a.max < b.max - TOL * Math.abs(b.max)) return true;
  if (a.max > b.max + TOL * Math.abs(b.max)) return false;
  return a.sum < b.sum - TOL * Math.abs(b.sum);
}

/** The DP rows for one machine order, reused across orders that share a prefix. */
class SplitDP {
  readonly max: Float64Array[];
  readonly sum: Float64Array[];
  readonly arg: Int32Array[];

  constructor(
    private readonly c: StageCoster,
    private readonly p: number,
    private readonly memFree: number[],
  ) {
    const n = c.n;
    this.max = Array.from({ length: p }, () => new Float64Array(n + 1));
    this.sum = Array.from({ length: p }, () => new Float64Array(n + 1));
    this.arg = Array.from({ length: p }, () => new Int32Array(n + 1));
  }

  /**
   * Row k: the best score for layers [0, i) on stages 0..k, stage k on machine m after machine prev.
   * Entries worse than `cap` are left infinite: no completion through them could beat the incumbent.
   */
  row(k: number, m: number, prev: number, cap: number): void {
    const { c, p } = this;
    const n = c.n;
    const mx = this.max[k]!;
    const sm = this.sum[k]!;
    const ag = this.arg[k]!;
    mx.fill(Infinity);
    sm.fill(Infinity);
    ag.fill(-1);
    const free = this.memFree[m]!;
    const lo = k + 1;
    const hi = n - (p - 1 - k);
    if (k === 0) {
      for (let i = lo; i <= hi; i++) {
        const t = c.computeSeconds(0, i, m);
        if (t > cap) break;
        if (c.memoryTotal(0, i, 0, p) > free) continue;
        mx[i] = t;
        sm[i] = t;
        ag[i] = 0;
      }
      return;
    }
    const pmx = this.max[k - 1]!;
    const psm = this.sum[k - 1]!;
    const link = c.problem.link(prev, m);
    const lat = link.latencySeconds;
    const bw = link.bytesPerSecond;
    const sent = c.boundaryBytes;
    for (let i = lo; i <= hi; i++) {
      let bMax = Infinity;
      let bSum = Infinity;
      let bArg = -1;
      for (let j = i - 1; j >= k; j--) {
        // Grows as j falls (recompute too), so the break below stays valid.
        const t = c.flopSeconds(j, i, m) + c.extraComputeSeconds(j, i, m);
        if (t > cap) break; // a longer stage only costs more
        const before = pmx[j]!;
        if (before === Infinity) continue;
        const x = sent[j - 1]! / bw;
        const v = Math.max(before, t, x);
        if (v > cap) continue;
        const s = psm[j]! + t + x + lat;
        // better() inlined: this loop must not allocate.
        if (bMax !== Infinity) {
          if (v > bMax + TOL * bMax) continue;
          if (v >= bMax - TOL * bMax && s >= bSum - TOL * bSum) continue;
        }
        if (c.memoryTotal(j, i, k, p) > free) continue;
        bMax = v;
        bSum = s;
        bArg = j;
      }
      mx[i] = bMax;
      sm[i] = bSum;
      ag[i] = bArg;
    }
  }

  score(): Score {
    const n = this.c.n;
    return { max: this.max[this.p - 1]![n]!, sum: this.sum[this.p - 1]![n]! };
  }

  bounds(): number[] {
    const b = [this.c.n];
    for (let k = this.p - 1; k >= 0; k--) b.unshift(this.arg[k]![b[0]!]!);
    return b;
  }

  /** A lower bound on any completion of rows 0..k when the remaining stages' total speed is at most `speed` GFLOP/s. */
  lowerBound(k: number, speed: number): number {
    const n = this.c.n;
    const r = this.p - 1 - k;
    const row = this.max[k]!;
    let lb = Infinity;
    for (let i = k + 1; i <= n - r; i++) {
      if (row[i] === Infinity) continue;
      const rest = r === 0 ? (i === n ? 0 : Infinity) : this.c.totalFlops(i) / (speed * 1e9);
      lb = Math.min(lb, Math.max(row[i]!, rest));
    }
    return lb;
  }
}

export interface SearchOptions {
  /** Ignore memory (used to explain an infeasible plan: what would the best plan need?). */
  ignoreMemory?: boolean;
  /** Machines with equal keys are interchangeable (same speed and memory, uniform links). */
  machineKey?: (m: number) => string;
  /** Cap on evaluations for the heuristic search (default 20,000). */
  budget?: number;
}

/** Exact DP for one machine order; null when no split fits. */
export function splitForOrder(
  c: StageCoster,
  order: number[],
  opts: SearchOptions = {},
): SearchResult | null {
  const memFree = memoryOf(c, opts);
  const dp = new SplitDP(c, order.length, memFree);
  return evaluateOrder(dp, order, Infinity);
}

function memoryOf(c: StageCoster, opts: SearchOptions): number[] {
  return c.problem.machines.map((m) => (opts.ignoreMemory ? Infinity : m.memoryBytes));
}

function evaluateOrder(dp: SplitDP, order: number[], cap: number): SearchResult | null {
  for (let k = 0; k < order.length; k++) dp.row(k, order[k]!, k > 0 ? order[k - 1]! : -1, cap);
  const score = dp.score();
  if (score.max === Infinity) return null;
  return {
    split: { bounds: dp.bounds(), machines: [...order] },
    score,
    method: 'exhaustive',
    evaluations: 1,
  };
}

/** The best plan with exactly p stages over all machine orders (exhaustive or heuristic). */
export function searchBalanced(
  c: StageCoster,
  p: number,
  opts: SearchOptions = {},
): SearchResult | null {
  const M = c.problem.machines.length;
  if (p < 1 || p > M || p > c.n)
    throw new Error(`cannot make ${p} stages from ${M} machines and ${c.n} layers`);
  return M <= EXHAUSTIVE_MAX_MACHINES ? exhaustive(c, p, opts) : heuristic(c, p, opts);
}

function exhaustive(c: StageCoster, p: number, opts: SearchOptions): SearchResult | null {
  const machines = c.problem.machines;
  const M = machines.length;
  const dp = new SplitDP(c, p, memoryOf(c, opts));
  const key = opts.machineKey ?? ((m: number) => String(m));
  const used = new Array<boolean>(M).fill(false);
  const order = new Array<number>(p).fill(-1);
  let best: SearchResult | null = null;
  let evaluations = 0;
  const capOf = () => (best ? best.score.max * (1 + 1e-9) : Infinity);

  const dfs = (k: number) => {
    const tried = new Set<string>();
    for (let m = 0; m < M; m++) {
      if (used[m]) continue;
      const kk = key(m);
      if (tried.has(kk)) continue;
      tried.add(kk);
      order[k] = m;
      dp.row(k, m, k > 0 ? order[k - 1]! : -1, capOf());
      evaluations++;
      if (k === p - 1) {
        const score = dp.score();
        if (score.max < Infinity && (!best || better(score, best.score)))
          best = {
            split: { bounds: dp.bounds(), machines: [...order] },
            score,
            method: 'exhaustive',
            evaluations: 0,
          };
        continue;
      }
      used[m] = true;
      // The fastest p-1-k unused machines bound what the remaining stages can do (at their
      // fastest product's rate: a bound, whatever the mix of products).
      const speeds = machines
        .filter((_, i) => !used[i])
        .map(peakGflops)
        .sort((a, b) => b - a)
        .slice(0, p - 1 - k);
      const lb = dp.lowerBound(
        k,
        speeds.reduce((a, b) => a + b, 0),
      );
      if (lb <= capOf()) dfs(k + 1);
      used[m] = false;
    }
  };
  dfs(0);
  return best ? { ...(best as SearchResult), evaluations } : null;
}

function heuristic(c: StageCoster, p: number, opts: SearchOptions): SearchResult | null {
  const machines = c.problem.machines;
  const M = machines.length;
  const budget = opts.budget ?? 20_000;
  const key = opts.machineKey ?? ((m: number) => String(m));
  const dp = new SplitDP(c, p, memoryOf(c, opts));
  let evaluations = 0;
  let best: SearchResult | null = null;
  const tryOrder = (order: number[]): boolean => {
    evaluations++;
    const r = evaluateOrder(dp, order, best ? best.score.max * (1 + 1e-9) : Infinity);
    if (r && (!best || better(r.score, best.score))) {
      best = r;
      return true;
    }
    return false;
  };

  // Starting points: the fastest machines in speed order, the same ordered by memory (early 1F1B
  // stages stash the most), the biggest-memory machines, and the order given.
  const idx = [...Array(M).keys()];
  const bySpeed = [...idx].sort((a, b) => machines[b]!.gflops - machines[a]!.gflops || a - b);
  const byMemory = [...idx].sort(
    (a, b) => machines[b]!.memoryBytes - machines[a]!.memoryBytes || a - b,
  );
  const fastest = bySpeed.slice(0, p);
  const starts = [
    fastest,
    [...fastest].sort((a, b) => machines[b]!.memoryBytes - machines[a]!.memoryBytes || a - b),
    byMemory.slice(0, p),
    idx.slice(0, p),
  ];
  for (const s of starts) tryOrder(s);

  // Local search: swap two stages' machines, or move a stage to an unused machine; first improvement.
  let improved = true;
  while (improved && evaluations < budget) {
    improved = false;
    const cur = (best as SearchResult | null)?.split.machines ?? starts[0]!;
    const unused = idx.filter((m) => !cur.includes(m));
    const moves: number[][] = [];
    for (let i = 0; i < p; i++)
      for (let j = i + 1; j < p; j++) {
        if (key(cur[i]!) === key(cur[j]!)) continue;
        const o = [...cur];
        [o[i], o[j]] = [o[j]!, o[i]!];
        moves.push(o);
      }
    for (let i = 0; i < p; i++) {
      const seen = new Set<string>([key(cur[i]!)]);
      for (const u of unused) {
        if (seen.has(key(u))) continue;
        seen.add(key(u));
        const o = [...cur];
        o[i] = u;
        moves.push(o);
      }
    }
    for (const o of moves) {
      if (evaluations >= budget) break;
      if (tryOrder(o)) {
        improved = true;
        break;
      }
    }
  }
  const b = best as SearchResult | null;
  return b ? { ...b, method: 'heuristic', evaluations } : null;
}

/** Equal layer counts per stage (the first stages take the remainder). */
export function uniformBounds(n: number, p: number): number[] {
  const b = [0];
  for (let k = 0; k < p; k++) b.push(b[k]! + Math.floor(n / p) + (k < n % p ? 1 : 0));
  return b;
}

/** Contiguous split of `weights` into p parts minimising the largest part (DeepSpeed's "parameters"). */
export function balancedBounds(weights: number[], p: number): number[] {
  const n = weights.length;
  const pre = [0];
  for (const w of weights) pre.push(pre.at(-1)! + w);
  const f = Array.from({ length: p }, () => new Float64Array(n + 1).fill(Infinity));
  const arg = Array.from({ length: p }, () => new Int32Array(n + 1).fill(-1));
  for (let i = 1; i <= n; i++) {
    f[0]![i] = pre[i]!;
    arg[0]![i] = 0;
  }
  for (let k = 1; k < p; k++)
    for (let i = k + 1; i <= n; i++)
      for (let j = k; j < i; j++) {
        const v = Math.max(f[k - 1]![j]!, pre[i]! - pre[j]!);
        // Ties go to the later cut, so parameter-free layers spread instead of piling on stage 0.
        if (v <= f[k]![i]!) {
          f[k]![i] = v;
          arg[k]![i] = j;
        }
      }
  const b = [n];
  for (let k = p - 1; k >= 0; k--) b.unshift(arg[k]![b[0]!]!);
  return b;
}

/** Scores a given split (presets, brute force, explanations) the way the DP does. */
export function scoreSplit(c: StageCoster, split: Split): Score {
  let max = 0;
  let sum = 0;
  const p = split.machines.length;
  for (let k = 0; k < p; k++) {
    const [s, e, m] = [split.bounds[k]!, split.bounds[k + 1]!, split.machines[k]!];
    const t = c.computeSeconds(s, e, m);
    max = Math.max(max, t);
    sum += t;
    if (k > 0) {
      const prev = split.machines[k - 1]!;
      const x = c.transferSeconds(s, prev, m);
      max = Math.max(max, x);
      sum += x + c.latency(prev, m);
    }
  }
  return { max, sum };
}

/** The stages of a split that do not fit their machine's free memory. */
export function memoryOverflows(
  c: StageCoster,
  split: Split,
): { stage: number; needed: number; free: number }[] {
  const p = split.machines.length;
  const out: { stage: number; needed: number; free: number }[] = [];
  for (let k = 0; k < p; k++) {
    const needed = c.memoryTotal(split.bounds[k]!, split.bounds[k + 1]!, k, p);
    const free = c.problem.machines[split.machines[k]!]!.memoryBytes;
    if (needed > free) out.push({ stage: k, needed, free });
  }
  return out;
}

/**
 * A machine's rate for its fastest product (or the combined rate, which layers not multiplied by
 * rows run at): no stage's FLOPs run faster on it.
 */
function peakGflops(m: Machine): number {
  const r = m.productRatios;
  return r ? m.gflops * Math.max(1, r.forward, r.inputGrad, r.weightGrad) : m.gflops;
}
