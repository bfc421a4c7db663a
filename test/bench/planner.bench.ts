// Partitioner speed: exact DP per machine order plus the order search, on synthetic layer costs.
//   npm run bench:planner
// Machines come in four speed/memory classes (a lab's few workstation models), links are uniform.
import { mulberry32 } from '../../native/util/random.js';
import type { Machine } from '../../native/planner/cluster.js';
import { searchBalanced } from '../../native/planner/partitioner.js';
import { StageCoster, type PlannerLayer } from '../../native/planner/stageCost.js';
import { table } from '../../native/util/format.js';

function layers(n: number, seed: number): PlannerLayer[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const units = 128 * (1 + Math.floor(r() * 8));
    const params = units * units;
    return {
      forwardFlops: 2 * params,
      backwardFlops: 4 * params,
      activationBytes: units * 4,
      stashBytes: units * 4,
      weightBytes: params * 4,
      trainableParams: params,
      params,
    };
  });
}

function machines(m: number): Machine[] {
  const classes = [
    { gflops: 30, memoryBytes: 16 * 2 ** 30 },
    { gflops: 60, memoryBytes: 8 * 2 ** 30 },
    { gflops: 120, memoryBytes: 24 * 2 ** 30 },
    { gflops: 45, memoryBytes: 12 * 2 ** 30 },
  ];
  return Array.from({ length: m }, (_, i) => ({
    id: `ws-${i}`,
    name: `ws-${i}`,
    ...classes[i % 4]!,
  }));
}

const rows: string[][] = [];
let goal = '';
for (const n of [50, 200, 1000]) {
  for (const m of [4, 8, 16]) {
    const ms = machines(m);
    const c = new StageCoster({
      layers: layers(n, n),
      inputBytes: 784 * 4,
      machines: ms,
      link: () => ({ bytesPerSecond: 1.25e8, latencySeconds: 2e-4 }),
      batch: 256,
      microbatches: 16,
      schedule: '1f1b',
      optimizer: 'adam',
    });
    const key = (i: number) => `${ms[i]!.gflops}|${ms[i]!.memoryBytes}`;
    searchBalanced(c, m, { machineKey: key }); // warm up the JIT
    const reps = n >= 1000 ? 1 : 3;
    const t0 = performance.now();
    let r = null;
    for (let i = 0; i < reps; i++) r = searchBalanced(c, m, { machineKey: key });
    const msTaken = (performance.now() - t0) / reps;
    rows.push([
      String(n),
      String(m),
      r?.method ?? '—',
      String(r?.evaluations ?? 0),
      `${msTaken.toFixed(1)} ms`,
      r ? `${(r.score.max * 1000).toFixed(2)} ms` : 'no fit',
    ]);
    if (n === 200 && m === 16)
      goal = `200 layers on 16 machines: ${msTaken.toFixed(1)} ms (goal < 1000 ms)`;
  }
}
process.stdout.write(
  table(['LAYERS', 'MACHINES', 'SEARCH', 'EVALUATIONS', 'TIME', 'BOTTLENECK/MB'], rows) +
    '\n\n' +
    goal +
    '\n',
);
