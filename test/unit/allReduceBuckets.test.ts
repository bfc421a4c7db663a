import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { openDataset } from '../../native/data/openDataset.js';
import { EpochSampler } from '../../native/data/sampler.js';
import { getModel } from '../../native/model/catalogue.js';
import { oneFOneBSchedule, replicaActions } from '../../native/planner/schedule.js';
import { datasetFeed } from '../../native/pipeline/datasetFeed.js';
import { ReferenceTrainer } from '../../native/pipeline/referenceTrainer.js';
import { ringAllReduce } from '../../native/pipeline/ringAllReduce.js';
import { ScheduleRunner } from '../../native/pipeline/scheduleRunner.js';
import { StageExecutor } from '../../native/pipeline/stageExecutor.js';
import type { StageTransport } from '../../native/pipeline/transport.js';
import { ZmqRingLink } from '../../native/pipeline/zmqRingLink.js';
import { maxAbsDiff } from '../helpers/training.js';

const BATCH = 32;
const M = 4;
const STEPS = 3;
const optimizer = { name: 'sgd', learningRate: 0.01 } as const;

/** One stage has no neighbours: nothing may be sent or received. */
const alone: StageTransport = {
  send: () => Promise.reject(new Error('a one-stage pipeline sends nothing')),
  recv: () => Promise.reject(new Error('a one-stage pipeline receives nothing')),
};

/**
 * Two replicas of a whole deep-mlp (32 MiB of gradients: several buckets) in this process, over a real
 * ring: ALLREDUCE in buckets overlapping the last micro-batch's weight gradients, and in one piece
 * after it, each give ordinary training's weights, on both replicas alike.
 */
describe('ALLREDUCE of a dense stage, in buckets and in one piece', () => {
  let tf: Tf;
  let links: ZmqRingLink[];
  before(async () => {
    tf = (await initBackend({ prefer: 'wasm' })).tf;
    links = await Promise.all([0, 1].map(() => ZmqRingLink.open()));
    links.forEach((l, r) => l.connectNext(links[1 - r]!.endpoint, links[1 - r]!.publicKey));
  });
  after(() => links.forEach((l) => l.close()));

  for (const overlap of [true, false]) {
    it(`${overlap ? 'buckets overlapping the backward' : 'one piece'}: equals single-process training`, async () => {
      const spec = getModel('deep-mlp');
      const ds = openDataset('mnist', spec);
      const feed = () =>
        datasetFeed(ds, new EpochSampler(ds.size('train'), BATCH, 7), M, spec.inputShape);
      const ref = new ReferenceTrainer(tf, spec, M, optimizer, feed());
      const initial = ref.weights();
      const list = oneFOneBSchedule(1, M).actions[0]!;
      const data = feed();
      const execs = [0, 1].map(() => {
        const e = new StageExecutor(tf, spec, { start: 0, end: spec.layers.length }, optimizer);
        e.setWeights(initial);
        return e;
      });
      assert.ok(execs[0]!.bucketsAllReduce, 'a dense stack');
      const runners = execs.map(
        (e, r) =>
          new ScheduleRunner(
            tf,
            e,
            replicaActions(list, r, 2, (mb) => mb % 2),
            alone,
            data,
            (flat, tag) => ringAllReduce(flat, r, 2, links[r]!, tag),
            overlap,
          ),
      );
      for (let s = 0; s < STEPS; s++) {
        ref.step(s);
        const results = await Promise.all(runners.map((r) => r.runStep(s)));
        // With the overlap, the last micro-batch's weight gradients are ALLREDUCE's work.
        assert.ok(results.every((x) => x.timings.some((t) => t.op === 'ALLREDUCE')));
      }
      const [a, b] = execs.map((e) => e.getWeights());
      assert.equal(maxAbsDiff(a!, b!), 0, 'the replicas hold the same weights, bit for bit');
      const diff = maxAbsDiff(a!, ref.weights());
      assert.ok(diff < 1e-5, `weights differ from single-process training by ${diff}`);
      execs.forEach((e) => e.dispose());
      ref.dispose();
    });
  }
});
