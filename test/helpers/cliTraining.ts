import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { RunEvent } from '../../native/coordinator/runController.js';
import fs from 'node:fs';
import {
  CLI,
  startAgent,
  stopAgent,
  tempDir,
  testBeaconPort,
  TEST_TOKEN,
  type RunningAgent,
} from './agents.js';

/**
 * A plan file over real test agents: `pipefitter plan --cluster` on a cluster.json naming them (equal
 * speeds and memory, so the split is the cost model's alone) with `args`; returns the plan's path.
 */
export function planOverAgents(agents: RunningAgent[], dir: string, args: string[]): string {
  const cluster = path.join(dir, 'cluster.json');
  fs.writeFileSync(
    cluster,
    JSON.stringify({
      machines: agents.map((a) => ({
        id: a.ready.nodeId,
        name: a.ready.name,
        gflops: 10,
        memoryBytes: 4 * 2 ** 30,
      })),
      links: { default: { gbps: 10, latencyMs: 0.05 } },
    }),
  );
  const planFile = path.join(dir, 'plan.json');
  planWithCli(planFile, ['--cluster', cluster, ...args]);
  return planFile;
}

/** `pipefitter plan … --json --out planFile`, asserting it succeeded. */
export function planWithCli(planFile: string, args: string[]): void {
  const r = spawnSync(process.execPath, [CLI, 'plan', ...args, '--json', '--out', planFile], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
}

export type TrainLine =
  RunEvent | { type: 'exported'; path: string } | { type: 'log'; message: string; stage?: number };

/** `pipefitter train --model M --plan F --local 2 --steps S --json`, asserting success; its JSON lines. */
export function trainPlanLocally(model: string, planFile: string, steps: number): TrainLine[] {
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      'train',
      '--model',
      model,
      '--plan',
      planFile,
      '--local',
      '2',
      '--steps',
      String(steps),
      '--json',
      '--out',
      path.join(tempDir(), 'out'),
      '--state-dir',
      tempDir(),
      '--token',
      TEST_TOKEN,
    ],
    { encoding: 'utf8', timeout: 180_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TrainLine);
}

/**
 * `pipefitter train ARGS --json --out … --state-dir … --token …` as a child process, its JSON lines
 * read as they come (`onLine` sees each one then); resolves with every line, the exit code, the tail
 * of stderr and the seconds it took.
 */
export async function trainWithCli(
  args: string[],
  onLine: (l: TrainLine) => void = () => {},
): Promise<{ lines: TrainLine[]; code: number | null; stderr: string; seconds: number }> {
  const t0 = performance.now();
  const proc = spawn(
    process.execPath,
    [
      CLI,
      'train',
      ...args,
      '--json',
      '--out',
      tempDir('pf-train-out-'),
      '--state-dir',
      tempDir(),
      '--token',
      TEST_TOKEN,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const lines: TrainLine[] = [];
  readline.createInterface({ input: proc.stdout! }).on('line', (text) => {
    const l = JSON.parse(text) as TrainLine;
    lines.push(l);
    onLine(l);
  });
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  return { lines, code, stderr, seconds: (performance.now() - t0) / 1000 };
}

/**
 * Three real agents (ws-a, ws-b, ws-c) and a 3-stage mnist-mlp plan over them (batch 64, 4
 * micro-batches, 1F1B, Adam), with helpers to run `pipefitter` against that lab. Call `start` in
 * `before` and `stop` in `after`.
 */
export function threeAgentLab(prefix: string) {
  const beaconPort = testBeaconPort();
  const agents: RunningAgent[] = [];
  const lab = {
    agents,
    planFile: '',
    /** ARGS with this lab's beacon port, a fresh state dir and the test token. */
    cli: (args: string[]) => [
      ...args,
      '--beacon-port',
      String(beaconPort),
      '--state-dir',
      tempDir(),
      '--token',
      TEST_TOKEN,
    ],
    /** `--peer` for each agent: the commands ask them by address too, beacons or not. */
    peers: () => agents.flatMap((a) => ['--peer', `127.0.0.1:${a.ready.controlPort}`]),
    /** `pipefitter ARGS` against this lab, run to its end. */
    pipefitter: (args: string[], timeoutMs = 60_000) =>
      spawnSync(process.execPath, [CLI, ...lab.cli(args)], {
        encoding: 'utf8',
        timeout: timeoutMs,
      }),
    async start(): Promise<void> {
      for (const name of ['ws-a', 'ws-b', 'ws-c'])
        agents.push(await startAgent({ name, beaconPort }));
      lab.planFile = planOverAgents(agents, tempDir(prefix), [
        '--model',
        'mnist-mlp',
        '--stages',
        '3',
        '--batch',
        '64',
        '--microbatches',
        '4',
        '--schedule',
        '1f1b',
        '--optimizer',
        'adam',
      ]);
    },
    async stop(): Promise<void> {
      await Promise.all(agents.map((a) => stopAgent(a)));
    },
  };
  return lab;
}
