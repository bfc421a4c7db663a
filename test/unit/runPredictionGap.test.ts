import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlanFile, RunRecord } from '../../native/api/types.js';
import { predictionGap } from '../../renderer/components/run/SmallCharts.js';
import { RunData } from '../../renderer/runs/runData.js';

const withPlan = (samplesPerSecond: number) => {
  const d = new RunData();
  d.plan = { prediction: { samplesPerSecond } } as unknown as PlanFile;
  return d;
};

describe('the Runs view says how far a run is from its prediction', () => {
  it('says nothing within 10%, or before the rate has settled', () => {
    assert.equal(
      predictionGap(
        withPlan(1000),
        Float64Array.from({ length: 30 }, () => 950),
        30,
      ),
      null,
    );
    assert.equal(predictionGap(withPlan(1000), Float64Array.of(400, 400), 2), null);
    assert.equal(
      predictionGap(
        new RunData(),
        Float64Array.from({ length: 30 }, () => 400),
        30,
      ),
      null,
    );
  });

  it('names the gap in words beyond 10%, below or above', () => {
    const below = predictionGap(
      withPlan(3987),
      Float64Array.from({ length: 30 }, () => 1100),
      30,
    );
    assert.match(below!, /measured 1100 samples\/s, 72% below the prediction/);
    const above = predictionGap(
      withPlan(1000),
      Float64Array.from({ length: 30 }, () => 1250),
      30,
    );
    assert.match(above!, /25% above the prediction/);
  });

  it("says where the gap lies: in a stage's own work, or between the stages", () => {
    // Two stages predicted 8 and 6 ms of work a step, a 10 ms step (6,400 samples/s at 64).
    const run = (busy: [number, number]) => {
      const d = new RunData();
      d.plan = {
        batch: 64,
        prediction: {
          samplesPerSecond: 6400,
          stepSeconds: 0.01,
          stages: [{ busySeconds: 0.008 }, { busySeconds: 0.006 }],
        },
      } as unknown as PlanFile;
      const records: RunRecord[] = [
        {
          kind: 'event',
          seq: 0,
          t: 0,
          event: {
            type: 'started',
            totalSteps: 100,
            stepsPerEpoch: 100,
            stages: [0, 1].map((index) => ({
              index,
              node: `box-${index}`,
              host: 'h',
              backend: 'wasm',
              layers: [index, index + 1] as [number, number],
              pid: 1,
            })),
          },
        } as unknown as RunRecord,
        ...Array.from(
          { length: 30 },
          (_, i) =>
            ({
              kind: 'event',
              seq: i + 1,
              t: i,
              event: {
                type: 'step',
                step: i,
                epoch: 0,
                loss: 1,
                samplesPerSecond: 4000,
                elapsedMs: i * 16,
                // An early step far off: only the newest steps count.
                stages: [0, 1].map((index) => ({
                  index,
                  busyMs: i < 5 ? 100 : busy[index]!,
                  commMs: 1,
                  totalMs: 16,
                })),
                timings: [],
              },
            }) as unknown as RunRecord,
        ),
      ];
      assert.ok(d.add(records));
      return d;
    };
    const rates = Float64Array.from({ length: 30 }, () => 4000);
    // Stage 1 worked 12 ms against 6: its own work is the gap.
    const work = predictionGap(run([8, 12]), rates, 30)!;
    assert.match(work, /38% below the prediction: stage 1 \(box-1\) computed 100% slower/);
    assert.match(work, /12 ms of work a step, predicted 6\.0 ms/);
    // Both stages on target: the step's other 6 ms went between them.
    const between = predictionGap(run([8.2, 6.1]), rates, 30)!;
    assert.match(between, /the stages computed within 3% of the prediction/);
    assert.match(between, /the other 6\.0 ms a step went between them/);
    // Faster than predicted, because a stage worked faster.
    const fast = predictionGap(
      run([4, 4.5]),
      Float64Array.from({ length: 30 }, () => 9000),
      30,
    )!;
    assert.match(fast, /41% above the prediction: stage 0 \(box-0\) computed 50% faster/);
  });
});
