import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Coordinator } from '../../native/coordinator/coordinator.js';
import type { PlanV1 } from '../../native/planner/planSchema.js';
import { RunService } from '../../native/runs/runService.js';
import { RunStore } from '../../native/runs/runStore.js';
import type { RunRecord, RunSettings } from '../../native/runs/runSchemas.js';
import {
  startAgent,
  stopAgent,
  tempDir,
  testBeaconPort,
  waitUntil,
  type RunningAgent,
} from '../helpers/agents.js';
import { coordinatorFor } from '../helpers/lab.js';
import { processAlive } from '../helpers/training.js';

function twoStagePlan(agents: RunningAgent[], second?: { id: string; name: string }): PlanV1 {
  return {
    version: 1,
    model: {
      id: 'mnist-mlp',
      name: 'MNIST MLP',
      source: 'catalogue',
      path: null,
      layers: 3,
      params: 0,
    },
    batch: 64,
    microbatches: 4,
    schedule: '1f1b',
    optimizer: 'sgd',
    preset: 'balanced',
    stages: [
      {
        layers: [0, 1],
        layerNames: ['a', 'a'],
        machineId: agents[0]!.ready.nodeId,
        machineName: agents[0]!.ready.name,
      },
      {
        layers: [1, 3],
        layerNames: ['b', 'c'],
        machineId: second?.id ?? agents[1]!.ready.nodeId,
        machineName: second?.name ?? agents[1]!.ready.name,
      },
    ],
    prediction: {
      stepSeconds: 0.01,
      samplesPerSecond: 6400,
      bubble: 0.3,
      bottleneckSeconds: 0.01,
      stages: [],
    },
    search: { method: 'preset', evaluations: 1, stagesChosen: 'requested', note: '' },
    createdAt: new Date().toISOString(),
  };
}

const settings = (o: Partial<RunSettings> = {}): RunSettings => ({
  name: 'test run',
  dataset: 'mnist',
  steps: 100_000,
  learningRate: 0.05,
  optimizer: 'sgd',
  backend: 'wasm',
  ...o,
});

