import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { sweepStaleLocalDirs } from '../../native/cli/localAgents.js';
import { CLI, tempDir, TEST_TOKEN, waitUntil } from '../helpers/agents.js';
import type { TrainLine } from '../helpers/cliTraining.js';
import { processAlive } from '../helpers/training.js';

const localDirs = (tmp: string) =>
  fs.readdirSync(tmp).filter((n) => n.startsWith('pipefitter-local-'));

describe('pipefitter train when things go wrong', () => {
  it('prints a failed run once in --json', () => {
    const r = spawnSync(
      process.execPath,
      [
        CLI,
        'train',
        '--model',
        'mnist-mlp',
        '--dataset',
        'csv:/nonexistent/lab-data.csv',
        '--local',
        '1',
        '--json',
        '--state-dir',
        tempDir(),
        '--token',
        TEST_TOKEN,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TrainLine);
    const failed = lines.filter((l) => l.type === 'failed');
    assert.equal(failed.length, 1, r.stdout);
    assert.match(
      failed[0]!.message,
      /stage 0 on local-1 .*cannot read \/nonexistent\/lab-data\.csv/,
    );
  });

  it('leaves no pipefitter-local-* directory (agent keys) behind when SIGKILLed mid-run', async () => {
    // A TMPDIR of its own: the CLI's os.tmpdir(), so only this run's directories are seen here.
    const tmp = tempDir('pf-tmpdir-');
    const proc = spawn(
      process.execPath,
      [
        CLI,
        'train',
        '--model',
        'mnist-mlp',
        '--dataset',
        'synthetic',
        '--local',
        '2',
        '--steps',
        '100000',
        '--json',
        '--out',
        path.join(tmp, 'out'),
        '--state-dir',
        tempDir(),
        '--token',
        TEST_TOKEN,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } },
    );
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    const lines: TrainLine[] = [];
    readline
      .createInterface({ input: proc.stdout })
      .on('line', (l) => lines.push(JSON.parse(l) as TrainLine));
    await waitUntil(
      () => lines.some((l) => l.type === 'step') || proc.exitCode !== null,
      90_000,
      'the run to train',
    );
    assert.equal(proc.exitCode, null, stderr);
    const started = lines.find((l) => l.type === 'started') as Extract<
      RunEvent,
      { type: 'started' }
    >;
    assert.ok(localDirs(tmp).length > 0, 'the local agents have their state while they run');
    proc.kill('SIGKILL');
    await exited;
    const ms = await waitUntil(
      () => localDirs(tmp).length === 0,
      5000,
      `the local agents' state dirs to go (left: ${localDirs(tmp).join(', ')})`,
    );
    console.log(`state dirs removed ${ms} ms after SIGKILL of the CLI`);
    await waitUntil(
      () => started.stages.every((s) => !processAlive(s.pid)),
      5000,
      'every stage host to exit',
    );
  });

  it('sweeps a stale pipefitter-local-* directory left by a CLI that is gone', () => {
    const tmp = tempDir('pf-tmpdir-');
    const stale = path.join(tmp, 'pipefitter-local-stale1');
    fs.mkdirSync(path.join(stale, 'agent'), { recursive: true });
    fs.writeFileSync(path.join(stale, 'agent', 'agent-key.json'), '{}');
    // A pid that cannot be running: beyond the kernel's pid_max.
    fs.writeFileSync(path.join(stale, 'owner'), '4194305\n');
    const live = path.join(tmp, 'pipefitter-local-live1');
    fs.mkdirSync(live);
    fs.writeFileSync(path.join(live, 'owner'), `${process.pid}\n`);
    assert.deepEqual(sweepStaleLocalDirs(tmp), [stale]);
    assert.deepEqual(localDirs(tmp).sort(), ['pipefitter-local-live1']);
  });
});
