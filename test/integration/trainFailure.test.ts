import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Coordinator } from '../../native/coordinator/coordinator.js';
import {
  RunController,
  type RunEvent,
  type RunSpec,
} from '../../native/coordinator/runController.js';
import { getModel } from '../../native/model/catalogue.js';
import {
  startAgent,
  stopAgent,
  testBeaconPort,
  waitUntil,
  type RunningAgent,
} from '../helpers/agents.js';
import { coordinatorFor } from '../helpers/lab.js';
import { processAlive } from '../helpers/training.js';

describe('a run that loses a machine', () => {
  const agents: RunningAgent[] = [];
  let coordinator: Coordinator | null = null;
  after(async () => {
    await coordinator?.stop();
    await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
  });

  /** An mnist-mlp run on our agents: [0,1) on keeper and [1,3) on victim unless `stages` says otherwise. */
  const mlpRun = async (over: Partial<RunSpec>) =>
    new RunController(coordinator!, (await initBackend({ prefer: 'wasm' })).tf, {
      runId: 'test',
      model: getModel('mnist-mlp'),
      dataset: 'mnist',
      stages: [
        { start: 0, end: 1, nodeId: agents[0]!.ready.nodeId },
        { start: 1, end: 3, nodeId: agents[1]!.ready.nodeId },
      ],
      schedule: 'gpipe',
      microbatches: 2,
      batch: 8,
      optimizer: { name: 'sgd', learningRate: 0.1 },
      steps: 1,
      seed: 1,
      backend: 'wasm',
      ...over,
    });

  it('ends within 5 s of an agent being killed, names the machine and stage, and leaves no process behind', async () => {
    const beaconPort = testBeaconPort();
    agents.push(
      ...(await Promise.all(['keeper', 'victim'].map((name) => startAgent({ name, beaconPort })))),
    );
    const c = await coordinatorFor(agents);
    coordinator = c;
    const run = await mlpRun({
      runId: 'doomed',
      schedule: '1f1b',
      microbatches: 4,
      batch: 64,
      optimizer: { name: 'sgd', learningRate: 0.05 },
      steps: 100_000,
    });
    const events: RunEvent[] = [];
    run.on('event', (e) => events.push(e));
    await run.start();
    const finished = run.finishedPromise();
    finished.catch(() => {});
    const started = events.find((e) => e.type === 'started') as Extract<
      RunEvent,
      { type: 'started' }
    >;
    const stagePids = started.stages.map((s) => s.pid);
    assert.ok(stagePids.every(processAlive), 'stage hosts are running');
    await waitUntil(
      () => events.filter((e) => e.type === 'step').length >= 5,
      30_000,
      'five steps',
    );

    agents[1]!.proc.kill('SIGKILL');
    const killedAt = Date.now();
    await assert.rejects(finished, (err: Error) => {
      assert.match(err.message, /stage 1 on victim/);
      return true;
    });
    const endedIn = Date.now() - killedAt;
    console.log(
      `run ended ${endedIn} ms after SIGKILL: ${(events.find((e) => e.type === 'failed') as { message: string }).message}`,
    );
    assert.ok(endedIn < 5000, `ended in ${endedIn} ms`);
    await waitUntil(
      () => stagePids.every((pid) => !processAlive(pid)),
      5000,
      'every stage host to exit',
    );
    assert.ok(processAlive(agents[0]!.ready.pid), 'the surviving agent keeps running');
  });

  it('names the signal that killed a stage host, its agent still running', async () => {
    const keeper = agents[0]!.ready.nodeId;
    const run = await mlpRun({
      runId: 'shot',
      stages: [
        { start: 0, end: 1, nodeId: keeper },
        { start: 1, end: 3, nodeId: keeper },
      ],
      steps: 100_000,
    });
    const events: RunEvent[] = [];
    run.on('event', (e) => events.push(e));
    await run.start();
    const finished = run.finishedPromise();
    finished.catch(() => {});
    await waitUntil(() => events.some((e) => e.type === 'step'), 30_000, 'a step');
    const started = events.find((e) => e.type === 'started') as Extract<
      RunEvent,
      { type: 'started' }
    >;
    process.kill(started.stages[1]!.pid, 'SIGKILL');
    await assert.rejects(finished, (err: Error) => {
      assert.match(
        err.message,
        /^stage 1 on keeper \(127\.0\.0\.1\): the stage process was killed by SIGKILL/,
      );
      return true;
    });
    assert.equal(events.filter((e) => e.type === 'failed').length, 1);
    await waitUntil(() => !processAlive(started.stages[0]!.pid), 5000, 'stage 0 to be stopped');
  });

  it('refuses to start when a machine lacks the dataset, naming the machine and stage', async () => {
    const run = await mlpRun({
      runId: 'no-data',
      dataset: 'csv:/nonexistent/lab-data.csv',
      stages: [{ start: 0, end: 3, nodeId: agents[0]!.ready.nodeId }],
    });
    const events: RunEvent[] = [];
    run.on('event', (e) => events.push(e));
    await assert.rejects(
      run.start(),
      /stage 0 on keeper \(127\.0\.0\.1\): cannot read \/nonexistent\/lab-data\.csv/,
    );
    assert.ok(!events.some((e) => e.type === 'started'), 'nothing started');
  });

  it('refuses a plan that places a stage on a machine that is not online', async () => {
    const victim = agents[1]!.ready.nodeId;
    await waitUntil(
      () => coordinator!.registry.get(victim)?.state !== 'online',
      5000,
      'the killed agent to be seen as gone',
    );
    const run = await mlpRun({ runId: 'gone' });
    await assert.rejects(
      run.start(),
      /stage 1 is placed on victim, which is (unreachable|offline)/,
    );
  });
});
