import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { parsePlan, planStage, type Plan, type PlanV1 } from '../../native/planner/planSchema.js';
import { CLI, tempDir, TEST_TOKEN } from '../helpers/agents.js';
import { trainPlanLocally } from '../helpers/cliTraining.js';

const FIXTURES = path.join(import.meta.dirname, '../fixtures/plans');
const v1Fixtures = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.v1.json'));

describe('plan files earlier Pipefitters wrote', () => {
  for (const f of v1Fixtures)
    it(`${f} trains with pipefitter train --plan --local 2, keeping its split`, () => {
      const raw = JSON.parse(fs.readFileSync(path.join(FIXTURES, f), 'utf8')) as PlanV1;
      const lines = trainPlanLocally(raw.model.id, path.join(FIXTURES, f), 2);
      const started = lines.find((l) => l.type === 'started') as Extract<
        RunEvent,
        { type: 'started' }
      >;
      assert.deepEqual(
        started.stages.map((s) => s.layers),
        raw.stages.map((s) => s.layers),
      );
      assert.equal(lines.filter((l) => l.type === 'step').length, 2);
      assert.ok(lines.some((l) => l.type === 'exported'));
    });

  /** `pipefitter train --plan FILE --local 2 --steps 1` on the fixture plan changed by `change`. */
  function trainChanged(change: (plan: Plan) => void) {
    const file = path.join(FIXTURES, 'cli-mnist-mlp-2stages.v1.json');
    const plan = parsePlan(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    change(plan);
    const out = path.join(tempDir(), 'changed.json');
    fs.writeFileSync(out, JSON.stringify(plan));
    return spawnSync(
      process.execPath,
      [
        CLI,
        'train',
        '--model',
        'mnist-mlp',
        '--plan',
        out,
        '--local',
        '2',
        '--steps',
        '1',
        '--out',
        tempDir(),
        '--state-dir',
        tempDir(),
        '--token',
        TEST_TOKEN,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
  }

  it('runs a plan whose stage has two replicas, each replica on a local agent in turn', () => {
    const r = trainChanged((plan) => {
      plan.stages[1] = planStage(plan.stages[1]!.chunks, [
        ...plan.stages[1]!.replicas,
        { machineId: 'ws-02', machineName: 'ws-02', gpu: 0 },
      ]);
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /stage 1 replica 0: layers 1–2 on local-2/);
    assert.match(r.stderr, /stage 1 replica 1: layers 1–2 on local-1/);
  });

  it('refuses a plan whose stage has two chunks, before any agent starts', () => {
    const r = trainChanged((plan) => {
      const [s, e] = plan.stages[1]!.chunks[0]!.layers;
      plan.stages[1] = planStage(
        [
          { layers: [s, s + 1], layerNames: ['dense_2', 'dense_2'] },
          { layers: [s + 1, e], layerNames: ['dense_3', 'dense_3'] },
        ],
        plan.stages[1]!.replicas,
      );
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /stage 1 has 2 chunks: interleaved schedules are not built yet/);
    assert.doesNotMatch(r.stdout + r.stderr, /starting 2 local agents/);
  });
});
