import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { CLI, stopAgent, tempDir, waitUntil } from '../helpers/agents.js';
import { threeAgentLab, type TrainLine } from '../helpers/cliTraining.js';
import type { RunEvent } from '../../native/common/runEvents.js';

/** The accuracy this plan reaches in one epoch uninterrupted (runsOutliveCli.test.ts prints it). */
const UNINTERRUPTED_ACCURACY = 0.9681;

/**
 * The agent driving a run is lost (SIGKILL of its agent, which also held the first stage): the agent
 * standing by for the run (the second stage's machine) takes it over from the newest checkpoint it
 * copied, re-planned over the machines left, and a reader attached before the loss follows the run
 * there with no record missing.
 */
describe("a run whose driver's machine is lost goes on from its standby", () => {
  const lab = threeAgentLab('pf-driver-lost-');
  const { agents, cli, peers, pipefitter } = lab;
  before(() => lab.start());
  after(() => lab.stop());

  it('SIGKILL of the driving agent: its standby takes the run over, the attached reader follows, the epoch completes', async () => {
    const started = pipefitter([
      'train',
      '--model',
      'mnist-mlp',
      '--plan',
      lab.planFile,
      '--epochs',
      '1',
      '--dataset',
      'mnist',
      '--checkpoint-every',
      '20',
      '--detach',
      '--json',
    ]);
    assert.equal(started.status, 0, started.stderr);
    const runLine = started.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; runId?: string; driver?: string })
      .find((l) => l.type === 'run')!;
    const runId = runLine.runId!;
    assert.equal(runLine.driver, 'ws-a');

    // A reader attached before the loss: it must follow the run to whoever drives it next.
    const out = tempDir('pf-driver-lost-out-');
    const attach = spawn(
      process.execPath,
      [CLI, 'run', 'attach', runId, ...cli(['--json', '--out', out, '--wait', '1', ...peers()])],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    attach.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines: TrainLine[] = [];
    /** When the reader printed the resumption and the first step after it. */
    let resumedAt = 0;
    let trainingAgainAt = 0;
    const exited = new Promise<number | null>((r) => attach.once('exit', (code) => r(code)));
    readline.createInterface({ input: attach.stdout }).on('line', (text) => {
      const l = JSON.parse(text) as TrainLine;
      if (l.type === 'resumed') resumedAt = Date.now();
      if (l.type === 'step' && resumedAt && !trainingAgainAt) trainingAgainAt = Date.now();
      lines.push(l);
    });

    // The standby (ws-b, the next stage's machine) has a whole copy of a checkpoint: kill the driver.
    const standbyDir = path.join(agents[1]!.stateDir, 'driver', 'standby', runId);
    const copied = () =>
      fs.existsSync(standbyDir) &&
      [0, 1, 2].every((k) =>
        fs.readdirSync(standbyDir).some((f) => f.startsWith(`stage-${k}-step-`)),
      );
    await waitUntil(copied, 120_000, "the standby's copy of a checkpoint");
    const lastStepBefore = () =>
      Math.max(
        -1,
        ...lines.filter((l) => l.type === 'step').map((l) => (l as { step: number }).step),
      );
    const killedAt = Date.now();
    const killedAfter = lastStepBefore();
    await stopAgent(agents[0]!, 'SIGKILL');

    const code = await exited;
    assert.equal(
      code,
      0,
      `run attach ended with ${code}: ${stderr}\nws-b's log:\n${agents[1]!.output().slice(-3000)}`,
    );
    const resumed = lines.filter(
      (l): l is Extract<RunEvent, { type: 'resumed' }> & TrainLine => l.type === 'resumed',
    );
    assert.equal(resumed.length, 1, `resumed once: ${JSON.stringify(resumed)}`);
    const r = resumed[0]!;
    assert.match(r.reason, /ws-a, which drove the run, was lost/);
    assert.match(r.reason, /ws-b drives it now/);
    assert.match(r.reason, /re-planned without ws-a onto 2 machines/);
    assert.ok(r.fromStep >= 20 && r.fromStep <= killedAfter + 1, `from step ${r.fromStep}`);
    assert.ok(r.stages.every((s) => !s.node.startsWith('ws-a')));
    assert.match(stderr + lines.map((l) => JSON.stringify(l)).join('\n'), /ws-b drives run/);

    // Every step once up to the loss, and again from the checkpoint on, to the end of the epoch.
    const at = lines.indexOf(r);
    const stepsAfter = lines
      .slice(at)
      .filter((l) => l.type === 'step')
      .map((l) => (l as { step: number }).step);
    const total = (lines.find((l) => l.type === 'started') as { totalSteps: number }).totalSteps;
    assert.deepEqual(
      stepsAfter,
      Array.from({ length: total - r.fromStep }, (_, i) => r.fromStep + i),
      'every step from the checkpoint on, once, in order',
    );
    const validation = lines.filter((l) => l.type === 'validation').at(-1) as {
      accuracy: number;
    };
    assert.ok(
      validation.accuracy >= UNINTERRUPTED_ACCURACY - 0.005,
      `accuracy ${validation.accuracy} against ${UNINTERRUPTED_ACCURACY} uninterrupted`,
    );
    const exported = lines.find((l) => l.type === 'exported') as { path: string } | undefined;
    assert.ok(exported && fs.existsSync(exported.path), 'the trained model fetched from ws-b');

    const listed = pipefitter(['runs', '--json', '--wait', '1', ...peers()]);
    assert.equal(listed.status, 0, listed.stderr);
    const mine = (
      JSON.parse(listed.stdout) as { driver: string; summary: { id: string; status: string } }[]
    ).filter((x) => x.summary.id === runId);
    assert.equal(mine.length, 1, 'listed once');
    assert.equal(mine[0]!.driver, 'ws-b');
    assert.equal(mine[0]!.summary.status, 'completed');

    // A run that has ended can be neither moved nor resumed, and says why.
    const replan = pipefitter(['run', 'replan', runId, '--wait', '1', ...peers()]);
    assert.equal(replan.status, 1);
    assert.match(replan.stderr, new RegExp(`run ${runId} is not running`));
    const resume = pipefitter(['run', 'resume', runId, '--wait', '1', ...peers()]);
    assert.equal(resume.status, 1);
    assert.match(
      resume.stderr,
      /completed on ws-b; only a failed or interrupted run, or one whose driver is lost, can be resumed/,
    );

    // The new driver's own records say when it resumed and trained its first step again.
    const records = fs
      .readFileSync(path.join(agents[1]!.stateDir, 'driver', 'runs', runId, 'run.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { t: number; kind: string; event?: { type: string } });
    const resumedRecord = records.findIndex((x) => x.event?.type === 'resumed');
    const firstStep = records.slice(resumedRecord).find((x) => x.event?.type === 'step')!;
    const s = (t: number) => `${((t - killedAt) / 1000).toFixed(1)} s`;
    console.log(
      `driver ws-a SIGKILLed after step ${killedAfter}; ws-b took the run over from step ${r.fromStep}: ` +
        `resumed ${s(records[resumedRecord]!.t)} and training again ${s(firstStep.t)} after the kill ` +
        `(the attached reader printed it ${s(resumedAt)} / ${s(trainingAgainAt)} after); ` +
        `accuracy ${(validation.accuracy * 100).toFixed(2)}%`,
    );
  });
});
