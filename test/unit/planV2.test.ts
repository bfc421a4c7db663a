import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { getModel } from '../../native/model/catalogue.js';
import { clusterFromJson } from '../../native/planner/cluster.js';
import { makePlan } from '../../native/planner/plan.js';
import {
  migratePlan,
  parsePlan,
  planStage,
  PLAN_VERSION,
  type Plan,
  type PlanV1,
} from '../../native/planner/planSchema.js';
import { planPlacements, runnableStages } from '../../native/planner/planTopology.js';
import { addressOf, oneFOneBSchedule } from '../../native/planner/schedule.js';
import { parseRecord } from '../../native/runs/runStore.js';

const FIXTURES = path.join(import.meta.dirname, '../fixtures/plans');
const v1Fixtures = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.v1.json'));
const readJson = (file: string) => JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;

function twoStagePlan(): Plan {
  const r = makePlan({
    model: getModel('deep-mlp'),
    source: 'catalogue',
    path: null,
    cluster: clusterFromJson({
      machines: [
        { id: 'ws-01', gflops: 40, memoryBytes: 8e9 },
        { id: 'ws-02', gflops: 40, memoryBytes: 8e9 },
      ],
    }),
    stages: 2,
    batch: 64,
    microbatches: 4,
    schedule: '1f1b',
    optimizer: 'adam',
    preset: 'balanced',
  });
  assert.ok(r.ok);
  return r.plan;
}

describe('plan file version 2', () => {
  it('is what the planner writes, and round-trips through JSON unchanged', () => {
    const plan = twoStagePlan();
    assert.equal(plan.version, PLAN_VERSION);
    assert.equal(PLAN_VERSION, 2);
    const json = JSON.stringify(plan);
    const back = parsePlan(JSON.parse(json));
    assert.deepEqual(back, plan);
    assert.equal(JSON.stringify(back), json);
    for (const s of back.stages) {
      assert.equal(s.chunks.length, 1);
      assert.equal(s.replicas.length, 1);
      assert.equal(s.replicas[0]!.gpu, null);
      assert.deepEqual(s.layers, s.chunks[0]!.layers);
      assert.equal(s.machineId, s.replicas[0]!.machineId);
    }
  });

  it('reads a stage written with only its chunks and replicas, filling in the repeated fields', () => {
    const plan = twoStagePlan();
    const bare = {
      ...plan,
      stages: plan.stages.map((s) => ({ chunks: s.chunks, replicas: s.replicas })),
    };
    assert.deepEqual(parsePlan(JSON.parse(JSON.stringify(bare))), plan);
  });

  it('refuses repeated fields that disagree with the chunks or replicas, naming the field', () => {
    const plan = structuredClone(twoStagePlan());
    plan.stages[1]!.machineName = 'elsewhere';
    assert.throws(
      () => parsePlan(JSON.parse(JSON.stringify(plan)), 'p.json'),
      /p\.json: stages\.1\.machineName: is "elsewhere" but the stage's first replica says "ws-0\d"/,
    );
  });

  it('checks that the chunks cover the model in pipeline order (chunk 0 of every stage, then chunk 1)', () => {
    const base = twoStagePlan();
    const names: [string, string] = ['x', 'y'];
    const place = (id: string) => [{ machineId: id, machineName: id, gpu: null }];
    // deep-mlp has 9 layers: stage 0 holds 0–2 and 5–6, stage 1 holds 3–4 and 7–8 (interleaved).
    const interleaved = {
      ...base,
      stages: [
        planStage(
          [
            { layers: [0, 3], layerNames: names },
            { layers: [5, 7], layerNames: names },
          ],
          place('ws-01'),
        ),
        planStage(
          [
            { layers: [3, 5], layerNames: names },
            { layers: [7, 9], layerNames: names },
          ],
          place('ws-02'),
        ),
      ],
    };
    const parsed = parsePlan(JSON.parse(JSON.stringify(interleaved)));
    assert.equal(parsed.stages[0]!.chunks.length, 2);
    const wrong = structuredClone(interleaved);
    wrong.stages[1]!.chunks[1]!.layers = [6, 9];
    assert.throws(
      () => parsePlan(wrong),
      /stage 1 chunk 1 does not start where stage 0 chunk 1 ends/,
    );
  });

  it('refuses versions it does not read', () => {
    assert.throws(
      () => parsePlan({ ...twoStagePlan(), version: 3 }, 'new.json'),
      /new\.json: plan version 3 is not supported \(this Pipefitter reads versions 1 and 2\)/,
    );
  });
});

