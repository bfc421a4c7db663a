import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simulate } from '../../native/planner/simulator.js';
import {
  actionLabel,
  gpipeSchedule,
  inFlightMicrobatches,
  interleaved1F1BSchedule,
  neighbourStage,
  oneFOneBSchedule,
  peakHeld,
  peakHeldBy,
  zbH1Schedule,
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
    // A zero-bubble schedule has one W per micro-batch, after its B and after B's gradient left.
    if (s.kind === 'zb-h1') {
      assert.equal(count('W'), m);
      for (let mb = 0; mb < m; mb++) {
        const b = list.findIndex((a) => a.op === 'B' && a.mb === mb);
        const w = list.findIndex((a) => a.op === 'W' && a.mb === mb);
        const sent = list.findIndex((a) => a.op === 'SEND_GRAD' && a.mb === mb);
        assert.ok(b < w && sent < w, `stage ${k} mb ${mb}: W after B and its send`);
      }
    } else assert.equal(count('W'), 0);
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
        assertWellFormed(zbH1Schedule(p, m));
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

  it('ZB-H1: 1F1B order with W(j) after B(j + k), the rest drained at the end', () => {
    const s = zbH1Schedule(3, 4);
    const computeOnly = (k: number) =>
      s.actions[k]!.filter((a) => a.op === 'F' || a.op === 'B' || a.op === 'W')
        .map(actionLabel)
        .join(' ');
    assert.equal(computeOnly(0), 'F0 F1 F2 B0 W0 F3 B1 W1 B2 W2 B3 W3');
    assert.equal(computeOnly(1), 'F0 F1 B0 F2 B1 W0 F3 B2 W1 B3 W2 W3');
    assert.equal(computeOnly(2), 'F0 B0 F1 B1 F2 B2 W0 F3 B3 W1 W2 W3');
  });

  it('ZB-H1 with uniform stages and free communication: a third of 1F1B’s bubble, 1F1B’s peak memory', () => {
    const free = (p: number) =>
      Array.from({ length: p - 1 }, () => ({
        activationSeconds: 0,
        gradientSeconds: 0,
        latency: 0,
      }));
    for (const [p, m] of [
      [2, 4],
      [3, 6],
      [4, 8],
      [4, 16],
      [8, 16],
    ] as const) {
      // The same work: B+W = 2 units in 1F1B's B, B = W = 1 unit apart.
      const oneF = simulate({
        schedule: oneFOneBSchedule(p, m),
        stages: Array.from({ length: p }, () => ({ forward: 1, backward: 2, step: 0 })),
        boundaries: free(p),
        batchSize: m,
      });
      const zb = zbH1Schedule(p, m);
      const zbSim = simulate({
        schedule: zb,
        stages: Array.from({ length: p }, () => ({ forward: 1, backward: 1, weight: 1, step: 0 })),
        boundaries: free(p),
        batchSize: m,
      });
      const idle = (r: typeof oneF) => r.stepSeconds * p - 3 * p * m;
      assert.equal(idle(oneF), 3 * p * (p - 1), `1F1B p=${p} m=${m}`);
      // Qi et al.: ZB-H1's bubble is (p − 1)(F + B − W) a stage, 1F1B's (p − 1)(F + B + W).
      assert.equal(idle(zbSim), p * (p - 1), `ZB-H1 p=${p} m=${m}`);
      assert.ok(idle(zbSim) <= idle(oneF) / 3);
      const held = Array.from({ length: p }, (_, k) => peakHeld(zb, k));
      assert.equal(Math.max(...held), Math.min(p, m), 'the peak is 1F1B’s (stage 0 holds p)');
      assert.deepEqual(
        zbSim.stages.map((st) => st.peakStash),
        held,
        'the simulator holds what the schedule says',
      );
      assert.deepEqual(
        Array.from({ length: p }, (_, k) => inFlightMicrobatches('zb-h1', k, p, m)),
        held,
      );
    }
  });

  it('rejects empty pipelines', () => {
    assert.throws(() => gpipeSchedule(0, 4), /at least 1 stage/);
    assert.throws(() => oneFOneBSchedule(2, 0), /at least 1 micro-batch/);
  });

  it('interleaved 1F1B: every chunk of every micro-batch once, forward before backward, sends matched (wrapping from the last stage to the first)', () => {
    for (const [p, m, v] of [
      [2, 4, 2],
      [3, 6, 2],
      [4, 8, 3],
      [4, 4, 2],
    ] as const) {
      const s = interleaved1F1BSchedule(p, m, v);
      const sends: string[] = [];
      const recvs: string[] = [];
      s.actions.forEach((list, k) => {
        for (let c = 0; c < v; c++)
          for (let mb = 0; mb < m; mb++) {
            const at = (op: Action['op']) =>
              list.findIndex(
                (a) => a.op === op && 'mb' in a && a.mb === mb && (a.chunk ?? 0) === c,
              );
            assert.ok(
              at('F') >= 0 && at('F') < at('B'),
              `p${p} v${v} stage ${k} chunk ${c} mb ${mb}`,
            );
            assert.equal(
              list.filter((a) => a.op === 'F' && a.mb === mb && a.chunk === c).length,
              1,
            );
          }
        assert.equal(list.at(-1)!.op, 'STEP');
        for (const a of list) {
          // A send names the sender's chunk; the receiver's is the next (or previous) virtual stage's.
          if (a.op === 'SEND_ACT' || a.op === 'SEND_GRAD') {
            const s0 = (a.chunk ?? 0) * p + k + (a.op === 'SEND_ACT' ? 1 : -1);
            sends.push(`${a.op.slice(5)}:${k}>${a.peer}:${a.mb}.${Math.floor(s0 / p)}`);
          }
          if (a.op === 'RECV_ACT' || a.op === 'RECV_GRAD')
            recvs.push(`${a.op.slice(5)}:${a.peer}>${k}:${a.mb}.${a.chunk ?? 0}`);
        }
      });
      assert.deepEqual(sends.sort(), recvs.sort());
      assert.equal(sends.length, 2 * (p * v - 1) * m);
    }
    assert.throws(() => interleaved1F1BSchedule(4, 6, 2), /multiple of the stages \(4\)/);
    assert.deepEqual(interleaved1F1BSchedule(3, 6, 1).actions, oneFOneBSchedule(3, 6).actions);
  });

  it('interleaved 1F1B with v chunks and free communication: 1F1B’s bubble divided by v', () => {
    for (const [p, m, v] of [
      [2, 4, 2],
      [4, 8, 2],
      [4, 16, 2],
      [4, 16, 4],
      [8, 16, 2],
    ] as const) {
      // A stage's work is F = 1, B = 2 a micro-batch, split evenly over its v chunks.
      const free = (n: number) =>
        Array.from({ length: n }, () => ({ activationSeconds: 0, gradientSeconds: 0, latency: 0 }));
      const oneF = simulate({
        schedule: oneFOneBSchedule(p, m),
        stages: Array.from({ length: p }, () => ({ forward: 1, backward: 2, step: 0 })),
        boundaries: free(p - 1),
        batchSize: m,
      });
      const inter = simulate({
        schedule: interleaved1F1BSchedule(p, m, v),
        stages: Array.from({ length: p * v }, () => ({ forward: 1 / v, backward: 2 / v, step: 0 })),
        boundaries: free(p * v - 1),
        batchSize: m,
      });
      const idle = (r: typeof oneF) => r.stepSeconds * p - 3 * p * m;
      assert.ok(
        Math.abs(idle(inter) - idle(oneF) / v) < 1e-9,
        `p=${p} m=${m} v=${v}: ${idle(inter)} against ${idle(oneF)} / ${v}`,
      );
      // Megatron's warm-up: stage 0 holds 2(p − 1) + (v − 1)p + 1 chunk-micro-batches at most.
      assert.equal(inter.stages[0]!.peakStash, Math.min(2 * (p - 1) + (v - 1) * p + 1, m * v));
    }
  });

  it('peak stash per stage as the papers give, in the schedule, the simulator and the planner’s count', () => {
    const free = (n: number) =>
      Array.from({ length: n }, () => ({ activationSeconds: 0, gradientSeconds: 0, latency: 0 }));
    for (const [p, m, v] of [
      [2, 4, 2],
      [3, 6, 2],
      [4, 8, 2],
      [4, 8, 3],
      [4, 16, 4],
    ] as const) {
      const peaks = (s: Schedule) => {
        const n = s.stages * (s.chunks ?? 1);
        const sim = simulate({
          schedule: s,
          stages: Array.from({ length: n }, () => ({
            forward: 1,
            backward: 1,
            weight: 1,
            step: 0,
          })),
          boundaries: free(n - 1),
          batchSize: m,
        });
        const held = s.actions.map((_, k) => peakHeld(s, k));
        assert.deepEqual(
          sim.stages.map((st) => st.peakStash),
          held,
          `${s.kind}: the simulator holds what the schedule says`,
        );
        assert.deepEqual(
          held,
          held.map((_, k) => inFlightMicrobatches(s.kind, k, p, m, s.chunks ?? 1)),
          `${s.kind}: the planner counts the same`,
        );
        return held;
      };
      const stages = [...Array(p).keys()];
      // GPipe: every micro-batch at every stage; 1F1B: stage k holds p − k.
      assert.deepEqual(
        peaks(gpipeSchedule(p, m)),
        stages.map(() => m),
      );
      assert.deepEqual(
        peaks(oneFOneBSchedule(p, m)),
        stages.map((k) => p - k),
      );
      // ZB-H1 (Qi et al.): 1F1B's peak memory, p micro-batches (W holds a stage's later ones longer).
      assert.ok(peaks(zbH1Schedule(p, m)).every((h) => h <= p));
      // Megatron's interleaving: stage k warms up with (v − 1)·p + 2(p − k − 1) chunk-forwards and
      // holds one more, each a chunk's activations (1/v of a stage's with even chunks).
      const inter = interleaved1F1BSchedule(p, m, v);
      assert.deepEqual(
        peaks(inter),
        stages.map((k) => Math.min((v - 1) * p + 2 * (p - k - 1) + 1, m * v)),
      );
      // Chunks of a stage peak at different times: the stage's peak is at most the sum of its
      // chunks' own peaks, and at least the largest of them.
      for (const k of stages) {
        const own = Array.from({ length: v }, (_, c) =>
          peakHeldBy(inter, k, (x) => (x === c ? 1 : 0)),
        );
        const bytes = Array.from({ length: v }, (_, c) => 10 + c);
        const joint = peakHeldBy(inter, k, (c) => bytes[c]!);
        assert.ok(joint <= own.reduce((a, h, c) => a + h * bytes[c]!, 0));
        assert.ok(joint >= Math.max(...own.map((h, c) => h * bytes[c]!)));
      }
    }
  });

  it('names each stage’s neighbours, round the ends only where the stages hold several chunks', () => {
    const around = (p: number, v: number) =>
      Array.from({ length: p }, (_, k) => [
        neighbourStage('previous', k, p, v),
        neighbourStage('next', k, p, v),
      ]);
    assert.deepEqual(around(3, 1), [
      [null, 1],
      [0, 2],
      [1, null],
    ]);
    assert.deepEqual(around(3, 2), [
      [2, 1],
      [0, 2],
      [1, 0],
    ]);
    assert.deepEqual(around(2, 2), [
      [1, 1],
      [0, 0],
    ]);
  });
});
