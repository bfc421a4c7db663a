import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { parsePlan, planStage, type PlanV1 } from '../../native/planner/planSchema.js';
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

  it('refuses a plan whose stage has two replicas, before any agent starts', () => {
    const file = path.join(FIXTURES, 'cli-mnist-mlp-2stages.v1.json');
    const plan = parsePlan(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    plan.stages[1] = planStage(plan.stages[1]!.chunks, [
      ...plan.stages[1]!.replicas,
      { machineId: 'ws-02', machineName: 'ws-02', gpu: 0 },
    ]);
    const out = path.join(tempDir(), 'replicas.json');
    fs.writeFileSync(out, JSON.stringify(plan));
    const r = spawnSync(
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
        '--state-dir',
        tempDir(),
        '--token',
        TEST_TOKEN,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /stage 1 has 2 replicas: data parallelism is not built yet/);
    assert.doesNotMatch(r.stdout + r.stderr, /starting 2 local agents/);
  });
});
