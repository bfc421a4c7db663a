import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeView } from '../../native/api/schemas.js';
import {
  applyBatch,
  applySnapshot,
  createClusterStore,
  HISTORY_POINTS,
} from '../../renderer/store/clusterStore.js';
import { fakeNode } from '../helpers/fakeNode.js';

function withSample(id: string, seq: number, cpuLoad: number, util: number | null): NodeView {
  return fakeNode(id, {
    telemetry: {
      nodeId: id,
      seq,
      time: seq,
      cpuLoad,
      memAvailableBytes: 1,
      memTotalBytes: 2,
      gpus: [
        {
          index: 0,
          utilizationPct: util,
          memUsedBytes: null,
          memTotalBytes: null,
          temperatureC: null,
          powerW: null,
          powerLimitW: null,
        },
      ],
      gpuNote: null,
    },
  });
}

describe('the renderer cluster store', () => {
  it('keeps bounded sparkline history, one point per new sample, unknown as a gap', () => {
    const store = createClusterStore();
    applySnapshot(store, [withSample('a', 0, 0.5, 10)], Date.now());
    for (let seq = 1; seq <= HISTORY_POINTS + 20; seq++) {
      applyBatch(store, {
        serverTime: Date.now(),
        events: [
          { type: 'nodeChanged', node: withSample('a', seq, seq / 1000, seq === 80 ? null : 20) },
        ],
      });
      // A state-only update repeats the last sample: it adds no point.
      applyBatch(store, {
        serverTime: Date.now(),
        events: [{ type: 'nodeChanged', node: withSample('a', seq, seq / 1000, 20) }],
      });
    }
    const h = store.getState().history.a!;
    assert.equal(h.cpu.length, HISTORY_POINTS);
    assert.equal(h.gpu[0]!.length, HISTORY_POINTS);
    assert.equal(h.cpu.at(-1), 8);
    assert.ok(Number.isNaN(h.gpu[0]!.at(-1)!), 'an unreadable utilisation is a gap, not 0');
  });

  it('gives new objects only to nodes named in a batch', () => {
    const store = createClusterStore();
    applySnapshot(store, [fakeNode('a'), fakeNode('b')], Date.now());
    const before = store.getState().nodes;
    applyBatch(store, {
      serverTime: Date.now(),
      events: [{ type: 'nodeChanged', node: fakeNode('b', { rttMs: 7 }) }],
    });
    const afterState = store.getState().nodes;
    assert.equal(afterState.a, before.a);
    assert.notEqual(afterState.b, before.b);
    applyBatch(store, { serverTime: Date.now(), events: [{ type: 'nodeRemoved', id: 'a' }] });
    assert.deepEqual(Object.keys(store.getState().nodes), ['b']);
  });

  it('applies a telemetry-only event to a known node, and ignores one for an unknown node', () => {
    const store = createClusterStore();
    applySnapshot(store, [withSample('a', 1, 0.1, 5)], Date.now());
    const t = withSample('a', 2, 0.7, 50).telemetry!;
    applyBatch(store, {
      serverTime: Date.now(),
      events: [
        { type: 'nodeTelemetry', id: 'a', telemetry: t, lastSeen: 77, rttMs: 3 },
        { type: 'nodeTelemetry', id: 'ghost', telemetry: t, lastSeen: 77, rttMs: 3 },
      ],
    });
    const s = store.getState();
    assert.equal(s.nodes.a!.lastSeen, 77);
    assert.equal(s.nodes.a!.name, 'ws-a', 'the rest of the record is kept');
    assert.deepEqual(s.history.a!.cpu, [10, 70]);
    assert.equal(s.nodes.ghost, undefined);
  });
});
