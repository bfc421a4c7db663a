import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  gpipeSchedule,
  interleaved1F1BSchedule,
  oneFOneBSchedule,
  replicaActions,
  type Schedule,
} from '../../native/planner/schedule.js';
import { simulate, type StagePlacement, type StageTimes } from '../../native/planner/simulator.js';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≉ ${b}`);
const free = (n: number) =>
  Array.from({ length: n - 1 }, () => ({ activationSeconds: 0, gradientSeconds: 0, latency: 0 }));

/** The schedule as a replicated stage's group runs it: every micro-batch, then ALLREDUCE before STEP. */
function withAllReduce(s: Schedule, replicated: number[]): Schedule {
  return {
    ...s,
    actions: s.actions.map((l, k) =>
      replicated.includes(k) ? replicaActions(l, 0, 2, () => 0) : l,
    ),
  };
}

const run = (schedule: Schedule, stages: StageTimes[], placement?: StagePlacement[]) =>
  simulate({
    schedule,
    stages,
    boundaries: free(stages.length),
    batchSize: 8,
    ...(placement ? { placement } : {}),
  });

describe('the simulator runs ALLREDUCE', () => {
  it('adds the all-reduce to one stage’s step, after its last backward and before STEP', () => {
    const m = 4;
    const plain = run(withAllReduce(gpipeSchedule(1, m), []), [
      { forward: 1, backward: 2, step: 0.5, allReduce: 3 },
    ]);
    // No ALLREDUCE action: the field is not used.
    close(plain.stepSeconds, 3 * m + 0.5);
    const r = run(withAllReduce(gpipeSchedule(1, m), [0]), [
      { forward: 1, backward: 2, step: 0.5, allReduce: 3 },
    ]);
    close(r.stepSeconds, 3 * m + 3 + 0.5);
    close(r.samplesPerSecond, 8 / (3 * m + 3.5));
    // Communication, not computing: busy as before, the all-reduce in comm and in the bubble.
    close(r.stages[0]!.busy, 3 * m + 0.5);
    close(r.stages[0]!.comm, 3);
    close(r.bubble, 3 / (3 * m + 3.5));
    const ar = r.timeline.find((e) => e.label === 'ALLREDUCE')!;
    assert.equal(ar.kind, 'transfer');
    close(ar.start, 3 * m);
    close(ar.end, 3 * m + 3);
    const step = r.timeline.find((e) => e.label === 'STEP')!;
    close(step.start, ar.end);
  });

  it('absent, counts as 0', () => {
    const r = run(withAllReduce(gpipeSchedule(1, 2), [0]), [{ forward: 1, backward: 1, step: 0 }]);
    close(r.stepSeconds, 4);
    close(r.stages[0]!.comm, 0);
  });

  it('a stage’s all-reduce delays only that stage: the first stage’s lengthens the step, the last stage’s hides in its slack', () => {
    const times = (k: number, a: number): StageTimes[] =>
      [0, 1, 2].map((j) => ({ forward: 1, backward: 2, step: 0, allReduce: j === k ? a : 0 }));
    const base = run(oneFOneBSchedule(3, 6), times(0, 0)).stepSeconds;
    // Stage 0 does the last backward of all: its all-reduce comes after everything else.
    const first = run(withAllReduce(oneFOneBSchedule(3, 6), [0]), times(0, 5));
    close(first.stepSeconds, base + 5);
    // The last stage is done (2 backwards' worth) before stage 0: an all-reduce that short costs nothing.
    const last = run(withAllReduce(oneFOneBSchedule(3, 6), [2]), times(2, 3));
    close(last.stepSeconds, base);
    const long = run(withAllReduce(oneFOneBSchedule(3, 6), [2]), times(2, 50));
    assert.ok(long.stepSeconds > base, 'a long enough all-reduce shows');
  });

  it('holds no compute unit: a stage sharing a GPU computes during the other’s all-reduce', () => {
    // Two stages on one GPU: every compute action runs one after another (12 s of them). Stage 1's
    // last backward ends at 10 s, with stage 0's last (2 s) still to run: its 2 s all-reduce overlaps
    // that instead of queueing on the GPU (which would make the step 14 s).
    const gpu: StagePlacement = { machine: 'ws', compute: 'ws/gpu0', capacity: 1 };
    const stages = [
      { forward: 1, backward: 2, step: 0 },
      { forward: 1, backward: 2, step: 0, allReduce: 2 },
    ];
    const shared = run(withAllReduce(gpipeSchedule(2, 2), [1]), stages, [gpu, gpu]);
    close(shared.stepSeconds, 12);
    const ar = shared.timeline.find((e) => e.label === 'ALLREDUCE' && e.stage === 1)!;
    const during = shared.timeline.filter(
      (e) => e.stage === 0 && e.kind === 'compute' && e.start < ar.end && e.end > ar.start,
    );
    assert.ok(during.length > 0, 'stage 0 computed while stage 1 all-reduced');
  });

  it('sums the all-reduce of every chunk a stage holds, as STEP sums their updates', () => {
    const v = 2;
    const p = 2;
    const stages = Array.from({ length: p * v }, (_, s) => ({
      forward: 1,
      backward: 2,
      step: 0,
      // Chunk c of stage 0 is virtual stage 2c: 1 s and 2 s.
      allReduce: s % p === 0 ? 1 + s / p : 0,
    }));
    const plain = run(interleaved1F1BSchedule(p, 4, v), stages);
    const r = run(withAllReduce(interleaved1F1BSchedule(p, 4, v), [0]), stages);
    close(r.stages[0]!.comm, 3);
    close(r.stepSeconds, plain.stepSeconds + 3);
  });
});
