import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import type { RunEvent } from '../../native/common/runEvents.js';
import type { Coordinator } from '../../native/coordinator/coordinator.js';
import type { RunSpec } from '../../native/coordinator/runSpec.js';
import { getModel } from '../../native/model/catalogue.js';
import { RunOrchestrator } from '../../native/runs/runOrchestrator.js';
import { startAgent, stopAgent, testBeaconPort, type RunningAgent } from '../helpers/agents.js';
import { coordinatorFor } from '../helpers/lab.js';
import { runToEnd } from '../helpers/runToEnd.js';
import { evenSlices, maxAbsDiff } from '../helpers/training.js';

const STEPS = 80;
const EVERY = 10;

type Checkpoint = Extract<RunEvent, { type: 'checkpoint' }>;
type Started = Extract<RunEvent, { type: 'started' }>;
type Resumed = Extract<RunEvent, { type: 'resumed' }>;

/**
 * A run that loses a stage process (SIGKILL) resumes from its checkpoints on the same machines and
 * ends with the weights of the same run uninterrupted, bit for bit: weights, optimizer state (Adam's
 * moments and β powers) and the data order all go on from where the checkpoint left them.
 */
describe('runs resume from checkpoints when a stage is lost', () => {
  let tf: Tf;
  const agents: RunningAgent[] = [];
  let coordinator: Coordinator;
  let runNo = 0;

  before(async () => {
    tf = (await initBackend({ prefer: 'wasm' })).tf;
    const beaconPort = testBeaconPort();
    agents.push(
      ...(await Promise.all([1, 2].map((i) => startAgent({ name: `resume-${i}`, beaconPort })))),
    );
    coordinator = await coordinatorFor(agents);
  });
  after(async () => {
    await coordinator?.stop();
    await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
  });

  function spec(optimizer: 'sgd' | 'adam'): RunSpec {
    const model = getModel('mnist-mlp');
    return {
      runId: `resume-${++runNo}-${process.pid}`,
      model,
      dataset: 'mnist',
      stages: evenSlices(model.layers.length, 2).map((s, k) => ({
        ...s,
        nodeId: agents[k]!.ready.nodeId,
      })),
      schedule: '1f1b',
      microbatches: 4,
      batch: 64,
      optimizer: { name: optimizer, learningRate: optimizer === 'sgd' ? 0.1 : 0.001 },
      steps: STEPS,
      seed: 3,
      backend: 'wasm',
      checkpointEvery: EVERY,
      onFailure: 'resume',
    };
  }

  /** Runs to the end; `onEvent` may interfere. Returns the final weights and every event. */
  const train = (s: RunSpec, onEvent?: (e: RunEvent) => void, lab: Coordinator = coordinator) =>
    runToEnd(lab, tf, s, onEvent);

  for (const optimizer of ['sgd', 'adam'] as const) {
    it(`${optimizer}: SIGKILL of a stage process → resumed from the last checkpoint, weights equal the uninterrupted run bit for bit`, async () => {
      const clean = await train(spec(optimizer));
      const checkpoints = clean.events.filter((e): e is Checkpoint => e.type === 'checkpoint');
      assert.deepEqual(
        checkpoints.map((c) => c.step),
        Array.from({ length: STEPS / EVERY }, (_, i) => (i + 1) * EVERY),
        'a complete checkpoint every 10 steps',
      );
      for (const c of checkpoints)
        assert.ok(c.copyMs >= 0 && c.writeMs >= 0 && c.stages.every((st) => st.bytes > 0));

      let killedAfter = -1;
      let started: Started | null = null;
      const at = { kill: 0, resumed: 0, firstStep: 0 };
      const resumedRun = await train(spec(optimizer), (e) => {
        if (e.type === 'started') started = e;
        // Kill stage 1 once the second checkpoint is complete, mid-run.
        if (e.type === 'checkpoint' && e.step === 2 * EVERY && killedAfter < 0) {
          killedAfter = e.step;
          process.kill(started!.stages[1]!.pid, 'SIGKILL');
          at.kill = performance.now();
        }
        if (e.type === 'resumed') at.resumed = performance.now();
        if (e.type === 'step' && at.resumed > 0 && at.firstStep === 0)
          at.firstStep = performance.now();
      });
      console.log(
        `${optimizer}: SIGKILL of stage 1 after step ${killedAfter}: stages training again ${(at.resumed - at.kill).toFixed(0)} ms later, first step done ${(at.firstStep - at.kill).toFixed(0)} ms after the kill`,
      );
      const resumed = resumedRun.events.filter((e): e is Resumed => e.type === 'resumed');
      assert.equal(resumed.length, 1, 'resumed once');
      assert.equal(resumed[0]!.fromStep, killedAfter, 'from the checkpoint complete at the kill');
      assert.match(resumed[0]!.reason, /stage 1 .*killed by SIGKILL/);
      assert.ok(
        resumedRun.events.every((e) => e.type !== 'failed'),
        'no failed event: the run went on',
      );
      // The steps after the checkpoint ran again, and the run reached its last step.
      const steps = resumedRun.events.filter((e) => e.type === 'step').map((e) => e.step);
      assert.equal(steps.at(-1), STEPS - 1);
      assert.ok(steps.filter((s) => s === killedAfter).length >= 1);
      assert.equal(maxAbsDiff(resumedRun.weights, clean.weights), 0, 'bit for bit');
    });
  }

  it('a torn checkpoint is refused with its reason, and the run resumes from the one before', async () => {
    const clean = await train(spec('adam'));
    let torn = -1;
    let started: Started | null = null;
    const run = await train(spec('adam'), (e) => {
      if (e.type === 'started') started = e;
      if (e.type === 'checkpoint' && e.step === 3 * EVERY && torn < 0) {
        torn = e.step;
        // Cut stage 1's newest checkpoint short, as a crash mid-copy would, then lose the stage.
        const file = e.stages[1]!.file;
        fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
        process.kill(started!.stages[1]!.pid, 'SIGKILL');
      }
    });
    const resumed = run.events.filter((e): e is Resumed => e.type === 'resumed');
    assert.equal(resumed.length, 1);
    assert.equal(resumed[0]!.fromStep, torn - EVERY, 'the checkpoint before the torn one');
    assert.match(resumed[0]!.reason, /is torn: \d+ of \d+ tensor bytes are there/);
    assert.equal(maxAbsDiff(run.weights, clean.weights), 0, 'still bit for bit');
  });

  it('SIGKILL of a whole agent: re-planned onto the machines left from the driver’s copy, within 1e-4 of the uninterrupted run', async () => {
    const model = getModel('mnist-mlp');
    const beaconPort = testBeaconPort();
    const three = await Promise.all(
      [1, 2, 3].map((i) => startAgent({ name: `replan-${i}`, beaconPort })),
    );
    const lab = await coordinatorFor(three);
    try {
      // startAgent skips the speed benchmark; the re-plan needs each machine's measured speed.
      for (const a of three) await lab.benchmark(a.ready.nodeId, true);
      const threeStages = (): RunSpec => ({
        ...spec('adam'),
        stages: evenSlices(model.layers.length, 3).map((s, k) => ({
          ...s,
          nodeId: three[k]!.ready.nodeId,
        })),
      });
      const clean = await train(threeStages(), undefined, lab);
      let killedAt = 0;
      let resumedAt = 0;
      const lost = await train(
        threeStages(),
        (e) => {
          if (e.type === 'resumed') resumedAt = performance.now();
          if (e.type === 'checkpoint' && e.step === 3 * EVERY && killedAt === 0) {
            // The machine of stage 2 goes away: its agent and the stage process with it.
            three[2]!.proc.kill('SIGKILL');
            killedAt = performance.now();
          }
        },
        lab,
      );
      const resumed = lost.events.filter((e): e is Resumed => e.type === 'resumed');
      assert.equal(resumed.length, 1, 'resumed once');
      const r = resumed[0]!;
      console.log(
        `machine lost after step ${3 * EVERY}: ${r.reason}; from step ${r.fromStep}, training again ${((resumedAt - killedAt) / 1000).toFixed(2)} s after the kill; weights differ from the uninterrupted run by at most ${maxAbsDiff(lost.weights, clean.weights)}`,
      );
      assert.match(r.reason, /re-planned without replan-3 onto 2 machines/);
      // The newest checkpoint the driver had a whole copy of when the machine went (its copy of the
      // one complete at the kill could not be fetched from the dead machine).
      assert.ok(
        r.fromStep >= EVERY && r.fromStep <= 3 * EVERY && r.fromStep % EVERY === 0,
        `from a copied checkpoint: ${r.fromStep}`,
      );
      assert.ok(r.stages.every((st) => !/replan-3/.test(st.node)));
      assert.equal(lost.events.filter((e) => e.type === 'failed').length, 0);
      const steps = lost.events.filter((e) => e.type === 'step').map((e) => e.step);
      assert.equal(steps.at(-1), STEPS - 1);
      const diff = maxAbsDiff(lost.weights, clean.weights);
      assert.ok(diff < 1e-4, `weights within 1e-4 of the uninterrupted run: ${diff}`);
    } finally {
      await lab.stop();
      await Promise.all(three.map((a) => stopAgent(a, 'SIGKILL')));
    }
  });

  it('a lost machine that comes back is taken back at the next checkpoint; run replan moves a run onto every machine online', async () => {
    // Layers of equal cost, so a third machine shortens every step (mnist-mlp's first layer is most
    // of its cost, and a third machine would not help it).
    const model = getModel('deep-mlp');
    const beaconPort = testBeaconPort();
    const three = await Promise.all(
      [1, 2, 3].map((i) => startAgent({ name: `back-${i}`, beaconPort })),
    );
    const lab = await coordinatorFor(three);
    try {
      const layout = (n: number): RunSpec => ({
        ...spec('adam'),
        model,
        batch: 32,
        steps: 120,
        stages: evenSlices(model.layers.length, n).map((s, k) => ({
          ...s,
          nodeId: three[k]!.ready.nodeId,
        })),
      });
      // 1. Lost and back: stage 2's machine dies after step 30 and its agent restarts (same port).
      let killed = false;
      const back = await train(
        layout(3),
        (e) => {
          if (e.type === 'checkpoint' && e.step === 3 * EVERY && !killed) {
            killed = true;
            three[2]!.proc.kill('SIGKILL');
          }
          if (e.type === 'resumed' && /re-planned without back-3/.test(e.reason))
            void (async () => {
              three[2] = await startAgent({
                name: 'back-3',
                beaconPort,
                stateDir: three[2]!.stateDir,
                port: three[2]!.ready.controlPort,
              });
              await lab.addPeer(`127.0.0.1:${three[2].ready.controlPort}`, { persist: false });
            })();
        },
        lab,
      );
      const resumed = back.events.filter((e): e is Resumed => e.type === 'resumed');
      const logs = back.events.filter((e) => e.type === 'log').map((e) => e.message);
      assert.equal(
        resumed.length,
        2,
        `lost, then taken back: ${JSON.stringify(resumed.map((r) => r.reason))} ${logs.join(' | ')}`,
      );
      assert.match(resumed[0]!.reason, /re-planned without back-3 onto 2 machines/);
      assert.match(
        resumed[1]!.reason,
        /^back-3 is back: re-planned onto 3 machines \(predicted \d+ → \d+ samples\/s\)/,
      );
      assert.ok(resumed[1]!.stages.some((st) => st.node.startsWith('back-3')));
      assert.equal(back.events.filter((e) => e.type === 'step').at(-1)!.step, 119);
      console.log(`machine back: ${resumed[1]!.reason}, from step ${resumed[1]!.fromStep}`);

      // 2. On request: a run on two of the three machines moves onto all three at its next checkpoint.
      let message = '';
      const asked = await (async () => {
        const run = new RunOrchestrator(lab, tf, layout(2));
        const events: RunEvent[] = [];
        run.on('event', (e) => {
          events.push(e);
          if (e.type === 'step' && e.step === 5) message = run.replanNow();
        });
        await run.start();
        await run.finished();
        await run.shutdown();
        return events;
      })();
      assert.match(
        message,
        /^will re-plan onto 3 machines \(predicted \d+ → \d+ samples\/s\) at the next checkpoint$/,
      );
      const moved = asked.filter((e): e is Resumed => e.type === 'resumed');
      assert.equal(moved.length, 1);
      assert.equal(moved[0]!.fromStep, EVERY, 'at the next checkpoint');
      assert.match(moved[0]!.reason, /re-planned on request onto 3 machines/);
      console.log(`run replan: ${message}; moved at step ${moved[0]!.fromStep}`);
    } finally {
      await lab.stop();
      await Promise.all(three.map((a) => stopAgent(a, 'SIGKILL')));
    }
  });

  it('with --on-failure stop (or no checkpoint yet), a lost stage fails the run as before', async () => {
    const run = new RunOrchestrator(coordinator, tf, { ...spec('sgd'), onFailure: 'stop' });
    const events: RunEvent[] = [];
    let started: Started | null = null;
    run.on('event', (e) => {
      events.push(e);
      if (e.type === 'started') started = e;
      if (e.type === 'checkpoint' && e.step === EVERY)
        process.kill(started!.stages[0]!.pid, 'SIGKILL');
    });
    await run.start();
    await assert.rejects(run.finished(), /stage 0 .*killed by SIGKILL/);
    assert.equal(events.filter((e) => e.type === 'resumed').length, 0);
    assert.equal(events.filter((e) => e.type === 'failed').length, 1);
  });
});
