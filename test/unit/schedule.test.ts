import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  actionLabel,
  gpipeSchedule,
  inFlightMicrobatches,
  oneFOneBSchedule,
  type Action,
  type Schedule,
} from '../../native/planner/schedule.js';

const labels = (s: Schedule, k: number) => s.actions[k]!.map(actionLabel).join(' ');

/** Every F and B exactly once per micro-batch, sends matched by receives, one STEP last. */
function assertWellFormed(s: Schedule) {
  const p = s.stages;
  const m = s.microbatches;
  const sends = new Set<string>();
  const recvs = new Set<string>();
  s.actions.forEach((list, k) => {
    const count = (op: Action['op']) => list.filter((a) => a.op === op).length;
    assert.equal(count('F'), m);
    assert.equal(count('B'), m);
    assert.equal(count('STEP'), 1);
    assert.equal(list.at(-1)!.op, 'STEP');
    // A micro-batch's backward comes after its forward on the same stage.
    for (let mb = 0; mb < m; mb++) {
      const f = list.findIndex((a) => a.op === 'F' && a.mb === mb);
      const b = list.findIndex((a) => a.op === 'B' && a.mb === mb);
      assert.ok(f < b, `stage ${k} mb ${mb}`);
    }
    for (const a of list) {
      if (a.op === 'SEND_ACT' || a.op === 'SEND_GRAD')
        sends.add(`${a.op.slice(5)}:${k}>${a.peer}:${a.mb}`);
      if (a.op === 'RECV_ACT' || a.op === 'RECV_GRAD')
        recvs.add(`${a.op.slice(5)}:${a.peer}>${k}:${a.mb}`);
    }
  });
  assert.deepEqual([...sends].sort(), [...recvs].sort());
  assert.equal(sends.size, 2 * (p - 1) * m);
}

describe('schedules as data', () => {
  it('GPipe: all forwards, then all backwards, then the step', () => {
    const s = gpipeSchedule(3, 2);
    assert.equal(
      labels(s, 0),
      'F0 SEND_ACT0→1 F1 SEND_ACT1→1 RECV_GRAD0←1 B0 RECV_GRAD1←1 B1 STEP',
    );
    assert.equal(
      labels(s, 1),
      'RECV_ACT0←0 F0 SEND_ACT0→2 RECV_ACT1←0 F1 SEND_ACT1→2 RECV_GRAD0←2 B0 SEND_GRAD0→0 RECV_GRAD1←2 B1 SEND_GRAD1→0 STEP',
    );
    assert.equal(
      labels(s, 2),
      'RECV_ACT0←1 F0 RECV_ACT1←1 F1 B0 SEND_GRAD0→1 B1 SEND_GRAD1→1 STEP',
    );
  });

  it('1F1B: warm-up, one forward one backward, drain', () => {
    const s = oneFOneBSchedule(3, 4);
    const computeOnly = (k: number) =>
      s.actions[k]!.filter((a) => a.op === 'F' || a.op === 'B')
        .map(actionLabel)
        .join(' ');
    assert.equal(computeOnly(0), 'F0 F1 F2 B0 F3 B1 B2 B3');
    assert.equal(computeOnly(1), 'F0 F1 B0 F2 B1 F3 B2 B3');
    assert.equal(computeOnly(2), 'F0 B0 F1 B1 F2 B2 F3 B3');
  });

  it('1F1B with fewer micro-batches than stages still does every one', () => {
    const s = oneFOneBSchedule(5, 2);
    assertWellFormed(s);
    assert.equal(
      s.actions[0]!.filter((a) => a.op === 'F' || a.op === 'B')
        .map(actionLabel)
        .join(' '),
      'F0 F1 B0 B1',
    );
  });

  it('is well formed for many sizes', () => {
    for (let p = 1; p <= 6; p++)
      for (let m = 1; m <= 9; m++) {
        assertWellFormed(gpipeSchedule(p, m));
        assertWellFormed(oneFOneBSchedule(p, m));
      }
  });

  it('counts in-flight micro-batches as each schedule stashes them', () => {
    assert.equal(inFlightMicrobatches('gpipe', 0, 4, 8), 8);
    assert.deepEqual(
      [0, 1, 2, 3].map((k) => inFlightMicrobatches('1f1b', k, 4, 8)),
      [4, 3, 2, 1],
    );
    assert.equal(inFlightMicrobatches('1f1b', 0, 4, 2), 2);
  });

  it('rejects empty pipelines', () => {
    assert.throws(() => gpipeSchedule(0, 4), /at least 1 stage/);
    assert.throws(() => oneFOneBSchedule(2, 0), /at least 1 micro-batch/);
  });
});
