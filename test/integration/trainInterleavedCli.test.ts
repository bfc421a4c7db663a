import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { trainWithCli } from '../helpers/cliTraining.js';

describe('pipefitter train --schedule interleaved-1f1b --chunks V, end to end', () => {
  it('plans deep-mlp as 2 stages of 2 chunks over 2 local agents and trains it, each step with both chunks’ actions', async () => {
    const { code, lines, stderr } = await trainWithCli([
      '--model',
      'deep-mlp',
      '--dataset',
      'synthetic',
      '--local',
      '2',
      '--schedule',
      'interleaved-1f1b',
      '--chunks',
      '2',
      '--batch',
      '64',
      '--microbatches',
      '4',
      '--steps',
      '4',
    ]);
    assert.equal(code, 0, stderr);
    const started = lines.find((l) => l.type === 'started') as Extract<
      RunEvent,
      { type: 'started' }
    >;
    const chunks = started.stages.map((s) => s.chunks ?? []);
    assert.deepEqual(
      chunks.map((c) => c.length),
      [2, 2],
      'two chunks on each stage',
    );
    // Virtual stage c·p + k: stage 0's chunk 0, stage 1's chunk 0, stage 0's chunk 1, stage 1's chunk 1.
    const virtual = [chunks[0]![0]!, chunks[1]![0]!, chunks[0]![1]!, chunks[1]![1]!];
    virtual.forEach(([start], i) =>
      assert.equal(start, i === 0 ? 0 : virtual[i - 1]![1], `virtual stage ${i} follows on`),
    );
    assert.equal(virtual.at(-1)![1], 9);
    const steps = lines.filter((l) => l.type === 'step') as Extract<RunEvent, { type: 'step' }>[];
    assert.equal(steps.length, 4);
    assert.ok(steps.every((s) => Number.isFinite(s.loss)));
    // Each stage runs F and B for both its chunks: 4 micro-batches × 2 chunks of each.
    const last = steps.at(-1)!;
    for (const stage of [0, 1])
      for (const op of ['F', 'B'])
        assert.equal(
          last.timings.filter((t) => t.stage === stage && t.op === op).length,
          8,
          `stage ${stage}: ${op} per micro-batch and chunk`,
        );
    assert.equal(last.timings.filter((t) => t.stage === 0 && t.chunk === 1).length > 0, true);
  });

  it('refuses --chunks without interleaving, and micro-batches the stages do not divide, in words', async () => {
    const flat = await trainWithCli([
      '--model',
      'deep-mlp',
      '--local',
      '2',
      '--schedule',
      '1f1b',
      '--chunks',
      '2',
    ]);
    assert.equal(flat.code, 2);
    assert.match(flat.stderr, /--chunks applies to --schedule interleaved-1f1b only/);
    const odd = await trainWithCli([
      '--model',
      'deep-mlp',
      '--local',
      '2',
      '--schedule',
      'interleaved-1f1b',
      '--microbatches',
      '3',
      '--batch',
      '48',
      '--steps',
      '1',
    ]);
    assert.notEqual(odd.code, 0);
    assert.match(odd.stderr, /needs the micro-batches \(3\) to be a multiple of the stages \(2\)/);
  });
});
