import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeRecord } from '../../native/coordinator/nodeRecord.js';
import { clusterFromNodes } from '../../native/coordinator/nodesToCluster.js';

function node(over: Partial<NodeRecord>): NodeRecord {
  return {
    id: 'n1',
    name: 'ws-01',
    cluster: 'default',
    endpoint: { host: '10.0.0.1', controlPort: 47801, publicKey: 'k' },
    addresses: [],
    source: 'beacon',
    state: 'online',
    stateReason: null,
    conflict: null,
    firstSeen: 0,
    lastSeen: 0,
    stateSince: 0,
    telemetryPort: null,
    agentVersion: null,
    inventory: null,
    telemetry: null,
    speed: { backend: 'wasm', gflops: 29, matrix: [512, 512, 512], measuredAt: 0, durationMs: 10 },
    rttMs: 1,
    ...over,
  };
}

const telemetry = {
  nodeId: 'n1',
  seq: 1,
  time: 0,
  cpuLoad: 0.1,
  memAvailableBytes: 6e9,
  memTotalBytes: 16e9,
  gpus: [
    {
      index: 0,
      utilizationPct: 5,
      memUsedBytes: 1e9,
      memTotalBytes: 8e9,
      temperatureC: null,
      powerW: null,
      powerLimitW: null,
    },
  ],
  gpuNote: null,
};

describe('machines from discovered agents', () => {
  it('uses measured speed and the memory of the backend it trains on', () => {
    const { cluster, skipped } = clusterFromNodes([
      node({ telemetry }),
      node({
        id: 'n2',
        name: 'ws-02',
        telemetry,
        speed: {
          backend: 'tensorflow-gpu',
          gflops: 900,
          matrix: [1, 1, 1],
          measuredAt: 0,
          durationMs: 1,
        },
      }),
      node({ id: 'n3', name: 'ws-03', speed: null }),
      node({ id: 'n4', name: 'ws-04', state: 'unreachable' }),
    ]);
    assert.deepEqual(cluster.machines, [
      { id: 'n1', name: 'ws-01', gflops: 29, memoryBytes: 6e9 },
      { id: 'n2', name: 'ws-02', gflops: 900, memoryBytes: 7e9 },
    ]);
    assert.equal(skipped.length, 2);
    assert.match(skipped.join('\n'), /ws-03: no measured speed/);
    assert.match(skipped.join('\n'), /ws-04: unreachable/);
  });
});
