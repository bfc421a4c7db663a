import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { CLI, tempDir, TEST_TOKEN } from './agents.js';

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
