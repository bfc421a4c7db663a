// npm run bench:discovery
// Starts N real agent processes on loopback (N = 8, 16, 32), waits until all run (ready and done
// probing backends), then starts a coordinator and measures the time until its registry holds all N
// online with inventory. Then measures one agent's idle CPU and resident memory over 30 s of 1 Hz
// telemetry with a coordinator subscribed. Goals: 32 agents online within 2 s; idle agent < 1% of one
// core and < 150 MB.
import fs from 'node:fs';
import os from 'node:os';
import readline from 'node:readline';
import { Coordinator } from '../../native/coordinator/coordinator.js';
import {
  startAgent,
  stopAgent,
  tempDir,
  testBeaconPort,
  TEST_TOKEN,
  type RunningAgent,
} from '../helpers/agents.js';

const sizes = (process.env.BENCH_SIZES ?? '8,16,32').split(',').map(Number);
const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 30);
const beaconPort = testBeaconPort();
const agents: RunningAgent[] = [];
const CLK_TCK = 100;

function probed(a: RunningAgent): Promise<void> {
  return new Promise((resolve) => {
    if (a.output().includes('"event":"backends"')) return resolve();
    readline
      .createInterface({ input: a.proc.stdout! })
      .on('line', (l) => l.includes('"event":"backends"') && resolve());
  });
}

function procStat(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  return { cpuSeconds: ticks / CLK_TCK, rssBytes: rssKb * 1024 };
}

async function timeToAllOnline(n: number): Promise<number> {
  const c = new Coordinator({
    stateDir: tempDir('pf-bench-coord-'),
    token: TEST_TOKEN,
    beaconPort,
  });
  const started = performance.now();
  await c.start();
  const ms = await new Promise<number>((resolve, reject) => {
    const check = () => {
      if (c.nodes().filter((x) => x.state === 'online' && x.inventory).length >= n)
        resolve(performance.now() - started);
    };
    c.on('change', check);
    setTimeout(() => reject(new Error(`not all ${n} online within 30 s`)), 30_000);
  });
  await c.stop();
  return ms;
}

console.log(
  `bench:discovery on ${os.cpus().length} cores (${os.cpus()[0]?.model}), Node ${process.version}`,
);
try {
  for (const n of sizes) {
    const add = n - agents.length;
    const startedAt = performance.now();
    const fresh = await Promise.all(
      Array.from({ length: add }, (_, i) =>
        startAgent({ name: `bench-${agents.length + i + 1}`, beaconPort }),
      ),
    );
    agents.push(...fresh);
    await Promise.all(fresh.map(probed));
    // Let start-up work settle so the measurement sees running agents, not starting ones.
    await new Promise((r) => setTimeout(r, 1500));
    const startSeconds = ((performance.now() - startedAt) / 1000).toFixed(1);
    const ms = await timeToAllOnline(n);
    console.log(
      `agents=${n}  all online with inventory ${ms.toFixed(0)} ms after coordinator start  (goal for 32: < 2000 ms; agents took ${startSeconds} s to start)`,
    );
  }

  // Idle cost of one agent while a coordinator is subscribed to everyone's telemetry.
  const c = new Coordinator({
    stateDir: tempDir('pf-bench-coord-'),
    token: TEST_TOKEN,
    beaconPort,
  });
  await c.start();
  await new Promise((r) => setTimeout(r, 3000));
  const one = agents[0]!;
  const before = procStat(one.ready.pid);
  const t0 = performance.now();
  let peakRss = before.rssBytes;
  for (let i = 0; i < idleSeconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    peakRss = Math.max(peakRss, procStat(one.ready.pid).rssBytes);
  }
  const afterStat = procStat(one.ready.pid);
  const seconds = (performance.now() - t0) / 1000;
  const cpuPct = ((afterStat.cpuSeconds - before.cpuSeconds) / seconds) * 100;
  const seq = c.registry.get(one.ready.nodeId)?.telemetry?.seq ?? 0;
  await c.stop();
  console.log(
    `idle agent over ${seconds.toFixed(0)} s of 1 Hz telemetry (sample #${seq}): CPU ${cpuPct.toFixed(2)}% of one core (goal < 1%), ` +
      `resident memory ${(afterStat.rssBytes / 1e6).toFixed(1)} MB, peak ${(peakRss / 1e6).toFixed(1)} MB (goal < 150 MB)`,
  );
} finally {
  await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
}
process.exit(0);
