import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSchedule, gpipeSchedule, type Schedule } from '../../native/planner/schedule.js';
import { simulate } from '../../native/planner/simulator.js';

const free = (p: number) =>
  Array.from({ length: p - 1 }, () => ({ activationSeconds: 0, gradientSeconds: 0, latency: 0 }));
const uniform = (p: number, f = 1, b = 2) =>
  Array.from({ length: p }, () => ({ forward: f, backward: b, step: 0 }));
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≉ ${b}`);

describe('pipeline simulator', () => {
  it('GPipe with uniform stages and free comm has bubble (p-1)/(m+p-1)', () => {
    for (const [p, m] of [
      [1, 1],
      [2, 4],
      [4, 8],
      [4, 1],
      [6, 3],
      [8, 32],
    ] as const) {
      const r = simulate({
        schedule: gpipeSchedule(p, m),
        stages: uniform(p),
        boundaries: free(p),
        batchSize: 64,
      });
      close(r.bubble, (p - 1) / (m + p - 1));
      close(r.stepSeconds, (m + p - 1) * 3);
      close(r.samplesPerSecond, 64 / ((m + p - 1) * 3));
      r.stages.forEach((s) => {
        close(s.busy, m * 3);
        close(s.idle, r.stepSeconds - m * 3);
        assert.equal(s.peakStash, m);
      });
    }
  });

  it('1F1B has the same step time, with peak stash min(p-k, m) at stage k', () => {
    for (const [p, m] of [
      [2, 4],
      [4, 8],
      [4, 2],
      [5, 5],
      [8, 3],
    ] as const) {
      const g = simulate({
        schedule: buildSchedule('gpipe', p, m),
        stages: uniform(p),
        boundaries: free(p),
        batchSize: 8,
      });
      const o = simulate({
        schedule: buildSchedule('1f1b', p, m),
        stages: uniform(p),
        boundaries: free(p),
        batchSize: 8,
      });
      close(o.stepSeconds, g.stepSeconds);
      close(o.bubble, g.bubble);
      o.stages.forEach((s, k) => {
        assert.equal(s.peakStash, Math.min(p - k, m), `p=${p} m=${m} stage ${k}`);
        assert.ok(s.peakStash <= g.stages[k]!.peakStash);
      });
    }
  });

  it('records the timeline of every action', () => {
    const schedule: Schedule = gpipeSchedule(2, 2);
    const r = simulate({
      schedule,
      stages: uniform(2),
      boundaries: [{ activationSeconds: 0.5, gradientSeconds: 0.5, latency: 0.1 }],
      batchSize: 2,
    });
    // Stage 1's first forward waits for F0 (1 s) plus the transfer (0.5 s) and latency (0.1 s).
    const f0 = r.timeline.find((e) => e.stage === 1 && e.label === 'F0')!;
    close(f0.start, 1.6);
    close(f0.end, 2.6);
    const send = r.timeline.find((e) => e.stage === 0 && e.label === 'SEND_ACT0→1')!;
    assert.equal(send.kind, 'transfer');
    close(send.start, 1);
    close(send.end, 1.6);
    // Every compute action appears once.
    assert.equal(r.timeline.filter((e) => e.kind === 'compute').length, 2 * (2 + 2 + 1));
    close(r.stages[0]!.comm, 1); // two activation sends of 0.5 s
    assert.ok(r.stages[1]!.waiting > 0);
    for (const e of r.timeline) assert.ok(e.end >= e.start && e.end <= r.stepSeconds + 1e-12);
  });

  it('a slow link becomes the bottleneck', () => {
    const p = 2;
    const m = 16;
    const slow = [{ activationSeconds: 5, gradientSeconds: 5, latency: 0 }];
    const r = simulate({
      schedule: gpipeSchedule(p, m),
      stages: uniform(p),
      boundaries: slow,
      batchSize: 1,
    });
    // 16 activations through a 5 s link dominate: at least 16 × 5 s before the last forward.
    assert.ok(r.stepSeconds >= m * 5);
  });

  it('charges the optimizer step once per step', () => {
    const stages = [
      { forward: 1, backward: 1, step: 4 },
      { forward: 1, backward: 1, step: 0 },
    ];
    const r = simulate({
      schedule: gpipeSchedule(2, 1),
      stages,
      boundaries: free(2),
      batchSize: 1,
    });
    close(r.stepSeconds, 1 + 1 + 1 + 1 + 4);
  });

  it("charges re-preparing the weights once a step, to each stage's first F", () => {
    const m = 4;
    const base = simulate({
      schedule: buildSchedule('1f1b', 2, m),
      stages: uniform(2),
      boundaries: free(2),
      batchSize: 1,
    });
    const r = simulate({
      schedule: buildSchedule('1f1b', 2, m),
      stages: uniform(2).map((t) => ({ ...t, prepare: 0.5 })),
      boundaries: free(2),
      batchSize: 1,
    });
    // Both stages' first forwards are on the critical path: 0.5 s each, once, not per micro-batch.
    close(r.stepSeconds, base.stepSeconds + 1);
    const f0 = r.timeline.filter((e) => e.kind === 'compute' && e.label === 'F0');
    assert.deepEqual(
      f0.map((e) => e.end - e.start),
      [1.5, 1.5],
    );
    const f1 = r.timeline.filter((e) => e.kind === 'compute' && e.label === 'F1');
    assert.deepEqual(
      f1.map((e) => e.end - e.start),
      [1, 1],
    );
  });

  it('a stage whose F does no work prepares its weights in its first B', () => {
    const r = simulate({
      schedule: gpipeSchedule(1, 2),
      stages: [{ forward: 0, backward: 2, step: 0, prepare: 0.5 }],
      boundaries: [],
      batchSize: 1,
    });
    close(r.stepSeconds, 2 + 2 + 0.5);
  });

  it('reports a deadlock instead of hanging', () => {
    const bad: Schedule = {
      kind: 'gpipe',
      stages: 2,
      microbatches: 1,
      actions: [
        [
          { op: 'RECV_GRAD', mb: 0, peer: 1 },
          { op: 'F', mb: 0 },
          { op: 'SEND_ACT', mb: 0, peer: 1 },
        ],
        [
          { op: 'RECV_ACT', mb: 0, peer: 0 },
          { op: 'B', mb: 0 },
          { op: 'SEND_GRAD', mb: 0, peer: 0 },
        ],
      ],
    };
    assert.throws(
      () => simulate({ schedule: bad, stages: uniform(2), boundaries: free(2), batchSize: 1 }),
      /deadlocks: stage 0 at RECV_GRAD0←1, stage 1 at RECV_ACT0←0/,
    );
  });
});
