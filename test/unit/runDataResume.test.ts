import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEventRecord } from '../../native/common/runEvents.js';
import { RunData } from '../../renderer/runs/runData.js';

let seq = 0;
const record = (event: RunEventRecord) => ({
  kind: 'event' as const,
  seq: seq++,
  t: 1000 + seq,
  event,
});
const step = (s: number, loss: number): RunEventRecord => ({
  type: 'step',
  step: s,
  epoch: 0,
  loss,
  samplesPerSecond: 100,
  elapsedMs: s * 10,
  stages: [],
  timings: [],
});

describe('the Runs view folds a resumed run', () => {
  it('cuts the steps after the checkpoint, marks the resumption and logs why', () => {
    seq = 0;
    const d = new RunData();
    const stages = [
      {
        index: 0,
        node: 'ws-01 (10.0.0.1)',
        host: '10.0.0.1',
        backend: 'wasm',
        layers: [0, 2] as [number, number],
        pid: 11,
      },
      {
        index: 1,
        node: 'ws-02 (10.0.0.2)',
        host: '10.0.0.2',
        backend: 'wasm',
        layers: [2, 3] as [number, number],
        pid: 12,
      },
    ];
    assert.ok(
      d.add([
        record({ type: 'started', runId: 'r', totalSteps: 30, stepsPerEpoch: 30, stages }),
        ...Array.from({ length: 12 }, (_, s) => record(step(s, 2 - s / 10))),
        record({
          type: 'checkpoint',
          step: 10,
          stages: [
            { index: 0, file: 'a', bytes: 2 ** 20, sha256: 'a'.repeat(64) },
            { index: 1, file: 'b', bytes: 2 ** 20, sha256: 'b'.repeat(64) },
          ],
          copyMs: 3,
          writeMs: 12,
        }),
        record(step(12, 0.7)),
        record({
          type: 'resumed',
          fromStep: 10,
          reason: 'stage 1 on ws-02 (10.0.0.2): the stage process was killed by SIGKILL',
          attempt: 1,
          stages: stages.map((s) => ({ ...s, pid: s.pid + 100 })),
        }),
        record(step(10, 1.05)),
      ]),
    );
    assert.deepEqual(
      Array.from(d.step.data.subarray(0, d.step.length)),
      [...Array.from({ length: 10 }, (_, s) => s), 10],
      'steps 10–12 of the lost attempt are gone; the redone step 10 follows step 9',
    );
    assert.equal(d.loss.data[10], 1.05);
    assert.equal(d.lastCheckpoint, 10);
    assert.deepEqual(
      d.resumptions.map((r) => r.fromStep),
      [10],
    );
    assert.equal(d.rewrites, 1);
    const resumedLog = d.logs.find((l) =>
      /resumed from the checkpoint of step 10/.test(l.message),
    )!;
    assert.equal(resumedLog.level, 'error');
    assert.equal(resumedLog.machine, 'ws-02 (10.0.0.2)');
    assert.ok(d.logs.some((l) => /checkpoint of step 10: 2 stages, 2\.0 MiB/.test(l.message)));
    assert.ok(d.logs.some((l) => /stage 1 restarted: .*pid 112/.test(l.message)));
  });
});
