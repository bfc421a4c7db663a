import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../native/util/random.js';
import type { Link, Machine } from '../../native/planner/cluster.js';
import {
  balancedBounds,
  better,
  memoryOverflows,
  scoreSplit,
  searchBalanced,
  splitForOrder,
  uniformBounds,
  type Score,
  type Split,
} from '../../native/planner/partitioner.js';
import {
  StageCoster,
  type PartitionProblem,
  type PlannerLayer,
} from '../../native/planner/stageCost.js';

function permutations(items: number[], k: number): number[][] {
  if (k === 0) return [[]];
  return items.flatMap((x) =>
    permutations(
      items.filter((y) => y !== x),
      k - 1,
    ).map((r) => [x, ...r]),
  );
}

function compositions(n: number, p: number): number[][] {
  // bounds arrays [0, b1, ..., n] with p non-empty parts
  if (p === 1) return [[0, n]];
  const out: number[][] = [];
  const rec = (start: number, left: number, acc: number[]) => {
    if (left === 1) return out.push([...acc, n]);
    for (let b = start + 1; b <= n - (left - 1); b++) rec(b, left - 1, [...acc, b]);
  };
  rec(0, p, [0]);
  return out;
}

function bruteForce(c: StageCoster, p: number): { split: Split; score: Score } | null {
  let best: { split: Split; score: Score } | null = null;
  const M = c.problem.machines.length;
  for (const machines of permutations([...Array(M).keys()], p))
    for (const bounds of compositions(c.n, p)) {
      const split = { bounds, machines };
      if (memoryOverflows(c, split).length) continue;
      const score = scoreSplit(c, split);
      if (!best || better(score, best.score)) best = { split, score };
    }
  return best;
}

function randomProblem(seed: number): { problem: PartitionProblem; p: number } {
  const r = mulberry32(seed);
  const int = (a: number, b: number) => a + Math.floor(r() * (b - a + 1));
  const n = int(1, 7);
  const M = int(1, 4);
  const layers: PlannerLayer[] = Array.from({ length: n }, () => {
    const fwd = int(1, 50) * 1e6;
    const act = int(1, 64) * 1024;
    const params = int(0, 3) === 0 ? 0 : int(1, 200) * 1000;
    return {
      forwardFlops: fwd,
      backwardFlops: 2 * fwd,
      activationBytes: act,
      stashBytes: act * int(1, 2),
      weightBytes: params * 4,
      trainableParams: params,
      params,
    };
  });
  const machines: Machine[] = Array.from({ length: M }, (_, i) => ({
    id: `m${i}`,
    name: `ws-${i}`,
    gflops: [10, 20, 40, 55][int(0, 3)]!,
    // Sometimes tight enough that memory decides.
    memoryBytes: int(1, 4) === 1 ? int(1, 8) * 1e6 : 1e12,
  }));
  const uniformLinks = r() < 0.5;
  const links = new Map<string, Link>();
  const link = (i: number, j: number): Link => {
    if (uniformLinks) return { bytesPerSecond: 1.25e8, latencySeconds: 2e-4 };
    const k = `${Math.min(i, j)}-${Math.max(i, j)}`;
    if (!links.has(k))
      links.set(k, { bytesPerSecond: int(1, 100) * 1e6, latencySeconds: int(0, 5) * 1e-4 });
    return links.get(k)!;
  };
  const microbatches = int(1, 4);
  const problem: PartitionProblem = {
    layers,
    inputBytes: int(1, 16) * 1024,
    machines,
    link,
    batch: microbatches * int(1, 8),
    microbatches,
    schedule: r() < 0.5 ? 'gpipe' : '1f1b',
    optimizer: (['sgd', 'momentum', 'adam'] as const)[int(0, 2)]!,
  };
  // Sometimes each product at its own rate (what a measured curve gives at small micro-batches), for
  // the layers multiplied by rows.
  if (r() < 0.5) {
    for (const m of machines)
      m.productRatios = { forward: 0.5 + r(), inputGrad: 0.5 + r(), weightGrad: 0.25 + r() };
    for (const l of layers) l.rowProducts = r() < 0.7;
  }
  return { problem, p: int(1, Math.min(n, M)) };
}

