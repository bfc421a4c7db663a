import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getModel } from '../../native/model/catalogue.js';
import { clusterFromJson, DEFAULT_LINK, speedAt } from '../../native/planner/cluster.js';
import {
  makeFastestSchedulePlan,
  makePlan,
  PlanError,
  type PlanRequest,
} from '../../native/planner/plan.js';
import { StageCoster } from '../../native/planner/stageCost.js';
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
  it('produces a plan file that parses back (version 2) and covers every layer', () => {
    const r = makePlan(request({ stages: 3 }));
    assert.ok(r.ok);
    const plan = parsePlan(JSON.parse(JSON.stringify(r.plan)));
    assert.equal(plan.version, 2);
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

  it('without a schedule, plans every one and keeps the fastest prediction', () => {
    const { schedule: _, ...req } = request({ stages: 3 });
    const { outcome, compared } = makeFastestSchedulePlan(req);
    assert.ok(outcome.ok);
    assert.deepEqual(
      compared.map((c) => c.schedule),
      ['gpipe', '1f1b', 'zb-h1', 'interleaved-1f1b'],
    );
    // 3 stages cannot interleave 8 micro-batches: skipped with the reason, the others still compete.
    const inter = compared.at(-1)!;
    assert.equal(inter.skipped, true);
    assert.equal(inter.chunks, 2);
    assert.match(inter.reason!, /micro-batches \(8\) to be a multiple of the stages \(3\)/);
    const rates = compared.filter((c) => !c.skipped).map((c) => c.samplesPerSecond!);
    assert.equal(outcome.plan.prediction.samplesPerSecond, Math.max(...rates));
    // deep-mlp is a dense stack: W is apart, and ZB-H1 fills 1F1B's bubble with it.
    const zb = compared.find((c) => c.schedule === 'zb-h1')!.samplesPerSecond!;
    const oneF = compared.find((c) => c.schedule === '1f1b')!.samplesPerSecond!;
    assert.ok(zb > oneF, `zb-h1 ${zb} vs 1f1b ${oneF}`);
    assert.equal(outcome.plan.schedule, 'zb-h1');
  });

  it('refuses plan files of another version or with gaps', () => {
    const r = makePlan(request({ stages: 2 }));
    assert.ok(r.ok);
    assert.throws(() => parsePlan({ ...r.plan, version: 3 }), /version 3 is not supported/);
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

describe('speed by micro-batch size', () => {
  it('interpolates the measured curve in log(rows) and clamps at its ends', () => {
    const m = {
      id: 'a',
      name: 'a',
      gflops: 20,
      memoryBytes: 1e9,
      speedCurve: [
        { rows: 16, gflops: 4 },
        { rows: 64, gflops: 12 },
        { rows: 256, gflops: 20 },
      ],
    };
    assert.equal(speedAt(m, 8), 4);
    assert.equal(speedAt(m, 16), 4);
    assert.equal(speedAt(m, 32), 8);
    assert.equal(speedAt(m, 64), 12);
    assert.equal(speedAt(m, 1024), 20);
    assert.equal(speedAt({ ...m, speedCurve: undefined }, 32), 20);
  });

  it('predicts smaller micro-batches slower when the machine multiplies them slower', () => {
    const curve = [
      { rows: 16, gflops: 5 },
      { rows: 1024, gflops: 20 },
    ];
    const cluster = {
      machines: [
        { id: 'a', name: 'a', gflops: 20, memoryBytes: 8e9, speedCurve: curve },
        { id: 'b', name: 'b', gflops: 20, memoryBytes: 8e9, speedCurve: curve },
      ],
      defaultLink: DEFAULT_LINK,
      links: new Map(),
    };
    const base = {
      model: getModel('deep-mlp'),
      source: 'catalogue' as const,
      path: null,
      cluster,
      stages: 2,
      batch: 1024,
      schedule: 'gpipe' as const,
      optimizer: 'sgd' as const,
      preset: 'balanced' as const,
    };
    const coarse = makePlan({ ...base, microbatches: 4 });
    const fine = makePlan({ ...base, microbatches: 64 });
    assert.ok(coarse.ok && fine.ok);
    // 64 micro-batches of 16 rows have less bubble but run at a quarter of the speed.
    assert.ok(fine.plan.prediction.samplesPerSecond < coarse.plan.prediction.samplesPerSecond);
  });
});

describe('forward recompute in the cost model', () => {
  const layer = (keeps?: boolean) => ({
    forwardFlops: 1,
    backwardFlops: 2,
    activationBytes: 4,
    stashBytes: 4,
    weightBytes: 4,
    trainableParams: 1,
    params: 1,
    ...(keeps === undefined ? {} : { keepsActivations: keeps }),
  });
  const coster = (layers: ReturnType<typeof layer>[]) =>
    new StageCoster({
      layers,
      inputBytes: 4,
      machines: [{ id: 'a', name: 'a', gflops: 1, memoryBytes: 1e9 }],
      link: () => DEFAULT_LINK,
      batch: 1,
      microbatches: 1,
      schedule: 'gpipe',
      optimizer: 'sgd',
    });

  it('charges a non-last stage that cannot keep its activations one more forward', () => {
    const c = coster([layer(false), layer(true)]);
    assert.equal(c.stageFlops(0, 1), 4, 'F + B + F again');
    assert.equal(c.stageFlops(1, 2), 3, 'the last stage folds its forward into B');
    assert.equal(c.stageFlops(0, 2), 6, 'a single stage is the last stage');
    assert.ok(Math.abs(c.backwardSeconds(0, 1, 0) * 1e9 - 3) < 1e-9, 'the recompute is part of B');
  });

  it('charges nothing extra for dense stacks', () => {
    const c = coster([layer(true), layer(true)]);
    assert.equal(c.stageFlops(0, 1), 3);
    assert.equal(coster([layer(), layer()]).stageFlops(0, 1), 3);
  });

  it('the catalogue CNN plans its convolutional stage with the recompute', () => {
    const cluster = clusterFromJson({
      machines: [
        { id: 'a', gflops: 10, memoryBytes: 8e9 },
        { id: 'b', gflops: 10, memoryBytes: 8e9 },
      ],
    });
    const plan = makePlan({
      model: getModel('mnist-cnn'),
      source: 'catalogue',
      path: null,
      cluster,
      stages: 2,
      batch: 64,
      microbatches: 4,
      schedule: 'gpipe',
      optimizer: 'sgd',
      preset: 'uniform',
    });
    assert.ok(plan.ok);
    const s0 = plan.plan.prediction.stages[0]!;
    assert.ok(
      s0.backwardSeconds > 2 * s0.forwardSeconds,
      `B ${s0.backwardSeconds} includes the recomputed F ${s0.forwardSeconds}`,
    );
  });
});
