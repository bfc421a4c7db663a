// npm run bench:allreduce
// Ring all-reduce (native/pipeline/ringAllReduce.ts over CurveZMQ PUSH/PULL on loopback) with 2, 4 and
// 8 processes, vectors of 1 to 64 MiB: the time of one all-reduce, its algorithm bandwidth (bytes /
// time) and bus bandwidth (NCCL tests' definition: algbw · 2(n − 1)/n, what each link carried), next
// to the point-to-point rate of the same sockets between two of the same processes, measured in the
// same run. Goal: busbw ≥ 80% of point-to-point. On a machine with fewer cores than ranks the ranks
// take turns on the CPU, and that is in the figures.
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'allreduceWorker.ts');
const MiB = 2 ** 20;

interface Rank {
  proc: ChildProcess;
  ask(m: object): Promise<{ ms?: number; error?: string; endpoint?: string; publicKey?: string }>;
}

async function startRanks(n: number): Promise<Rank[]> {
  const ranks: Rank[] = [];
  const hello: Promise<{ endpoint: string; publicKey: string }>[] = [];
  for (let r = 0; r < n; r++) {
    const proc = fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
    const replies: ((m: never) => void)[] = [];
    proc.on('message', (m) => replies.shift()?.(m as never));
    const ask = (m: object) =>
      new Promise<never>((resolve) => {
        replies.push(resolve);
        if (Object.keys(m).length) proc.send(m);
      });
    hello.push(ask({}));
    ranks.push({ proc, ask });
  }
  const ends = await Promise.all(hello);
  await Promise.all(
    ranks.map((rk, r) => rk.ask({ type: 'connect', ...ends[(r + 1) % n]!, rank: r, size: n })),
  );
  return ranks;
}

console.log(
  `bench:allreduce: ring all-reduce over CurveZMQ on loopback, ${os.cpus().length} cores (${os.cpus()[0]?.model}), load ${os.loadavg()[0]!.toFixed(2)}`,
);
const sizes = [1, 4, 16, 64].map((m) => m * MiB);
const ratios: number[] = [];
for (const n of [2, 4, 8]) {
  const ranks = await startRanks(n);
  try {
    const p2p = new Map<number, number>();
    for (const bytes of sizes) {
      const iterations = bytes >= 16 * MiB ? 3 : 8;
      const [, recv] = await Promise.all(
        ranks.map((rk) => rk.ask({ type: 'p2p', bytes, iterations })),
      );
      p2p.set(bytes, bytes / (recv!.ms! / 1000));
      const times = await Promise.all(
        ranks.map((rk) => rk.ask({ type: 'allreduce', bytes, iterations })),
      );
      const failed = times.find((t) => t.error);
      if (failed) throw new Error(failed.error);
      const ms = Math.max(...times.map((t) => t.ms!));
      const algbw = bytes / (ms / 1000);
      const busbw = (algbw * 2 * (n - 1)) / n;
      const ratio = busbw / p2p.get(bytes)!;
      ratios.push(ratio);
      console.log(
        `${n} ranks ${String(bytes / MiB).padStart(2)} MiB: ${ms.toFixed(1).padStart(7)} ms, algbw ${(algbw / 1e9).toFixed(2)} GB/s, busbw ${(busbw / 1e9).toFixed(2)} GB/s; ` +
          `point-to-point ${(p2p.get(bytes)! / 1e9).toFixed(2)} GB/s; busbw/p2p ${(ratio * 100).toFixed(0)}% (goal ≥ 80%)`,
      );
    }
  } finally {
    for (const rk of ranks) rk.proc.send({ type: 'exit' });
  }
}
console.log(
  `busbw/point-to-point: ${(Math.min(...ratios) * 100).toFixed(0)}% to ${(Math.max(...ratios) * 100).toFixed(0)}% (goal ≥ 80%)`,
);
process.exit(0);
