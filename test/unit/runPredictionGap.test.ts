import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlanFile } from '../../native/api/types.js';
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
});
