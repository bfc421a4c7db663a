import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { openDataset } from '../../native/data/openDataset.js';
import { EpochSampler } from '../../native/data/sampler.js';
import { getModel } from '../../native/model/catalogue.js';
import { buildSchedule } from '../../native/planner/schedule.js';
import { datasetFeed } from '../../native/pipeline/datasetFeed.js';
import { ScheduleRunner } from '../../native/pipeline/scheduleRunner.js';
import { StageExecutor } from '../../native/pipeline/stageExecutor.js';
import { Mailbox, type StageTransport, type WireTensor } from '../../native/pipeline/transport.js';

const spec = getModel('mnist-mlp');
const M = 4;
let tf: Tf;
let execs: StageExecutor[];

before(async () => {
  ({ tf } = await initBackend({ prefer: 'wasm' }));
  execs = [
    new StageExecutor(tf, spec, { start: 0, end: 1 }, { name: 'sgd', learningRate: 0.01 }),
    new StageExecutor(tf, spec, { start: 1, end: 3 }, { name: 'sgd', learningRate: 0.01 }),
  ];
});
after(() => execs.forEach((e) => e.dispose()));

/** Two stages over mailboxes; `sendFor(k)` decides how stage k's sends are handed over. */
function pipeline(sendFor: (k: number, deliver: () => void, mb: number) => Promise<void>) {
  const ds = openDataset('mnist', spec);
  const data = datasetFeed(ds, new EpochSampler(ds.size('train'), 64, 1), M, spec.inputShape);
  const boxes = [new Mailbox(), new Mailbox()];
  const transport = (k: number): StageTransport => ({
    send: (kind, step, mb, t: WireTensor) =>
      sendFor(k, () => boxes[kind === 'act' ? k + 1 : k - 1]!.deliver(kind, step, mb, t), mb),
    recv: (kind, step, mb) => boxes[k]!.take(kind, step, mb),
  });
  const sched = buildSchedule('1f1b', 2, M);
  return {
    boxes,
    runners: [0, 1].map(
      (k) => new ScheduleRunner(tf, execs[k]!, sched.actions[k]!, transport(k), data),
    ),
  };
}

describe('a stage does not wait for its sends', () => {
  // A stage that waited for its send would hang the step: the per-test timeout turns that into a
  // failure in a minute rather than the run's ten (scripts/test.mjs).
  it(
    'computes on while its sends are still under way, and the step still completes',
    {
      timeout: 60_000,
    },
    async () => {
      // Stage 0's sends deliver at once but report done only once all M have been handed over: a
      // stage that waited for each send would never hand over the second, so the gate never opens.
      // No clock in this: the order of events is what is asserted.
      let handedOver = 0;
      let pendingAtLastHandOver = 0;
      const held: (() => void)[] = [];
      const { runners } = pipeline((k, deliver) => {
        deliver();
        if (k !== 0) return Promise.resolve();
        handedOver += 1;
        pendingAtLastHandOver = held.length;
        const done = new Promise<void>((resolve) => held.push(resolve));
        if (handedOver === M) held.splice(0).forEach((release) => release());
        return done;
      });
      const [first] = await Promise.all(runners.map((r) => r.runStep(0)));
      assert.equal(first!.timings.filter((t) => t.op === 'SEND_ACT').length, M);
      assert.equal(handedOver, M);
      assert.equal(
        pendingAtLastHandOver,
        M - 1,
        'every earlier send was still under way at the last',
      );
    },
  );

  it('a send that fails fails the step with its error, instead of waiting for a reply forever', async () => {
    const { runners, boxes } = pipeline((k, deliver, mb) => {
      if (k === 0 && mb === 1) return Promise.reject(new Error('the next stage is gone'));
      deliver();
      return Promise.resolve();
    });
    const stage1 = runners[1]!.runStep(1);
    await assert.rejects(runners[0]!.runStep(1), /the next stage is gone/);
    // The other stage waits for the activation that never left; its run would be failed too.
    boxes[1]!.fail(new Error('stopped'));
    await assert.rejects(stage1, /stopped/);
  });
});
