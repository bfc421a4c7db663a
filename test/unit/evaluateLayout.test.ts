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
});