describe('partitioner', () => {
  it('equals brute force on 400 seeded random small instances', () => {
    let feasible = 0;
    let sumsEqual = 0;
    for (let seed = 1; seed <= 400; seed++) {
      const { problem, p } = randomProblem(seed);
      const c = new StageCoster(problem);
      const dp = searchBalanced(c, p);
      const bf = bruteForce(c, p);
      assert.equal(dp === null, bf === null, `seed ${seed}: feasibility differs`);
      if (!dp || !bf) continue;
      feasible++;
      // The DP's own score is what its split really scores, and it fits.
      const rescored = scoreSplit(c, dp.split);
      assert.ok(Math.abs(rescored.max - dp.score.max) <= 1e-9 * rescored.max, `seed ${seed}`);
      assert.deepEqual(memoryOverflows(c, dp.split), [], `seed ${seed}`);
      // The bottleneck is optimal.
      assert.ok(
        Math.abs(dp.score.max - bf.score.max) <= 1e-9 * bf.score.max,
        `seed ${seed}: dp ${dp.score.max} vs brute force ${bf.score.max}`,
      );
      if (Math.abs(dp.score.sum - bf.score.sum) <= 1e-9 * bf.score.sum) sumsEqual++;
    }
    assert.ok(feasible >= 250, `only ${feasible} feasible instances`);
    // The tie-break (sum of times) is a secondary heuristic; it should almost always agree.
    assert.ok(sumsEqual >= feasible * 0.95, `${sumsEqual}/${feasible} tie-breaks agree`);
  });

  it('gives a machine twice as fast about twice the work', () => {
    const layers: PlannerLayer[] = Array.from({ length: 30 }, () => ({
      forwardFlops: 1e8,
      backwardFlops: 2e8,
      activationBytes: 1024,
      stashBytes: 1024,
      weightBytes: 1000,
      trainableParams: 250,
      params: 250,
    }));
    const problem: PartitionProblem = {
      layers,
      inputBytes: 1024,
      machines: [
        { id: 'slow', name: 'slow', gflops: 10, memoryBytes: 1e12 },
        { id: 'fast', name: 'fast', gflops: 20, memoryBytes: 1e12 },
      ],
      link: () => ({ bytesPerSecond: 1e12, latencySeconds: 0 }),
      batch: 8,
      microbatches: 4,
      schedule: '1f1b',
      optimizer: 'sgd',
    };
    const r = searchBalanced(new StageCoster(problem), 2)!;
    const sizes = r.split.machines.map((m, k) => ({
      m,
      n: r.split.bounds[k + 1]! - r.split.bounds[k]!,
    }));
    assert.equal(sizes.find((s) => s.m === 1)!.n, 20);
    assert.equal(sizes.find((s) => s.m === 0)!.n, 10);
  });

  it('searches orders heuristically beyond 8 machines and still finds a fitting plan', () => {
    const r = mulberry32(9);
    const layers: PlannerLayer[] = Array.from({ length: 60 }, () => ({
      forwardFlops: (1 + r() * 9) * 1e8,
      backwardFlops: 2e9,
      activationBytes: 4096,
      stashBytes: 4096,
      weightBytes: 4e6,
      trainableParams: 1e6,
      params: 1e6,
    }));
    const machines: Machine[] = Array.from({ length: 12 }, (_, i) => ({
      id: `m${i}`,
      name: `ws-${i}`,
      gflops: 10 + 5 * (i % 4),
      memoryBytes: 1e9,
    }));
    const problem: PartitionProblem = {
      layers,
      inputBytes: 4096,
      machines,
      link: () => ({ bytesPerSecond: 1.25e8, latencySeconds: 2e-4 }),
      batch: 32,
      microbatches: 8,
      schedule: '1f1b',
      optimizer: 'adam',
    };
    const c = new StageCoster(problem);
    const h = searchBalanced(c, 12)!;
    assert.equal(h.method, 'heuristic');
    assert.deepEqual(memoryOverflows(c, h.split), []);
    // With all 12 machines used, no order beats the total-work bound.
    const total = layers.reduce((a, l) => a + l.forwardFlops + l.backwardFlops, 0) * 4;
    const speed = machines.reduce((a, m) => a + m.gflops, 0) * 1e9;
    assert.ok(h.score.max >= total / speed);
    assert.ok(
      h.score.max <= (total / speed) * 1.6,
      `bottleneck ${h.score.max} vs bound ${total / speed}`,
    );
  });

  it('splitForOrder is exact for the order given', () => {
    const { problem } = randomProblem(12345);
    const c = new StageCoster({
      ...problem,
      machines: problem.machines.map((m) => ({ ...m, memoryBytes: 1e12 })),
    });
    const order = [...Array(Math.min(c.n, problem.machines.length)).keys()];
    const r = splitForOrder(c, order)!;
    let best: Score | null = null;
    for (const bounds of compositions(c.n, order.length)) {
      const s = scoreSplit(c, { bounds, machines: order });
      if (!best || better(s, best)) best = s;
    }
    assert.ok(Math.abs(r.score.max - best!.max) <= 1e-9 * best!.max);
  });

  it('presets: uniform layer counts and balanced parameters', () => {
    assert.deepEqual(uniformBounds(10, 3), [0, 4, 7, 10]);
    assert.deepEqual(uniformBounds(3, 3), [0, 1, 2, 3]);
    assert.deepEqual(balancedBounds([1, 1, 1, 1, 4], 2), [0, 4, 5]);
    assert.deepEqual(balancedBounds([5, 1, 1, 1, 1, 1], 2), [0, 1, 6]);
  });
});
