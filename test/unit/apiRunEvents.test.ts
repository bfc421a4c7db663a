import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiEvent, ApiEventBatch } from '../../native/api/schemas.js';
import { ApiServer, type ApiBackend, type ApiHandlers } from '../../native/api/server.js';

function backendWithEvents() {
  const listeners = new Set<(e: ApiEvent) => void>();
  const backend: ApiBackend = {
    handlers: {} as ApiHandlers,
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return { backend, emit: (e: ApiEvent) => listeners.forEach((l) => l(e)) };
}

const step = (seq: number): ApiEvent => ({
  type: 'runRecord',
  runId: 'run-1',
  record: {
    kind: 'event',
    seq,
    t: 1000 + seq,
    event: {
      type: 'step',
      step: seq,
      epoch: 0,
      loss: 1 / (seq + 1),
      samplesPerSecond: 100,
      elapsedMs: seq * 10,
      stages: [],
      timings: [],
    },
  },
});

describe('run events through the API server', () => {
  it('delivers every run record of a burst, in order, while summaries coalesce to the latest', () => {
    const { backend, emit } = backendWithEvents();
    const server = new ApiServer(backend, { batchMs: 1000 });
    const batches: ApiEventBatch[] = [];
    server.subscribe((b) => batches.push(b));
    const summary = (steps: number): ApiEvent => ({
      type: 'runSummary',
      run: {
        id: 'run-1',
        name: 'r',
        model: 'm',
        machines: ['a'],
        driver: null,
        status: 'running',
        message: null,
        startedAt: 0,
        endedAt: null,
        durationMs: 0,
        steps,
        totalSteps: 10,
        finalLoss: null,
        finalAccuracy: null,
        hasModel: false,
      },
    });
    for (let i = 0; i < 5; i++) {
      emit(step(i));
      emit(summary(i + 1));
    }
    server.flush();
    server.close();
    assert.equal(batches.length, 1);
    const events = batches[0]!.events;
    const records = events.filter((e) => e.type === 'runRecord');
    assert.deepEqual(
      records.map((e) => e.type === 'runRecord' && e.record.seq),
      [0, 1, 2, 3, 4],
    );
    const summaries = events.filter((e) => e.type === 'runSummary');
    assert.equal(summaries.length, 1);
    assert.ok(summaries[0]!.type === 'runSummary' && summaries[0]!.run.steps === 5);
  });

  it('drops a malformed run record instead of passing it on', () => {
    const { backend, emit } = backendWithEvents();
    const logs: string[] = [];
    const server = new ApiServer(backend, { batchMs: 1000, onLog: (l) => logs.push(l) });
    const batches: ApiEventBatch[] = [];
    server.subscribe((b) => batches.push(b));
    emit({
      type: 'runRecord',
      runId: 'run-1',
      record: { kind: 'nonsense' },
    } as unknown as ApiEvent);
    server.flush();
    server.close();
    assert.equal(batches.length, 0);
    assert.match(logs[0] ?? '', /dropped an invalid runRecord event/);
  });
});
