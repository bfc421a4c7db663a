import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { trainWithCli } from '../helpers/cliTraining.js';

describe('pipefitter train --replicas (data parallelism), end to end', () => {
  it('trains mnist-mlp as 1 stage × 3 replicas on 3 local agents to ≥ 96% in one epoch', async () => {
    const { code, lines, stderr } = await trainWithCli([
      '--model',
      'mnist-mlp',
      '--dataset',
      'mnist',
      '--local',
      '3',
      '--stages',
      '1',
      '--replicas',
      '3',
      '--batch',
      '96',
      '--microbatches',
      '6',
      '--epochs',
      '1',
    ]);
    assert.equal(code, 0, stderr);

    const started = lines.find((l) => l.type === 'started') as Extract<
      RunEvent,
      { type: 'started' }
    >;
    assert.deepEqual(
      started.stages.map((s) => [s.index, s.replica]),
      [
        [0, 0],
        [0, 1],
        [0, 2],
      ],
      'one process per replica',
    );
    assert.equal(new Set(started.stages.map((s) => s.pid)).size, 3);
    const steps = lines.filter((l): l is Extract<RunEvent, { type: 'step' }> => l.type === 'step');
    assert.equal(steps.length, started.totalSteps);
    const last = steps.at(-1)!;
    assert.equal(last.timings.filter((t) => t.op === 'ALLREDUCE').length, 3);
    // Each replica ran its share of the six forwards (a third each, unless the agents measured
    // speeds a quarter apart).
    const forwards = [0, 1, 2].map(
      (r) => last.timings.filter((t) => t.op === 'F' && t.replica === r).length,
    );
    assert.equal(
      forwards.reduce((a, b) => a + b),
      6,
    );
    assert.ok(
      forwards.every((n) => n >= 1),
      `forwards per replica ${forwards.join(', ')}`,
    );
    const checkpoints = lines.filter((l) => l.type === 'checkpoint');
    assert.ok(checkpoints.length >= 1, 'replica 0 keeps the stage’s checkpoints');
    const validation = lines.find(
      (l): l is Extract<RunEvent, { type: 'validation' }> => l.type === 'validation',
    )!;
    const accuracy = validation.accuracy!;
    console.log(
      `1 stage × 3 replicas, one epoch: test accuracy ${(accuracy * 100).toFixed(2)}%, ${last.samplesPerSecond.toFixed(0)} samples/s at the end`,
    );
    assert.ok(accuracy >= 0.96, `accuracy ${accuracy}`);
    assert.ok(lines.some((l) => l.type === 'exported'));
  });
});
