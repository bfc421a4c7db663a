import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { trainWithCli as train } from '../helpers/cliTraining.js';

describe('local SGD (--sync local:H)', () => {
  it('mnist-mlp on 2 replicas averaging every 10 steps reaches ≥ 96% in one epoch, with no per-step all-reduce', async () => {
    const { code, lines, stderr } = await train([
      '--model',
      'mnist-mlp',
      '--dataset',
      'mnist',
      '--local',
      '2',
      '--stages',
      '1',
      '--replicas',
      '2',
      '--sync',
      'local:10',
      '--epochs',
      '1',
    ]);
    assert.equal(code, 0, stderr);
    const steps = lines.filter((l): l is Extract<RunEvent, { type: 'step' }> => l.type === 'step');
    assert.ok(steps.length > 100);
    assert.ok(
      steps.every((s) => s.timings.every((t) => t.op !== 'ALLREDUCE')),
      'the replicas do not sum gradients every step',
    );
    assert.ok(steps.at(-1)!.loss < steps[0]!.loss, 'the loss (both replicas’ samples) fell');
    // The outer steps are run events (the loss chart marks them): every 10 steps, and the last.
    const outer = lines.filter(
      (l): l is Extract<RunEvent, { type: 'outer' }> => l.type === 'outer',
    );
    const last = steps.at(-1)!.step;
    assert.ok(outer.length >= Math.floor(steps.length / 10));
    assert.ok(
      outer.every((o) => (o.step + 1) % 10 === 0 || o.step === last),
      'at the set steps',
    );
    assert.equal(outer.at(-1)!.step, last, 'the trained model is the average');
    const validation = lines.find(
      (l): l is Extract<RunEvent, { type: 'validation' }> => l.type === 'validation',
    )!;
    console.log(
      `local SGD, 2 replicas, average every 10 steps: test accuracy after one epoch ${(validation.accuracy! * 100).toFixed(2)}%`,
    );
    assert.ok(validation.accuracy! >= 0.96, `accuracy ${validation.accuracy}`);
  });

  it('refuses local SGD without replicas, and a malformed --sync, in words', async () => {
    const none = await train([
      '--model',
      'mnist-mlp',
      '--dataset',
      'mnist',
      '--local',
      '1',
      '--sync',
      'local:5',
      '--steps',
      '2',
    ]);
    assert.notEqual(none.code, 0);
    assert.match(
      none.stderr,
      /local SGD \(sync local:5\) needs every stage run as the same number \(≥ 2\) of replicas/,
    );
    const bad = await train(['--model', 'mnist-mlp', '--sync', 'local:x', '--local', '1']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /sync must be every-step or local:H/);
  });
});
