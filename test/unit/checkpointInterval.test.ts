import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ASSUMED_MACHINE_MTBF_HOURS,
  checkpointInterval,
  youngIntervalSeconds,
} from '../../native/coordinator/checkpointInterval.js';
import { CheckpointRule } from '../../native/pipeline/checkpointRule.js';

describe('checkpoint interval', () => {
  it("Young's formula: √(2 · save · MTBF), the MTBF shared by the run's machines", () => {
    const mtbf1 = ASSUMED_MACHINE_MTBF_HOURS * 3600;
    assert.ok(Math.abs(youngIntervalSeconds(5, 1) - Math.sqrt(2 * 0.005 * mtbf1)) < 1e-9);
    assert.ok(Math.abs(youngIntervalSeconds(5, 3) - Math.sqrt((2 * 0.005 * mtbf1) / 3)) < 1e-9);
    // Four times the cost: twice the interval.
    assert.ok(Math.abs(youngIntervalSeconds(20, 3) / youngIntervalSeconds(5, 3) - 2) < 1e-9);
  });

  it('turns seconds into steps of the measured step time, at least one, and says its share', () => {
    const c = checkpointInterval(2, 4, 40, 3);
    assert.equal(c.every, 50);
    assert.ok(Math.abs(c.share - 4 / (50 * 40)) < 1e-12);
    assert.match(c.why, /--checkpoint-seconds 2/);
    assert.equal(checkpointInterval(0.001, 4, 40, 3).every, 1);
    const y = checkpointInterval('young', 4.5, 40, 3);
    assert.match(y.why, /Young/);
    assert.ok(y.share <= 0.03, `the default costs ≤ 3%: ${y.share}`);
  });
});

describe('CheckpointRule', () => {
  const due = (r: CheckpointRule, upTo: number) =>
    Array.from({ length: upTo }, (_, i) => i + 1).filter((d) => r.due(d));

  it('saves every N steps done, never at 0, and never with N = 0', () => {
    assert.deepEqual(due(new CheckpointRule(20), 70), [20, 40, 60]);
    assert.deepEqual(due(new CheckpointRule(0), 70), []);
  });

  it('a change applies from its step on, at the same steps for a stage already past it', () => {
    const r = new CheckpointRule(20);
    r.change(7, 30);
    assert.deepEqual(due(r, 60), [37, 44, 51, 58]);
    assert.throws(() => new CheckpointRule(0).change(5, 10), /keeps no checkpoints/);
    assert.throws(() => r.change(0, 10), /invalid interval/);
  });
});
