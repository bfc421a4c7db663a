import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { parsePlan, planStage, type Plan, type PlanV1 } from '../../native/planner/planSchema.js';
import { CLI, tempDir, TEST_TOKEN } from '../helpers/agents.js';
import { trainPlanLocally, type TrainLine } from '../helpers/cliTraining.js';

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

  /** `pipefitter train --model MODEL --plan FILE --local 2` and the further options. */
  function trainOnPlan(model: string, planFile: string, ...extra: string[]) {
    return spawnSync(
      process.execPath,
      [
        CLI,
        'train',
        '--model',
        model,
        '--plan',
        planFile,
        '--local',
        '2',
        '--out',
        tempDir(),
        '--state-dir',
        tempDir(),
        '--token',
        TEST_TOKEN,
        ...extra,
      ],
      { encoding: 'utf8', timeout: 180_000 },
    );
  }

  /** `pipefitter train --plan FILE --local 2 --steps 1` on the fixture plan changed by `change`. */
  function trainChanged(change: (plan: Plan) => void) {
    const file = path.join(FIXTURES, 'cli-mnist-mlp-2stages.v1.json');
    const plan = parsePlan(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    change(plan);
    const out = path.join(tempDir(), 'changed.json');
    fs.writeFileSync(out, JSON.stringify(plan));
    return trainOnPlan('mnist-mlp', out, '--steps', '1');
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

  /** The deep-mlp fixture as 2 stages of 2 chunks: stage 0 holds layers 0–1 and 4–5, stage 1 2–3 and 6–8. */
  function interleavedPlan(schedule: Plan['schedule']): string {
    const file = path.join(FIXTURES, 'designer-deep-mlp.v1.json');
    const plan = parsePlan(JSON.parse(fs.readFileSync(file, 'utf8')), file);
    const chunk = (a: number, b: number) => ({
      layers: [a, b] as [number, number],
      layerNames: [`dense_${a + 1}`, `dense_${b}`] as [string, string],
    });
    plan.schedule = schedule;
    plan.microbatches = 4;
    plan.stages = [
      planStage([chunk(0, 2), chunk(4, 6)], plan.stages[0]!.replicas),
      planStage([chunk(2, 4), chunk(6, 9)], plan.stages.at(-1)!.replicas),
    ];
    const out = path.join(tempDir(), 'interleaved.json');
    fs.writeFileSync(out, JSON.stringify(plan));
    return out;
  }

  const trainDeep = (planFile: string, ...extra: string[]) =>
    trainOnPlan('deep-mlp', planFile, '--json', ...extra);

  it('runs an interleaved plan: 2 stages of 2 chunks on 2 local agents, an epoch and its validation', () => {
    const r = trainDeep(
      interleavedPlan('interleaved-1f1b'),
      '--dataset',
      'synthetic',
      '--batch',
      '256',
      '--epochs',
      '1',
    );
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as TrainLine);
    const started = lines.find((l) => l.type === 'started') as Extract<
      RunEvent,
      { type: 'started' }
    >;
    assert.deepEqual(
      started.stages.map((s) => s.chunks),
      [
        [
          [0, 2],
          [4, 6],
        ],
        [
          [2, 4],
          [6, 9],
        ],
      ],
    );
    // synthetic: 8,192 training samples in batches of 256.
    assert.equal(lines.filter((l) => l.type === 'step').length, 32);
    const validation = lines.find((l) => l.type === 'validation') as Extract<
      RunEvent,
      { type: 'validation' }
    >;
    assert.ok(validation, 'validation after the epoch');
    assert.equal(validation.samples, 2000);
    assert.ok(Number.isFinite(validation.loss) && validation.accuracy !== null);
    assert.ok(lines.some((l) => l.type === 'exported'));
  });

  it('refuses stages of several chunks under a schedule that does not interleave, before any agent starts', () => {
    const r = trainDeep(interleavedPlan('1f1b'), '--steps', '1');
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /stage 0 has 2 chunks, which only the interleaved-1f1b schedule runs/);
    assert.doesNotMatch(r.stdout + r.stderr, /starting 2 local agents/);
  });
});
