import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import type { Coordinator } from '../../native/coordinator/coordinator.js';
import { RunController, type RunEvent } from '../../native/coordinator/runController.js';
import type { RunStagePlacement } from '../../native/coordinator/runSpec.js';
import { openDataset } from '../../native/data/openDataset.js';
import { EpochSampler } from '../../native/data/sampler.js';
import { getModel } from '../../native/model/catalogue.js';
import { datasetFeed } from '../../native/pipeline/datasetFeed.js';
import { ReferenceTrainer } from '../../native/pipeline/referenceTrainer.js';
import { startAgent, stopAgent, testBeaconPort, type RunningAgent } from '../helpers/agents.js';
import { coordinatorFor } from '../helpers/lab.js';
import { evenSlices, maxAbsDiff } from '../helpers/training.js';

const STEPS = 10;
const BATCH = 48;
const M = 6;
const SEED = 11;

/**
 * Layouts as agent indexes: stage k runs on `places[k]` (replica 0 first). `shares` splits the
 * micro-batches unevenly (as for machines of different speeds) instead of round robin.
 */
const layouts: { name: string; places: number[][]; shares?: (number[] | undefined)[] }[] = [
  { name: '1 stage × 3 replicas', places: [[0, 1, 2]] },
  {
    name: '2 stages × 2 replicas',
    places: [
      [0, 1],
      [2, 3],
    ],
  },
  { name: '3 stages, the middle one on 2 replicas', places: [[0], [1, 2], [3]] },
  { name: '1 stage × 2 replicas, shares 1 : 2', places: [[0, 1]], shares: [[1, 2]] },
];

describe('data-parallel replicas across agent processes equal single-process training', () => {
  let tf: Tf;
  const agents: RunningAgent[] = [];
  let coordinator: Coordinator;
  let run = 0;

  before(async () => {
    tf = (await initBackend({ prefer: 'wasm' })).tf;
    const beaconPort = testBeaconPort();
    agents.push(
      ...(await Promise.all([1, 2, 3, 4].map((i) => startAgent({ name: `dp-${i}`, beaconPort })))),
    );
    coordinator = await coordinatorFor(agents);
  });
  after(async () => {
    await coordinator?.stop();
    await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
  });

  for (const modelId of ['mnist-mlp', 'char-gru']) {
    for (const layout of layouts) {
      for (const opt of ['sgd', 'adam'] as const) {
        it(`${modelId}, ${layout.name}, ${opt}: weights after ${STEPS} steps within 1e-4`, async () => {
          const spec = getModel(modelId);
          const datasetId = spec.dataset === 'text' ? 'text' : 'mnist';
          const optimizer = { name: opt, learningRate: opt === 'sgd' ? 0.1 : 0.001 } as const;
          const node = (i: number) => agents[i]!.ready.nodeId;
          const stages: RunStagePlacement[] = evenSlices(
            spec.layers.length,
            layout.places.length,
          ).map((s, k) => {
            const [first, ...more] = layout.places[k]!;
            const shares = layout.shares?.[k];
            return {
              ...s,
              nodeId: node(first!),
              ...(more.length ? { replicas: more.map((i) => ({ nodeId: node(i) })) } : {}),
              ...(shares ? { shares } : {}),
            };
          });
          const controller = new RunController(coordinator, tf, {
            runId: `dp-${++run}`,
            model: spec,
            dataset: datasetId,
            stages,
            schedule: '1f1b',
            microbatches: M,
            batch: BATCH,
            optimizer,
            steps: STEPS,
            seed: SEED,
            backend: 'wasm',
          });
          const events: RunEvent[] = [];
          controller.on('event', (e) => events.push(e));
          await controller.start();
          await controller.finishedPromise();
          const piped = await controller.gatherWeights();
          await controller.shutdown();

          const ds = openDataset(datasetId, spec);
          const feed = datasetFeed(
            ds,
            new EpochSampler(ds.size('train'), BATCH, SEED),
            M,
            spec.inputShape,
          );
          const ref = new ReferenceTrainer(tf, spec, M, optimizer, feed);
          const refLosses = Array.from({ length: STEPS }, (_, s) => ref.step(s));
          const refWeights = ref.weights();
          ref.dispose();

          const steps = events.filter((e) => e.type === 'step');
          assert.equal(steps.length, STEPS);
          steps.forEach((e, s) =>
            assert.ok(
              Math.abs(e.loss - refLosses[s]!) < 1e-4,
              `step ${s}: loss ${e.loss} vs ${refLosses[s]}`,
            ),
          );
          const processes = layout.places.flat().length;
          assert.equal(steps[0]!.stages.length, processes, 'a report from every replica');
          // The replicas' timings include the all-reduce before each step.
          const allReduces = steps[0]!.timings.filter((t) => t.op === 'ALLREDUCE').length;
          assert.equal(
            allReduces,
            layout.places.filter((p) => p.length > 1).flat().length,
            'one ALLREDUCE per replica of each replicated stage',
          );
          const diff = maxAbsDiff(piped, refWeights);
          assert.ok(diff < 1e-4, `max abs weight difference ${diff}`);
        });
      }
    }
  }
});