describe('version 1 plan files', () => {
  it('has the fixtures today’s writers made', () => {
    assert.ok(v1Fixtures.length >= 3, v1Fixtures.join(', '));
  });

  for (const f of v1Fixtures)
    it(`${f} loads as version 2, one chunk and one unpinned replica per stage`, () => {
      const raw = readJson(path.join(FIXTURES, f)) as PlanV1;
      assert.equal(raw.version, 1);
      const plan = parsePlan(raw, f);
      assert.equal(plan.version, 2);
      assert.deepEqual(plan, migratePlan(raw));
      assert.equal(plan.stages.length, raw.stages.length);
      plan.stages.forEach((s, k) => {
        const old = raw.stages[k]!;
        assert.deepEqual(s.chunks, [{ layers: old.layers, layerNames: old.layerNames }]);
        assert.deepEqual(s.replicas, [
          { machineId: old.machineId, machineName: old.machineName, gpu: null },
        ]);
      });
      assert.deepEqual(plan.prediction, raw.prediction);
      assert.deepEqual(
        runnableStages(plan).map((s) => [s.start, s.end, s.placement.machineId]),
        raw.stages.map((s) => [s.layers[0], s.layers[1], s.machineId]),
      );
      // Written again, it is a version 2 file that reads back the same.
      assert.deepEqual(parsePlan(JSON.parse(JSON.stringify(plan))), plan);
    });

  it('in an old run file’s meta record still reads, as version 2', () => {
    const raw = readJson(path.join(FIXTURES, 'cli-mnist-mlp-2stages.v1.json'));
    const record = parseRecord({
      kind: 'meta',
      seq: 0,
      t: 1,
      id: 'run-old',
      plan: raw,
      settings: { name: 'old run', dataset: 'mnist', learningRate: 0.001, optimizer: 'adam' },
      machines: ['ws-07', 'ws-01'],
    });
    assert.ok(record && record.kind === 'meta');
    assert.equal(record.plan.version, 2);
    assert.deepEqual(record.plan, parsePlan(raw));
  });
});

describe('what the runtime runs of a plan', () => {
  it('runs every replica of a stage, and chunks under an interleaved schedule; refuses chunks elsewhere or with replicas', () => {
    const plan = twoStagePlan();
    const two = structuredClone(plan);
    two.stages[1] = planStage(two.stages[1]!.chunks, [
      ...two.stages[1]!.replicas,
      { machineId: 'ws-03', machineName: 'ws-03', gpu: 1 },
    ]);
    assert.deepEqual(
      runnableStages(two)[1]!.replicas.map((p) => [p.machineId, p.gpu]),
      [
        [plan.stages[1]!.machineId, plan.stages[1]!.replicas[0]!.gpu],
        ['ws-03', 1],
      ],
    );
    assert.deepEqual(
      planPlacements(two).map((p) => [p.stage, p.replica, p.placement.machineId]),
      [
        [0, 0, plan.stages[0]!.machineId],
        [1, 0, plan.stages[1]!.machineId],
        [1, 1, 'ws-03'],
      ],
    );
    const chunks = structuredClone(plan);
    const [s, e] = chunks.stages[0]!.chunks[0]!.layers;
    chunks.stages[0] = planStage(
      [
        { layers: [s, s + 1], layerNames: ['a', 'a'] },
        { layers: [s + 1, e], layerNames: ['b', 'b'] },
      ],
      chunks.stages[0]!.replicas,
    );
    assert.throws(
      () => runnableStages(chunks),
      /stage 0 has 2 chunks, which only the interleaved-1f1b schedule runs \(the plan says 1f1b\)/,
    );
    chunks.schedule = 'interleaved-1f1b';
    assert.deepEqual(runnableStages(chunks)[0]!.chunks, [
      { start: s, end: s + 1 },
      { start: s + 1, end: e },
    ]);
    const both = structuredClone(chunks);
    both.stages[0] = planStage(both.stages[0]!.chunks, [
      ...both.stages[0]!.replicas,
      { machineId: 'ws-03', machineName: 'ws-03', gpu: 1 },
    ]);
    assert.throws(
      () => runnableStages(both),
      /stage 0 has 2 chunks and 2 replicas: interleaved schedules with replicas are not built/,
    );
  });

  it('addresses every action by stage, chunk, replica and micro-batch', () => {
    const sched = oneFOneBSchedule(2, 2);
    const addresses = sched.actions[1]!.map((a) => addressOf(1, a));
    assert.deepEqual(addresses[0], { stage: 1, chunk: 0, replica: 0, mb: 0 });
    assert.deepEqual(addresses.at(-1), { stage: 1, chunk: 0, replica: 0, mb: -1 });
    assert.deepEqual(addressOf(0, { op: 'F', mb: 3, chunk: 1 }, 2), {
      stage: 0,
      chunk: 1,
      replica: 2,
      mb: 3,
    });
  });
});
