import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { CLI, tempDir } from '../helpers/agents.js';
import { threeAgentLab, type TrainLine } from '../helpers/cliTraining.js';
import { modelCost } from '../../native/model/cost.js';
import { getModel } from '../../native/model/catalogue.js';

/**
 * A run started by `pipefitter train` on lab agents is driven by an agent, not by the command: a
 * SIGKILLed CLI leaves it training, `pipefitter runs` lists it, and `pipefitter run attach` shows it
 * from its first record to its end, with no step missing, and fetches the trained model.
 */
describe('runs outlive the CLI that started them', () => {
  const lab = threeAgentLab('pf-outlive-');
  const { cli, peers, pipefitter } = lab;
  const jsonLines = <T>(stdout: string): T[] =>
    stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as T);
  before(() => lab.start());
  after(() => lab.stop());

  it('keeps training after SIGKILL of pipefitter train; runs lists it; run attach reads it whole', async () => {
    const train = spawn(
      process.execPath,
      [
        CLI,
        'train',
        ...cli([
          '--model',
          'mnist-mlp',
          '--plan',
          lab.planFile,
          '--epochs',
          '1',
          '--dataset',
          'mnist',
          '--json',
        ]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    train.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((resolve) => train.once('exit', resolve));
    let runId = '';
    let driver = '';
    let killedAfter = -1;
    await new Promise<void>((resolve, reject) => {
      readline.createInterface({ input: train.stdout }).on('line', (text) => {
        const l = JSON.parse(text) as TrainLine | { type: 'run'; runId: string; driver: string };
        if (l.type === 'run') ({ runId, driver } = l);
        if (l.type === 'step' && l.step >= 20 && killedAfter < 0) {
          killedAfter = l.step;
          train.kill('SIGKILL');
          resolve();
        }
      });
      void exited.then(() =>
        killedAfter < 0 ? reject(new Error(`train ended before step 20: ${stderr}`)) : undefined,
      );
    });
    await exited;
    assert.match(runId, /^run-/);
    assert.equal(driver, 'ws-a', "the first stage's machine drives the run");

    const listed = pipefitter(['runs', '--json', '--wait', '1', ...peers()]);
    assert.equal(listed.status, 0, listed.stderr);
    const runs = JSON.parse(listed.stdout) as {
      driver: string;
      summary: { id: string; status: string; steps: number };
    }[];
    const mine = runs.find((r) => r.summary.id === runId);
    assert.ok(mine, `pipefitter runs lists ${runId}: ${listed.stdout}`);
    assert.equal(mine.driver, 'ws-a');
    assert.equal(mine.summary.status, 'running');
    assert.ok(
      mine.summary.steps > killedAfter,
      `still training after the CLI died: ${mine.summary.steps} steps`,
    );
    console.log(
      `CLI SIGKILLed after step ${killedAfter}; pipefitter runs: ${mine.summary.status} at step ${mine.summary.steps}`,
    );

    const out = tempDir('pf-attach-out-');
    const attach = pipefitter(
      ['run', 'attach', runId, '--json', '--wait', '1', '--out', out, ...peers()],
      300_000,
    );
    assert.equal(attach.status, 0, attach.stderr);
    const lines = jsonLines<TrainLine>(attach.stdout);
    const started = lines.filter((l) => l.type === 'started');
    assert.equal(started.length, 1);
    const total = (started[0] as { totalSteps: number }).totalSteps;
    const steps = lines.filter((l) => l.type === 'step').map((l) => (l as { step: number }).step);
    assert.deepEqual(
      steps,
      Array.from({ length: total }, (_, i) => i),
      'every step from the first, once, in order',
    );
    const exported = lines.find((l) => l.type === 'exported') as { path: string } | undefined;
    assert.ok(exported, 'the trained model is fetched from the driver');
    const weights = fs.statSync(path.join(out, 'weights.bin')).size;
    assert.equal(weights, modelCost(getModel('mnist-mlp')).params * 4, 'every weight, float32');
    const val = lines.filter((l) => l.type === 'validation') as { accuracy: number }[];
    assert.equal(val.length, 1);
    assert.ok(val[0]!.accuracy >= 0.95, `one epoch of mnist-mlp: ${val[0]!.accuracy}`);
    console.log(
      `run attach: ${steps.length} steps from step 0, accuracy ${(val[0]!.accuracy * 100).toFixed(2)}%`,
    );

    // A finished run stays listed, with how it ended.
    const again = pipefitter(['runs', '--json', '--wait', '1', ...peers()]);
    const done = (JSON.parse(again.stdout) as typeof runs).find((r) => r.summary.id === runId);
    assert.equal(done?.summary.status, 'completed');
    assert.equal(done?.summary.steps, total);
  });

  it('stops a run with pipefitter run stop, and says which runs exist when the id is wrong', async () => {
    const started = pipefitter(
      [
        'train',
        '--model',
        'mnist-mlp',
        '--plan',
        lab.planFile,
        '--steps',
        '100000',
        '--dataset',
        'synthetic',
        '--detach',
        '--json',
      ],
      120_000,
    );
    assert.equal(started.status, 0, started.stderr);
    const run = jsonLines<{ type: string; runId?: string }>(started.stdout).find(
      (l) => l.type === 'run',
    );
    assert.ok(run?.runId);
    const stop = pipefitter(['run', 'stop', run.runId, '--wait', '1', ...peers()]);
    assert.equal(stop.status, 0, stop.stderr);
    assert.match(stop.stdout, /stopped/);
    const wrong = pipefitter(['run', 'attach', 'run-nope', '--wait', '1', ...peers()]);
    assert.equal(wrong.status, 1);
    assert.match(
      wrong.stderr,
      /no agent found drives run run-nope \(\d+ runs? on 3 agents that answered\)/,
    );
  });
});
