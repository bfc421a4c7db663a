import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeRecord } from '../../native/coordinator/nodeRecord.js';
import { clusterFromNodes } from '../../native/coordinator/nodesToCluster.js';
import {
  computeResource,
  DEFAULT_LINK,
  linkBetween,
  pairKey,
} from '../../native/planner/cluster.js';
import type { Inventory } from '../../native/protocol/inventorySchemas.js';

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

  it('agents on one computer share its cores; the measured overhead comes along', () => {
    const overhead = {
      kernelSeconds: 1e-5,
      readbackSeconds: 1e-5,
      stepSecondsPerParam: { sgd: 1e-9, momentum: 2e-9, adam: 8e-9 },
      poolGradSecondsPerElement: 2e-8,
      elementSeconds: 1e-9,
    };
    const staticOf = (hostname: string, mac: string) => ({
      hostname,
      os: { platform: 'linux', distro: 'x', release: '1', arch: 'x64' },
      cpu: { manufacturer: 'x', brand: 'x', cores: 4, physicalCores: 2, speedGHz: 3 },
      memory: { totalBytes: 16e9 },
      network: [
        {
          name: 'lo',
          ip4: '127.0.0.1',
          netmask: '255.0.0.0',
          mac: '00:00:00:00:00:00',
          internal: true,
        },
        { name: 'eth0', ip4: '10.0.0.1', netmask: '255.255.255.0', mac, internal: false },
      ],
      gpus: [],
      gpuNote: null,
    });
    const inv = (hostname: string, mac: string) =>
      ({ static: staticOf(hostname, mac) }) as unknown as Inventory;
    const loopback = { latencySeconds: 5e-5, bytesPerSecond: 4e8 };
    const speed = { ...node({}).speed!, overhead: { ...overhead, loopback } };
    const { cluster } = clusterFromNodes([
      node({ id: 'a', telemetry, speed, inventory: inv('ws', 'aa:01') }),
      node({ id: 'b', telemetry, speed, inventory: inv('ws', 'aa:01') }),
      // The same default hostname on another computer: not shared.
      node({ id: 'c', telemetry, speed, inventory: inv('ws', 'bb:02') }),
    ]);
    const [a, b, c] = cluster.machines;
    assert.deepEqual(a!.overhead, { ...overhead, loopback });
    // a and b talk over loopback at its measured figures; c over the default link.
    assert.deepEqual(linkBetween(cluster, 'a', 'b'), loopback);
    assert.deepEqual(linkBetween(cluster, 'a', 'c'), DEFAULT_LINK);
    assert.equal(a!.host, b!.host);
    assert.notEqual(a!.host, c!.host);
    const ra = computeResource(a!, null);
    assert.deepEqual(ra, computeResource(b!, null));
    assert.equal(ra.capacity, 2);
    assert.notEqual(computeResource(c!, null).id, ra.id);
    // A link measured between computers is used for that pair only; one measured between agents on
    // one computer does not replace their loopback figures.
    const measured = { latencySeconds: 3e-3, bytesPerSecond: 5e7 };
    const withLinks = clusterFromNodes(
      [
        node({ id: 'a', telemetry, speed, inventory: inv('ws', 'aa:01') }),
        node({ id: 'b', telemetry, speed, inventory: inv('ws', 'aa:01') }),
        node({ id: 'c', telemetry, speed, inventory: inv('ws', 'bb:02') }),
      ],
      {
        links: new Map([
          [pairKey('a', 'c'), measured],
          [pairKey('a', 'b'), measured],
        ]),
      },
    ).cluster;
    assert.deepEqual(linkBetween(withLinks, 'a', 'c'), measured);
    assert.deepEqual(linkBetween(withLinks, 'b', 'c'), DEFAULT_LINK);
    assert.deepEqual(linkBetween(withLinks, 'a', 'b'), loopback);
    // Without a host each machine is a computer of its own, as before.
    assert.notEqual(
      computeResource({ ...a!, host: undefined }, null).id,
      computeResource({ ...b!, host: undefined }, null).id,
    );
  });
});