describe('RunService with two real agents', () => {
  const agents: RunningAgent[] = [];
  let coordinator: Coordinator;
  let service: RunService;
  let root: string;
  const records: RunRecord[] = [];

  before(async () => {
    const beaconPort = testBeaconPort();
    agents.push(
      ...(await Promise.all(['ant', 'bee'].map((name) => startAgent({ name, beaconPort })))),
    );
    coordinator = await coordinatorFor(agents);
    root = tempDir('pf-runs-');
    const store = new RunStore(root);
    store.open();
    service = new RunService(coordinator, store);
    service.on('record', (_id, r) => records.push(r));
  });
  after(async () => {
    await service?.close();
    await coordinator?.stop();
    await Promise.all(agents.map((a) => stopAgent(a)));
  });

  it('refuses a plan with a machine it has not found, in words, before recording anything', async () => {
    await assert.rejects(
      service.start(twoStagePlan(agents, { id: 'ghost-id', name: 'ghost' }), settings()),
      /stage 1 is planned on ghost, which this app has not found/,
    );
    assert.equal(service.store.list().length, 0);
  });

  it('names the machine when its dataset is missing, and records the run as failed', async () => {
    await assert.rejects(
      service.start(twoStagePlan(agents), settings({ dataset: 'csv:/nonexistent/lab.csv' })),
      (err: Error) => /stage \d on (ant|bee)/.test(err.message) && /lab\.csv/.test(err.message),
    );
    const [failed] = service.store.list();
    assert.equal(failed!.status, 'failed');
    assert.match(failed!.message ?? '', /lab\.csv/);
    assert.equal(service.liveId, null);
  });

  it('stops a live run: every stage process exits, the file says stopped, and a second start waits its turn', async () => {
    const run = await service.start(twoStagePlan(agents), settings({ name: 'to stop' }));
    await assert.rejects(service.start(twoStagePlan(agents), settings()), /still running/);
    await waitUntil(
      () => records.filter((r) => r.kind === 'event' && r.event.type === 'step').length >= 5,
      30_000,
      'five steps',
    );
    const started = records.find((r) => r.kind === 'event' && r.event.type === 'started');
    assert.ok(started?.kind === 'event' && started.event.type === 'started');
    const pids = started.event.stages.map((s) => s.pid);
    assert.ok(pids.every(processAlive));

    const stopped = await service.stop(run.id);
    assert.equal(stopped.status, 'stopped');
    await waitUntil(() => !pids.some(processAlive), 10_000, 'every stage process to exit');
    const lines = fs
      .readFileSync(path.join(root, run.id, 'run.jsonl'), 'utf8')
      .trim()
      .split('\n');
    const last = JSON.parse(lines.at(-1)!) as RunRecord;
    assert.equal(last.kind, 'end');
    assert.ok(last.kind === 'end' && last.status === 'stopped');
    assert.equal(service.liveId, null);
  });

  it('a run stopped while its stages are still starting is recorded as stopped, not failed', async () => {
    const steps = () => records.filter((r) => r.kind === 'event' && r.event.type === 'step').length;
    const stepsBefore = steps();
    const starting = service.start(twoStagePlan(agents), settings({ name: 'stopped early' }));
    starting.catch(() => {});
    await waitUntil(() => service.liveId !== null, 10_000, 'the run to be recorded');
    const id = service.liveId!;
    const stopped = await service.stop(id);
    assert.equal(steps(), stepsBefore, 'stopped before its first step');
    assert.equal(stopped.status, 'stopped', stopped.message ?? '');
    await assert.rejects(starting);
    assert.equal(service.store.get(id)!.status, 'stopped');
    assert.equal(service.liveId, null);
  });

  it('a run that failed (a lost stage with --on-failure stop) resumes later from the copy it kept, in the same run', async () => {
    const run = await service.start(
      twoStagePlan(agents),
      settings({ name: 'resume later', steps: 60, checkpointEvery: 10, onFailure: 'stop' }),
    );
    const started = service.store
      .read(run.id)
      .find((r) => r.kind === 'event' && r.event.type === 'started');
    assert.ok(started?.kind === 'event' && started.event.type === 'started');
    await waitUntil(
      () =>
        service.store
          .read(run.id)
          .some((r) => r.kind === 'event' && r.event.type === 'checkpoint' && r.event.step === 30),
      60_000,
      'the checkpoint of step 30',
    );
    process.kill(started.event.stages[1]!.pid, 'SIGKILL');
    await waitUntil(() => service.store.get(run.id)?.status === 'failed', 30_000, 'the run failed');

    const { summary, fromStep } = await service.resumeEnded(run.id);
    assert.equal(summary.status, 'running');
    assert.ok(fromStep === 20 || fromStep === 30, `from a kept copy: ${fromStep}`);
    await waitUntil(
      () => service.store.get(run.id)?.status === 'completed',
      120_000,
      'the resumed run completes',
    );
    const all = service.store.read(run.id);
    const kinds = all.map((r) => (r.kind === 'event' ? r.event.type : r.kind));
    assert.equal(kinds.filter((k) => k === 'end').length, 2, 'failed, then completed');
    const resumed = all.find((r) => r.kind === 'event' && r.event.type === 'resumed');
    assert.ok(resumed?.kind === 'event' && resumed.event.type === 'resumed');
    assert.match(resumed.event.reason, /^resumed on request after it failed \(stage 1 on bee/);
    const after = all.slice(all.indexOf(resumed));
    const steps = after.flatMap((r) =>
      r.kind === 'event' && r.event.type === 'step' ? [r.event.step] : [],
    );
    assert.deepEqual(
      steps,
      Array.from({ length: 60 - fromStep }, (_, i) => fromStep + i),
      'every step from the copy on, to the end',
    );
    const last = all.at(-1)!;
    assert.ok(last.kind === 'end' && last.status === 'completed');
    await assert.rejects(
      service.resumeEnded(run.id),
      /completed: only a failed or interrupted run/,
    );
  });

  it('the app resumes a run an agent drove that failed: the agent goes on from its copy, the app follows it', async () => {
    const store = new RunStore(tempDir('pf-runs-driven-'));
    store.open();
    const app = new RunService(coordinator, store, {
      driverFor: () => ({ id: agents[0]!.ready.nodeId, name: agents[0]!.ready.name }),
    });
    try {
      const run = await app.start(
        twoStagePlan(agents),
        settings({ name: 'driven, resumed', steps: 60, checkpointEvery: 10, onFailure: 'stop' }),
      );
      assert.equal(run.driver?.name, 'ant');
      const records = () => app.store.read(run.id);
      await waitUntil(
        () =>
          records().some(
            (r) => r.kind === 'event' && r.event.type === 'checkpoint' && r.event.step === 30,
          ),
        60_000,
        'the checkpoint of step 30',
      );
      const started = records().find((r) => r.kind === 'event' && r.event.type === 'started');
      assert.ok(started?.kind === 'event' && started.event.type === 'started');
      process.kill(started.event.stages[1]!.pid, 'SIGKILL');
      await waitUntil(() => app.store.get(run.id)?.status === 'failed', 30_000, 'the run failed');

      const resumed = await app.resume(run.id);
      assert.equal(resumed.status, 'running');
      await waitUntil(
        () => app.store.get(run.id)?.status === 'completed',
        60_000,
        'the resumed run completes, followed here',
      ).catch((err: Error) => {
        const tail = records()
          .slice(-6)
          .map((x) => JSON.stringify(x).slice(0, 300));
        throw new Error(
          `${err.message}\n${tail.join('\n')}\nant:\n${agents[0]!.output().slice(-3000)}`,
        );
      });
      const all = records();
      assert.deepEqual(
        all.map((r) => r.seq),
        all.map((_, i) => i),
        "the copy is the driver's, record for record",
      );
      const r = all.find((x) => x.kind === 'event' && x.event.type === 'resumed');
      assert.ok(r?.kind === 'event' && r.event.type === 'resumed');
      assert.match(r.event.reason, /^resumed on request after it failed/);
      await assert.rejects(app.resume(run.id), /completed: only a failed or interrupted run/);
    } finally {
      await app.close();
    }
  });
});
