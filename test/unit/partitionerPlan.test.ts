import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getModel } from '../../native/model/catalogue.js';
import { clusterFromJson } from '../../native/planner/cluster.js';
import { makePlan, PlanError, type PlanRequest } from '../../native/planner/plan.js';
import { parsePlan } from '../../native/planner/planSchema.js';

const GiB = 2 ** 30;
const cluster = (machines: { id: string; gflops: number; memoryBytes: number }[]) =>
  clusterFromJson({ machines });

function request(over: Partial<PlanRequest> = {}): PlanRequest {
  return {
    model: getModel('deep-mlp'),
    source: 'catalogue',
    path: null,
    cluster: cluster([
      { id: 'ws-01', gflops: 40, memoryBytes: 8 * GiB },
      { id: 'ws-02', gflops: 40, memoryBytes: 8 * GiB },
      { id: 'ws-03', gflops: 80, memoryBytes: 8 * GiB },
    ]),
    batch: 64,
    microbatches: 8,
    schedule: '1f1b',
    optimizer: 'adam',
    preset: 'balanced',
    ...over,
  };
}

describe('makePlan', () => {
  it('produces a plan file that parses back (version 1) and covers every layer', () => {
    const r = makePlan(request({ stages: 3 }));
    assert.ok(r.ok);
    const plan = parsePlan(JSON.parse(JSON.stringify(r.plan)));
    assert.equal(plan.version, 1);
    assert.equal(plan.stages.length, 3);
    assert.equal(plan.stages[0]!.layers[0], 0);
    assert.equal(plan.stages.at(-1)!.layers[1], 9);
    assert.equal(plan.search.method, 'exhaustive');
    assert.ok(plan.prediction.samplesPerSecond > 0);
    // The fast machine gets the most work.
    const fast = plan.stages.findIndex((s) => s.machineId === 'ws-03');
    const flops = plan.prediction.stages.map((s) => s.flopsPerMicrobatch);
    assert.equal(Math.max(...flops), flops[fast]);
    assert.deepEqual(
      plan.prediction.stages.map((s) => s.inFlightMicrobatches),
      [3, 2, 1],
    );
  });

  it('refuses plan files of another version or with gaps', () => {
    const r = makePlan(request({ stages: 2 }));
    assert.ok(r.ok);
    assert.throws(() => parsePlan({ ...r.plan, version: 2 }), /version 2 is not supported/);
    const gap = structuredClone(r.plan);
    gap.stages[1]!.layers[0] += 1;
    assert.throws(() => parsePlan(gap), /does not start where stage 0 ends/);
  });

  it('says when more stages are asked for than there are machines', () => {
    assert.throws(
      () => makePlan(request({ stages: 5 })),
      (e: unknown) =>
        e instanceof PlanError &&
        /asked for 5 stages but only 3 machines are available/.test(e.message),
    );
  });

  it('says which stage does not fit on which machine', () => {
    const r = makePlan(
      request({
        stages: 2,
        cluster: cluster([
          { id: 'ws-03', gflops: 40, memoryBytes: 40e6 },
          { id: 'ws-07', gflops: 40, memoryBytes: 40e6 },
        ]),
      }),
    );
    assert.equal(r.ok, false);
    assert.match(
      !r.ok ? r.reason : '',
      /stage \d \(layers \d–\d.*\) needs \d+ MiB on ws-0[37], which has 38 MiB free/,
    );
  });

  it('presets split as named', () => {
    const u = makePlan(request({ stages: 3, preset: 'uniform' }));
    assert.ok(u.ok);
    assert.deepEqual(
      u.plan.stages.map((s) => s.layers),
      [
        [0, 3],
        [3, 6],
        [6, 9],
      ],
    );
    assert.equal(u.plan.search.method, 'preset');
    const p = makePlan(request({ stages: 2, preset: 'parameters' }));
    assert.ok(p.ok);
    assert.equal(p.plan.stages.length, 2);
  });

  it('rejects a batch that does not split into equal micro-batches', () => {
    assert.throws(() => makePlan(request({ batch: 10, microbatches: 4 })), /equal micro-batches/);
  });
});