describe('a replica much slower than the other (its agent forces the cpu backend)', () => {
  let tf: Tf;
  const agents: RunningAgent[] = [];
  let coordinator: Coordinator;

  before(async () => {
    tf = (await initBackend({ prefer: 'wasm' })).tf;
    const beaconPort = testBeaconPort();
    agents.push(
      await startAgent({ name: 'fast', beaconPort }),
      await startAgent({ name: 'slow', beaconPort, env: { PIPEFITTER_BACKEND: 'cpu' } }),
    );
    coordinator = await coordinatorFor(agents);
  });
  after(async () => {
    await coordinator?.stop();
    await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
  });

  it('mnist-mlp, 1 stage × 2 replicas on wasm and cpu: the run waits for the slow one, and still equals single-process training', async () => {
    const spec = getModel('mnist-mlp');
    const optimizer = { name: 'sgd', learningRate: 0.1 } as const;
    const controller = new RunController(coordinator, tf, {
      runId: `dp-slow-${process.pid}`,
      model: spec,
      dataset: 'mnist',
      stages: [
        {
          start: 0,
          end: spec.layers.length,
          nodeId: agents[0]!.ready.nodeId,
          replicas: [{ nodeId: agents[1]!.ready.nodeId }],
        },
      ],
      schedule: '1f1b',
      microbatches: M,
      batch: BATCH,
      optimizer,
      steps: STEPS,
      seed: SEED,
    });
    const events: RunEvent[] = [];
    controller.on('event', (e) => events.push(e));
    await controller.start();
    await controller.finishedPromise();
    const piped = await controller.gatherWeights();
    await controller.shutdown();
    const started = events.find((e) => e.type === 'started')!;
    assert.deepEqual(
      started.stages.map((s) => s.backend),
      ['wasm', 'cpu'],
    );
    // The slow replica's busy time is several times the fast one's: they did differ.
    const last = events.filter((e) => e.type === 'step').at(-1)!;
    const [fast, slow] = last.stages.map((s) => s.busyMs);
    console.log(`replica busy per step: wasm ${fast!.toFixed(1)} ms, cpu ${slow!.toFixed(1)} ms`);
    assert.ok(slow! > 2 * fast!, `cpu ${slow} ms against wasm ${fast} ms`);
    const ds = openDataset('mnist', spec);
    const feed = datasetFeed(
      ds,
      new EpochSampler(ds.size('train'), BATCH, SEED),
      M,
      spec.inputShape,
    );
    const ref = new ReferenceTrainer(tf, spec, M, optimizer, feed);
    for (let s = 0; s < STEPS; s++) ref.step(s);
    const diff = maxAbsDiff(piped, ref.weights());
    ref.dispose();
    assert.ok(diff < 1e-4, `max abs weight difference ${diff}`);
  });
});
