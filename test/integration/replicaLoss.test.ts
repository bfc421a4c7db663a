import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/common/runEvents.js';
import type { RunSpec } from '../../native/coordinator/runSpec.js';
import { getModel } from '../../native/model/catalogue.js';
import type { NamedWeight } from '../../native/pipeline/stageExecutor.js';
import { useLab } from '../helpers/lab.js';
import { runToEnd } from '../helpers/runToEnd.js';
import { maxAbsDiff } from '../helpers/training.js';

const STEPS = 60;
const EVERY = 10;

type Started = Extract<RunEvent, { type: 'started' }>;
type Resumed = Extract<RunEvent, { type: 'resumed' }>;

/**
 * A data-parallel run (1 stage × 3 replicas) that loses a replica: its process (resumed on the same
 * machines from the driver's copy, since only replica 0 keeps a checkpoint file) or its whole machine
 * (re-planned over the two left). Either way it ends as the uninterrupted run would.
 */
describe('a replicated run survives the loss of a replica', () => {
  const lab = useLab('rl', 3, { benchmark: true });
  const agents = lab.agents;
  let runNo = 0;

  function spec(): RunSpec {
    const model = getModel('mnist-mlp');
    return {
      runId: `rl-${++runNo}-${process.pid}`,
      model,
      dataset: 'mnist',
      stages: [
        {
          start: 0,
          end: model.layers.length,
          nodeId: agents[0]!.ready.nodeId,
          replicas: [{ nodeId: agents[1]!.ready.nodeId }, { nodeId: agents[2]!.ready.nodeId }],
        },
      ],
      schedule: '1f1b',
      microbatches: 6,
      batch: 96,
      optimizer: { name: 'adam', learningRate: 0.001 },
      steps: STEPS,
      seed: 4,
      backend: 'wasm',
      checkpointEvery: EVERY,
      onFailure: 'resume',
    };
  }

  const train = (onEvent?: (e: RunEvent) => void) =>
    runToEnd(lab.coordinator, lab.tf, spec(), onEvent);

  let clean: { weights: NamedWeight[]; events: RunEvent[] };

  it('SIGKILL of replica 2’s process: every replica resumes from the driver’s copy, weights as uninterrupted', async () => {
    clean = await train();
    let started: Started | null = null;
    let killed = false;
    const lost = await train((e) => {
      if (e.type === 'started') started = e;
      // Once: a resumed run may pass the same step again (when the copy of its checkpoint could not
      // be made before the kill, it resumes from the one before).
      if (e.type === 'checkpoint' && e.step === 2 * EVERY && !killed) {
        killed = true;
        const victim = started!.stages.find((s) => s.replica === 2)!;
        process.kill(victim.pid, 'SIGKILL');
      }
    });
    const resumed = lost.events.filter((e): e is Resumed => e.type === 'resumed');
    assert.equal(resumed.length, 1, 'resumed once');
    console.log(`replica process lost: ${resumed[0]!.reason}; from step ${resumed[0]!.fromStep}`);
    assert.match(resumed[0]!.reason, /stage 0 replica 2 on rl-3 .*killed by SIGKILL/);
    assert.equal(resumed[0]!.stages.length, 3, 'on the same three replicas');
    const diff = maxAbsDiff(lost.weights, clean.weights);
    assert.ok(diff < 1e-6, `weights as the uninterrupted run: ${diff}`);
  });

  it('SIGKILL of a replica’s machine: re-planned over the two machines left, within 1e-4', async () => {
    const victim = agents[2]!;
    let killed = false;
    const lost = await train((e) => {
      if (e.type === 'checkpoint' && e.step === 2 * EVERY && !killed) {
        killed = true;
        victim.proc.kill('SIGKILL');
      }
    });
    const resumed = lost.events.filter((e): e is Resumed => e.type === 'resumed');
    assert.equal(resumed.length, 1, 'resumed once');
    const r = resumed[0]!;
    console.log(
      `replica machine lost: ${r.reason}; from step ${r.fromStep}, now ${r.stages.map((s) => `stage ${s.index}${s.replica === undefined ? '' : ` replica ${s.replica}`} on ${s.node}`).join(', ')}`,
    );
    assert.match(r.reason, /re-planned without rl-3/);
    assert.ok(r.stages.every((s) => !/rl-3/.test(s.node)));
    assert.equal(lost.events.filter((e) => e.type === 'failed').length, 0);
    const steps = lost.events.filter((e) => e.type === 'step').map((e) => e.step);
    assert.equal(steps.at(-1), STEPS - 1);
    const diff = maxAbsDiff(lost.weights, clean.weights);
    assert.ok(diff < 1e-4, `weights within 1e-4 of the uninterrupted run: ${diff}`);
  });
});
