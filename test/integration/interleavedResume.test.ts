import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/common/runEvents.js';
import type { RunSpec, RunStagePlacement } from '../../native/coordinator/runSpec.js';
import { getModel } from '../../native/model/catalogue.js';
import type { OptimizerSpec } from '../../native/pipeline/optimizer.js';
import { useLab } from '../helpers/lab.js';
import { runToEnd } from '../helpers/runToEnd.js';
import { evenSlices, maxAbsDiff } from '../helpers/training.js';

const STEPS = 40;
const EVERY = 10;

type Started = Extract<RunEvent, { type: 'started' }>;
type Resumed = Extract<RunEvent, { type: 'resumed' }>;

/** deep-mlp (9 layers) as p stages of 2 chunks on the given machines: chunk c of stage k is c·p + k. */
function interleaved(nodeIds: string[]): RunStagePlacement[] {
  const p = nodeIds.length;
  const slices = evenSlices(9, 2 * p);
  return nodeIds.map((nodeId, k) => {
    const chunks = [slices[k]!, slices[p + k]!];
    return { ...chunks[0]!, chunks, nodeId };
  });
}

/**
 * An interleaved run survives what any run survives: its stages' checkpoints hold every chunk's
 * weights and optimizer state, so a lost stage process resumes bit for bit on the same layout, and a
 * lost machine resumes from the driver's copy put back in model order and re-sliced for a new plan.
 */
describe('interleaved runs resume from their checkpoints', () => {
  const lab = useLab('il', 3, { benchmark: true });
  const agents = lab.agents;
  let runNo = 0;

  function spec(stages: RunStagePlacement[], optimizer: OptimizerSpec): RunSpec {
    return {
      runId: `il-${++runNo}-${process.pid}`,
      model: getModel('deep-mlp'),
      dataset: 'mnist',
      stages,
      schedule: 'interleaved-1f1b',
      microbatches: 6,
      batch: 60,
      optimizer,
      steps: STEPS,
      seed: 3,
      backend: 'wasm',
      checkpointEvery: EVERY,
      onFailure: 'resume',
    };
  }

  const train = (s: RunSpec, onEvent?: (e: RunEvent) => void) =>
    runToEnd(lab.coordinator, lab.tf, s, onEvent);

  it('adam, 2 stages × 2 chunks: SIGKILL of a stage process → resumed from its checkpoint, bit for bit', async () => {
    const ids = agents.slice(0, 2).map((a) => a.ready.nodeId);
    const adam = { name: 'adam', learningRate: 0.001 } as const;
    const clean = await train(spec(interleaved(ids), adam));
    let started: Started | null = null;
    let killedAfter = -1;
    const lost = await train(spec(interleaved(ids), adam), (e) => {
      if (e.type === 'started') started = e;
      if (e.type === 'checkpoint' && e.step === 2 * EVERY && killedAfter < 0) {
        killedAfter = e.step;
        process.kill(started!.stages[1]!.pid, 'SIGKILL');
      }
    });
    const resumed = lost.events.filter((e): e is Resumed => e.type === 'resumed');
    assert.equal(resumed.length, 1, 'resumed once');
    assert.equal(resumed[0]!.fromStep, killedAfter);
    assert.deepEqual(
      resumed[0]!.stages.map((s) => s.chunks),
      interleaved(ids).map((s) => s.chunks!.map((c) => [c.start, c.end])),
      'on the same layout, chunks and all',
    );
    assert.equal(lost.events.filter((e) => e.type === 'step').at(-1)!.step, STEPS - 1);
    assert.equal(maxAbsDiff(lost.weights, clean.weights), 0, 'bit for bit');
  });

  it('momentum, 3 stages × 2 chunks: a lost machine → re-planned as 2 stages × 2 chunks from the driver’s copy, within 1e-4', async () => {
    const ids = agents.map((a) => a.ready.nodeId);
    const momentum: OptimizerSpec = { name: 'momentum', learningRate: 0.01, momentum: 0.9 };
    const clean = await train(spec(interleaved(ids), momentum));
    let killed = false;
    const lost = await train(spec(interleaved(ids), momentum), (e) => {
      if (e.type === 'checkpoint' && e.step === 2 * EVERY && !killed) {
        killed = true;
        agents[2]!.proc.kill('SIGKILL');
      }
    });
    const resumed = lost.events.filter((e): e is Resumed => e.type === 'resumed');
    assert.equal(resumed.length, 1, 'resumed once');
    const r = resumed[0]!;
    assert.match(r.reason, /re-planned without il-3 onto 2 machines/);
    assert.deepEqual(
      r.stages.map((s) => s.chunks?.length),
      [2, 2],
      'still interleaved: 2 stages of 2 chunks',
    );
    assert.ok(r.fromStep >= EVERY && r.fromStep <= 2 * EVERY, `from a copy: ${r.fromStep}`);
    assert.equal(lost.events.filter((e) => e.type === 'step').at(-1)!.step, STEPS - 1);
    const diff = maxAbsDiff(lost.weights, clean.weights);
    console.log(
      `interleaved, machine lost after step ${2 * EVERY}: ${r.reason}; from step ${r.fromStep}; now ${r.stages.map((s) => `stage ${s.index} layers ${(s.chunks ?? [s.layers]).map(([a, b]) => `${a}–${b - 1}`).join(', ')}`).join('; ')}; weights within ${diff} of the uninterrupted run`,
    );
    assert.ok(diff < 1e-4, `weights within 1e-4 of the uninterrupted run: ${diff}`);
  });
});
