import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readRunFile, RunFileWriter } from '../../native/runs/runFile.js';
import { RunStore } from '../../native/runs/runStore.js';
import { migratePlan, type Plan } from '../../native/planner/planSchema.js';
import { tempDir } from '../helpers/agents.js';

const CHILD = path.join(import.meta.dirname, '../fixtures/runFileWriterChild.ts');
const asRecord = (v: unknown) => v as { seq: number; pad: string };

describe('run file', () => {
  it('recovers every complete record after the writer is SIGKILLed mid-write', async () => {
    const dir = tempDir('pf-runfile-');
    const file = path.join(dir, 'run.jsonl');
    for (let attempt = 0; attempt < 3; attempt++) {
      fs.rmSync(file, { force: true });
      const child = spawn(process.execPath, ['--import', 'tsx', CHILD, file], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((r) => child.stdout!.once('data', () => r()));
      // Let it write for a while, then kill it without warning.
      await new Promise((r) => setTimeout(r, 300 + attempt * 137));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));

      const text = fs.readFileSync(file, 'utf8');
      const complete = text.split('\n').length - 1;
      const { records, dropped } = readRunFile(file, asRecord);
      assert.ok(complete > 5, `the writer wrote only ${complete} records`);
      assert.equal(records.length, complete, 'every newline-terminated record is recovered');
      records.forEach((r, i) => {
        assert.equal(r.seq, i, 'records in order with no gaps');
        assert.equal(r.pad.length, 1000 + ((i * 7919) % 199_000), 'payload intact');
      });
      assert.equal(dropped, text.endsWith('\n') ? 0 : 1, 'only a torn tail is dropped');
      if (!text.endsWith('\n')) {
        // A later writer (the restarted app) starts on a fresh line: nothing more is lost.
        const w = new RunFileWriter(file);
        w.append({ seq: complete, pad: 'after' });
        w.close();
        const again = readRunFile(file, asRecord);
        assert.equal(again.records.length, complete + 1);
        assert.equal(again.records.at(-1)!.pad, 'after');
        return;
      }
    }
  });

  it('drops a torn last line and keeps the rest', () => {
    const file = path.join(tempDir('pf-runfile-'), 'run.jsonl');
    fs.writeFileSync(file, '{"seq":0}\n{"seq":1}\n{"seq":2,"pa');
    const { records, dropped } = readRunFile(file, (v) => v as { seq: number });
    assert.deepEqual(
      records.map((r) => r.seq),
      [0, 1],
    );
    assert.equal(dropped, 1);
  });
});

// A version 1 plan, as run files written before plan version 2 hold it.
const plan: Plan = migratePlan({
  version: 1,
  model: {
    id: 'mnist-mlp',
    name: 'MNIST MLP',
    source: 'catalogue',
    path: null,
    layers: 3,
    params: 1,
  },
  batch: 64,
  microbatches: 4,
  schedule: '1f1b',
  optimizer: 'adam',
  preset: 'balanced',
  stages: [{ layers: [0, 3], layerNames: ['a', 'c'], machineId: 'n1', machineName: 'ws-1' }],
  prediction: {
    stepSeconds: 0.1,
    samplesPerSecond: 640,
    bubble: 0.2,
    bottleneckSeconds: 0.1,
    stages: [],
  },
  search: { method: 'preset', evaluations: 1, stagesChosen: 'requested', note: '' },
  createdAt: '2026-01-01T00:00:00Z',
});

describe('run store', () => {
  it('marks a run that was live when the app died as interrupted, keeping its data', () => {
    const root = tempDir('pf-runs-');
    const store = new RunStore(root);
    store.open();
    const rec = store.create('run-a', () => {});
    rec.append({
      kind: 'meta',
      id: 'run-a',
      plan,
      settings: { name: 'a', dataset: 'mnist', epochs: 1, learningRate: 0.001, optimizer: 'adam' },
      machines: ['ws-1'],
    });
    rec.append({
      kind: 'event',
      event: { type: 'started', runId: 'run-a', totalSteps: 10, stepsPerEpoch: 10, stages: [] },
    });
    for (let step = 0; step < 3; step++)
      rec.append({
        kind: 'event',
        event: {
          type: 'step',
          step,
          epoch: 0,
          loss: 2 - step * 0.5,
          samplesPerSecond: 100,
          elapsedMs: step * 10,
          stages: [],
          timings: [],
        },
      });
    // The app dies here: no end record, and a torn write after the last record.
    rec.close();
    fs.appendFileSync(path.join(root, 'run-a', 'run.jsonl'), '{"kind":"event","seq":5,"t":');

    const reopened = new RunStore(root);
    reopened.open();
    const s = reopened.get('run-a')!;
    assert.equal(s.status, 'interrupted');
    assert.equal(s.steps, 3);
    assert.equal(s.finalLoss, 1);
    const records = reopened.read('run-a');
    assert.equal(records.at(-1)!.kind, 'end');
    assert.equal(records.filter((r) => r.kind === 'event').length, 4);
    // Opening again changes nothing: the file itself now says interrupted.
    const third = new RunStore(root);
    third.open();
    assert.equal(third.read('run-a').length, records.length);
  });

  it('delete is soft until the store is reopened; restore brings the run back', () => {
    const root = tempDir('pf-runs-');
    const store = new RunStore(root);
    store.open();
    const rec = store.create('run-b', () => {});
    rec.append({
      kind: 'meta',
      id: 'run-b',
      plan,
      settings: { name: 'b', dataset: 'mnist', steps: 2, learningRate: 0.001, optimizer: 'adam' },
      machines: ['ws-1'],
    });
    rec.append({ kind: 'end', status: 'completed', message: null });
    rec.close();
    store.delete('run-b');
    assert.equal(store.list().length, 0);
    assert.equal(store.restore('run-b').status, 'completed');
    assert.equal(store.list().length, 1);
    store.delete('run-b');
    const reopened = new RunStore(root);
    reopened.open();
    assert.equal(reopened.list().length, 0);
    assert.throws(() => reopened.restore('run-b'), /not in the trash/);
  });
});
