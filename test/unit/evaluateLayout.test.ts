import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getModel } from '../../native/model/catalogue.js';
import { DEFAULT_LINK, type Cluster } from '../../native/planner/cluster.js';
import {
  evaluateLayout,
  makePlan,
  PlanError,
  type PlanRequest,
} from '../../native/planner/plan.js';
import { parsePlan } from '../../native/planner/planSchema.js';

const GiB = 1024 ** 3;
const cluster: Cluster = {
  machines: [
    { id: 'a', name: 'alpha', gflops: 20, memoryBytes: 8 * GiB },
    { id: 'b', name: 'bravo', gflops: 10, memoryBytes: 8 * GiB },
  ],
  defaultLink: DEFAULT_LINK,
  links: new Map(),
};
const req: PlanRequest = {
  model: getModel('deep-mlp'),
  source: 'catalogue',
  path: null,
  cluster,
  stages: 2,
  batch: 64,
  microbatches: 4,
  schedule: '1f1b',
  optimizer: 'adam',
  preset: 'balanced',
};

describe('evaluateLayout (a hand-made layout)', () => {
  it('predicts exactly what the planner predicts for the same split and machines', () => {
    const auto = makePlan(req);
    assert.ok(auto.ok);
    const bounds = [0, ...auto.plan.stages.map((s) => s.layers[1])];
    const ids = auto.plan.stages.map((s) => s.machineId);
    const { plan } = evaluateLayout(req, bounds, ids);
    assert.deepEqual(plan.prediction, auto.plan.prediction);
    assert.deepEqual(plan.stages, auto.plan.stages);
  });

  it('writes a plan file that parsePlan accepts, with stages on the named machines', () => {
    const n = req.model.layers.length;
    const { plan, simulation } = evaluateLayout(req, [0, 2, n], ['b', 'a']);
    assert.deepEqual(parsePlan(JSON.parse(JSON.stringify(plan))), plan);
    assert.deepEqual(
      plan.stages.map((s) => [s.layers, s.machineName]),
      [
        [[0, 2], 'bravo'],
        [[2, n], 'alpha'],
      ],
    );
    assert.ok(plan.prediction.samplesPerSecond > 0);
    assert.ok(simulation.timeline.length > 0);
  });

  it('lets one machine host several stages', () => {
    const n = req.model.layers.length;
    const { plan } = evaluateLayout(req, [0, 1, 3, n], ['a', 'a', 'b']);
    assert.deepEqual(
      plan.stages.map((s) => s.machineId),
      ['a', 'a', 'b'],
    );
  });

  it('refuses a layout with an empty stage, a gap or an unknown machine, in words', () => {
    const n = req.model.layers.length;
    assert.throws(
      () => evaluateLayout(req, [0, 2, 2, n], ['a', 'b', 'a']),
      /stage 2 has no layers/,
    );
    assert.throws(() => evaluateLayout(req, [0, 2], ['a']), PlanError);
    assert.throws(
      () => evaluateLayout(req, [0, n], ['zulu']),
      /machine zulu is not in the cluster/,
    );
  });

  it('interleaved: splits the chunks by cost for the stages’ machines, as the planner does, or takes them as given', () => {
    const inter: PlanRequest = { ...req, schedule: 'interleaved-1f1b', chunks: 2 };
    const auto = makePlan(inter);
    assert.ok(auto.ok);
    const ids = auto.plan.stages.map((s) => s.machineId);
    // The stages' own bounds say nothing of the chunks: the split is the planner's for these machines.
    const { plan } = evaluateLayout(inter, [0, 1, 9], ids);
    assert.deepEqual(plan.stages, auto.plan.stages);
    assert.deepEqual(plan.prediction, auto.plan.prediction);
    assert.match(plan.search.note, /2 chunks a stage, split by cost/);
    // p·v + 1 bounds are the chunks themselves, in pipeline order.
    const given = evaluateLayout(inter, [0, 1, 2, 3, 9], ['a', 'b']).plan;
    assert.deepEqual(
      given.stages.map((s) => s.chunks.map((c) => c.layers)),
      [
        [
          [0, 1],
          [2, 3],
        ],
        [
          [1, 2],
          [3, 9],
        ],
      ],
    );
    assert.deepEqual(parsePlan(JSON.parse(JSON.stringify(given))), given);
    // Several stages on one machine interleave too (they share its compute).
    assert.equal(evaluateLayout(inter, [0, 4, 9], ['a', 'a']).plan.stages.length, 2);
    const refusals: [Partial<PlanRequest>, number[], (string | string[])[], RegExp][] = [
      [{ microbatches: 3, batch: 63 }, [0, 4, 9], ['a', 'b'], /multiple of the stages \(2\)/],
      [{ chunks: 5 }, [0, 4, 9], ['a', 'b'], /need 10 layers/],
      [{}, [0, 4, 9], [['a', 'b'], 'b'], /with replicas are not built/],
      [{}, [0, 9], ['a'], /at least 2 stages/],
    ];
    for (const [over, bounds, machines, words] of refusals)
      assert.throws(
        () => evaluateLayout({ ...inter, ...over }, bounds, machines),
        (e: unknown) => e instanceof PlanError && words.test(e.message),
      );
  });
});
