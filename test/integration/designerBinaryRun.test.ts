import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { designerHandlers } from '../../native/api/designerBackend.js';
import type { LayoutSettings } from '../../native/api/designerSchemas.js';
import type { Coordinator } from '../../native/coordinator/coordinator.js';
import { RunService } from '../../native/runs/runService.js';
import type { RunRecord, RunSettings } from '../../native/runs/runSchemas.js';
import { RunStore } from '../../native/runs/runStore.js';
import {
  startAgent,
  stopAgent,
  tempDir,
  testBeaconPort,
  waitUntil,
  type RunningAgent,
} from '../helpers/agents.js';
import { coordinatorFor } from '../helpers/lab.js';

/** An agent with a cached speed.json, so the designer can plan on it without a benchmark. */
async function measuredAgent(name: string, beaconPort: number): Promise<RunningAgent> {
  const stateDir = tempDir(`pf-agent-${name}-`);
  fs.mkdirSync(path.join(stateDir, 'agent'), { recursive: true });
  fs.writeFileSync(
    path.join(stateDir, 'agent', 'speed.json'),
    JSON.stringify({
      backend: 'wasm',
      gflops: 5,
      matrix: [512, 512, 512],
      measuredAt: Date.now(),
      durationMs: 100,
    }),
  );
  return startAgent({ name, beaconPort, stateDir });
}

const layout: LayoutSettings = {
  batch: 64,
  microbatches: 4,
  schedule: '1f1b',
  optimizer: 'adam',
  preset: 'balanced',
};

/**
 * The designer's way to a run, at the API level: import a model.json, lay it out on two machines,
 * start the run through RunService (what the app's startRun calls), which refuses a dataset that
 * does not fit before anything is recorded.
 */
describe('designer → RunService with a binary classifier (Dense 16 relu → Dense 1 sigmoid)', () => {
  const agents: RunningAgent[] = [];
  let coordinator: Coordinator;
  let service: RunService;
  const records: RunRecord[] = [];

  before(async () => {
    const beaconPort = testBeaconPort();
    agents.push(
      ...(await Promise.all(['owl', 'elk'].map((name) => measuredAgent(name, beaconPort)))),
    );
    coordinator = await coordinatorFor(agents);
    await Promise.all(
      agents.map((a) =>
        coordinator.waitFor(a.ready.nodeId, (n) => !!(n.speed ?? n.inventory?.speed), 30_000),
      ),
    );
    const store = new RunStore(tempDir('pf-runs-'));
    store.open();
    service = new RunService(coordinator, store);
    service.on('record', (_id, r) => records.push(r));
  });
  after(async () => {
    await service?.close();
    await coordinator?.stop();
    await Promise.all(agents.map((a) => stopAgent(a)));
  });

  async function designedPlan() {
    const designer = designerHandlers({
      nodes: () => coordinator.nodes(),
      plansDir: tempDir('pf-plans-'),
    });
    // A browser gives the file's name only: the engine keeps its own copy, which the run then reads.
    const file = path.resolve('test/fixtures/models/binary-mlp.json');
    const { model } = await designer.importModel({
      text: fs.readFileSync(file, 'utf8'),
      fileName: 'binary-mlp.json',
    });
    assert.deepEqual(
      model.layers.map((l) => l.outputShape),
      [[16], [1]],
    );
    const { plan } = await designer.predictLayout({
      model: model.ref,
      settings: layout,
      bounds: [0, 1, 2],
      machineIds: agents.map((a) => a.ready.nodeId),
    });
    return plan;
  }

  const settings = (o: Partial<RunSettings>): RunSettings => ({
    name: 'binary',
    dataset: 'synthetic',
    steps: 40,
    learningRate: 0.01,
    optimizer: 'adam',
    backend: 'wasm',
    ...o,
  });

  it('refuses a dataset the model cannot train on before anything is recorded', async () => {
    const plan = await designedPlan();
    await assert.rejects(
      service.start(plan, settings({ dataset: 'synthetic:8:10' })),
      /dataset synthetic:8:10 has 10 classes \(classes 0–9\), but model binary-mlp has one output unit.*use synthetic:8:2, or plain "synthetic"/,
    );
    assert.equal(service.store.list().length, 0);
    assert.equal(service.liveId, null);
  });

  it('trains it on synthetic data on two stages, loss falling, to a completed run', async () => {
    const plan = await designedPlan();
    assert.equal(plan.stages.length, 2);
    const run = await service.start(plan, settings({}));
    await waitUntil(
      () => !['starting', 'running'].includes(service.store.get(run.id)?.status ?? 'running'),
      120_000,
      'the run to end',
    );
    const summary = service.store.get(run.id)!;
    assert.equal(summary.status, 'completed', summary.message ?? '');
    const losses = records.flatMap((r) =>
      r.kind === 'event' && r.event.type === 'step' && r.event.loss !== null ? [r.event.loss] : [],
    );
    assert.equal(losses.length, 40);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(
      mean(losses.slice(-5)) < mean(losses.slice(0, 5)),
      `loss fell: ${losses.map((l) => l.toFixed(3)).join(' ')}`,
    );
    assert.ok(
      records.some((r) => r.kind === 'model'),
      'the trained model was written',
    );
  });
});
