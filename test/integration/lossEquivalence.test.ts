import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import type { Coordinator } from '../../native/coordinator/coordinator.js';
import { RunController, type RunEvent } from '../../native/coordinator/runController.js';
import { openDataset } from '../../native/data/openDataset.js';
import { EpochSampler } from '../../native/data/sampler.js';
import { LOSS_NAMES } from '../../native/model/spec.js';
import { datasetFeed } from '../../native/pipeline/datasetFeed.js';
import { ReferenceTrainer } from '../../native/pipeline/referenceTrainer.js';
import { startAgent, stopAgent, testBeaconPort, type RunningAgent } from '../helpers/agents.js';
import { coordinatorFor } from '../helpers/lab.js';
import { lossModel } from '../helpers/lossModels.js';
import { maxAbsDiff } from '../helpers/training.js';

const STEPS = 10;
const BATCH = 32;
const M = 4;
const SEED = 5;

describe('every loss trains through 2 real stage processes as in one process', () => {
  let tf: Tf;
  const agents: RunningAgent[] = [];
  let coordinator: Coordinator;
  let run = 0;

  before(async () => {
    tf = (await initBackend({ prefer: 'wasm' })).tf;
    const beaconPort = testBeaconPort();
    agents.push(
      ...(await Promise.all([1, 2].map((i) => startAgent({ name: `loss-${i}`, beaconPort })))),
    );
    coordinator = await coordinatorFor(agents);
  });
  after(async () => {
    await coordinator?.stop();
    await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
  });

  for (const loss of LOSS_NAMES) {
    it(`${loss}: losses and weights after ${STEPS} steps within 1e-4`, async () => {
      // The second stage recomputes its forward (a LayerNormalization), the first keeps activations.
      const spec = lossModel(loss, true);
      const optimizer = { name: 'sgd', learningRate: 0.1 } as const;
      const controller = new RunController(coordinator, tf, {
        runId: `loss-${++run}`,
        model: spec,
        dataset: 'synthetic',
        stages: [
          { start: 0, end: 2, nodeId: agents[0]!.ready.nodeId },
          { start: 2, end: spec.layers.length, nodeId: agents[1]!.ready.nodeId },
        ],
        schedule: '1f1b',
        microbatches: M,
        batch: BATCH,
        optimizer,
        steps: STEPS,
        seed: SEED,
        backend: 'wasm',
        valBatch: 256,
      });
      const events: RunEvent[] = [];
      controller.on('event', (e) => events.push(e));
      await controller.start();
      await controller.finishedPromise();
      const piped = await controller.gatherWeights();
      await controller.shutdown();

      const ds = openDataset('synthetic', spec);
      const feed = datasetFeed(ds, new EpochSampler(ds.size('train'), BATCH, SEED), M, [8]);
      const ref = new ReferenceTrainer(tf, spec, M, optimizer, feed);
      const refLosses = Array.from({ length: STEPS }, (_, s) => ref.step(s));
      const diff = maxAbsDiff(piped, ref.weights());
      ref.dispose();
      const losses = events.flatMap((e) => (e.type === 'step' ? [e.loss] : []));
      assert.equal(losses.length, STEPS);
      losses.forEach((l, s) =>
        assert.ok(Math.abs(l - refLosses[s]!) < 1e-4, `step ${s}: loss ${l} vs ${refLosses[s]}`),
      );
      assert.ok(diff < 1e-4, `max abs weight difference ${diff}`);
      assert.ok(losses.at(-1)! < losses[0]!, 'loss fell');
    });
  }

  for (const loss of ['binaryCrossentropy', 'meanSquaredError'] as const) {
    it(`${loss}: one epoch, validated as the loss reports it`, async () => {
      const spec = lossModel(loss);
      const controller = new RunController(coordinator, tf, {
        runId: `loss-${++run}`,
        model: spec,
        dataset: 'synthetic',
        stages: [
          { start: 0, end: 1, nodeId: agents[0]!.ready.nodeId },
          { start: 1, end: spec.layers.length, nodeId: agents[1]!.ready.nodeId },
        ],
        schedule: '1f1b',
        microbatches: M,
        batch: 256,
        optimizer: { name: 'adam', learningRate: 0.01 },
        epochs: 1,
        seed: SEED,
        backend: 'wasm',
        valBatch: 512,
      });
      const events: RunEvent[] = [];
      controller.on('event', (e) => events.push(e));
      await controller.start();
      await controller.finishedPromise();
      await controller.shutdown();
      const validations = events.filter(
        (e): e is Extract<RunEvent, { type: 'validation' }> => e.type === 'validation',
      );
      assert.equal(validations.length, 1);
      const v = validations[0]!;
      assert.equal(v.samples, 2048);
      if (loss === 'meanSquaredError')
        assert.equal(v.accuracy, null, 'a regression has no accuracy');
      else assert.ok(v.accuracy! > 0.8, `binary accuracy (threshold 0.5) ${v.accuracy}`);
    });
  }
});
