import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/common/runEvents.js';
import { trainWithCli, type TrainLine } from '../helpers/cliTraining.js';

type Started = Extract<RunEvent, { type: 'started' }>;

/** The parent of a process (a stage host's parent is the agent that started it). */
function parentOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // "pid (comm) state ppid …": the command may hold spaces, so read after its closing parenthesis.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** One epoch of mnist-mlp on 3 local agents with `pipefitter train`; `onLine` sees each line. */
const oneEpochOnThree = (onLine?: (l: TrainLine) => void) =>
  trainWithCli(
    [
      '--model',
      'mnist-mlp',
      '--dataset',
      'mnist',
      '--local',
      '3',
      '--stages',
      '3',
      '--epochs',
      '1',
      '--checkpoint-every',
      '100',
    ],
    onLine,
  );

const accuracyOf = (lines: TrainLine[]) =>
  (lines.find((l) => l.type === 'validation') as Extract<RunEvent, { type: 'validation' }>)
    .accuracy!;

describe('pipefitter train survives a lost machine', () => {
  it('SIGKILL of one of three local agents mid-epoch: the run is re-planned over the others, completes its epoch and matches the uninterrupted accuracy', async () => {
    const clean = await oneEpochOnThree();
    assert.equal(clean.code, 0, clean.stderr);

    let started: Started | null = null;
    let victim = 0;
    let victimName = '';
    const lost = await oneEpochOnThree((l) => {
      if (l.type === 'started') started = l;
      if (l.type === 'checkpoint' && l.step === 200 && victim === 0) {
        victimName = started!.stages[2]!.node.split(' ')[0]!;
        victim = parentOf(started!.stages[2]!.pid);
        process.kill(victim, 'SIGKILL');
      }
    });
    assert.ok(victim > 0, 'an agent was killed after the checkpoint of step 200');
    assert.equal(lost.code, 0, lost.stderr);
    const resumed = lost.lines.filter(
      (l): l is Extract<RunEvent, { type: 'resumed' }> => l.type === 'resumed',
    );
    assert.equal(resumed.length, 1, 'resumed once');
    assert.ok(
      new RegExp(`re-planned without ${victimName} onto [12] machines?`).test(resumed[0]!.reason),
      resumed[0]!.reason,
    );
    assert.ok(resumed[0]!.fromStep >= 100 && resumed[0]!.fromStep <= 200);
    assert.ok(resumed[0]!.stages.every((s) => !s.node.startsWith(`${victimName} `)));
    assert.equal(lost.lines.filter((l) => l.type === 'failed').length, 0);
    assert.ok(
      lost.lines.some((l) => l.type === 'exported'),
      'the trained model was written',
    );
    const [a, b] = [accuracyOf(clean.lines), accuracyOf(lost.lines)];
    console.log(
      `one epoch on 3 agents: ${(a * 100).toFixed(2)}% uninterrupted; ${(b * 100).toFixed(2)}% with ${victimName} lost after step 200 (${resumed[0]!.reason})`,
    );
    assert.ok(b >= a - 0.005, `accuracy ${b} vs uninterrupted ${a}`);
  });
});
