import os from 'node:os';
import { EventEmitter } from 'node:events';
import type { ApiEvent, NodeView } from '../../native/api/schemas.js';
import { designerHandlers } from '../../native/api/designerBackend.js';
import { linkRows } from '../../native/coordinator/linkRows.js';
import { NodeEventEncoder } from '../../native/api/nodeEvents.js';
import type { ApiBackend, ApiHandlers } from '../../native/api/server.js';
import type { RunOperationName } from '../../native/api/runOperations.js';

const GiB = 1024 ** 3;

/** A deterministic pseudo-random walk, so every run of the bench sees the same load pattern. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function machine(i: number, gpus: number): NodeView {
  const id = `synthetic-${String(i).padStart(4, '0')}`;
  return {
    id,
    name: `ws-${String(i).padStart(3, '0')}`,
    cluster: 'default',
    endpoint: { host: `10.0.${i >> 8}.${i & 255}`, controlPort: 47801, publicKey: 'k'.repeat(40) },
    addresses: [`10.0.${i >> 8}.${i & 255}`],
    source: 'beacon',
    state: 'online',
    stateReason: null,
    conflict: null,
    firstSeen: Date.now(),
    lastSeen: Date.now(),
    stateSince: Date.now(),
    telemetryPort: 47802,
    agentVersion: '0.1.0',
    inventory: {
      static: {
        hostname: `ws-${i}`,
        os: { platform: 'linux', distro: 'Ubuntu', release: '24.04', arch: 'x64' },
        cpu: {
          manufacturer: 'AMD',
          brand: 'Ryzen 9 7950X',
          cores: 32,
          physicalCores: 16,
          speedGHz: 4.5,
        },
        memory: { totalBytes: 128 * GiB },
        network: [],
        gpus: Array.from({ length: gpus }, (_, g) => ({
          index: g,
          vendor: 'NVIDIA',
          model: 'NVIDIA GeForce RTX 4090',
          vramBytes: 24 * GiB,
          driver: '550.54',
          busId: null,
          uuid: null,
        })),
        gpuNote: null,
      },
      backends: [
        { name: 'tensorflow-gpu', available: true, reason: null, detail: null },
        { name: 'wasm', available: true, reason: null, detail: null },
      ],
      backendsPending: false,
      bestBackend: 'tensorflow-gpu',
      speed: null,
    },
    telemetry: null,
    speed: {
      backend: 'tensorflow-gpu',
      gflops: 20_000 + i,
      matrix: [2048, 2048, 2048],
      measuredAt: Date.now(),
      durationMs: 500,
    },
    rttMs: 1,
  };
}

/**
 * A lab of `count` machines with `gpus` GPUs each whose telemetry all changes once per `tick()`: the
 * bench serves it through the real ApiServer and WebServer, so the page sees exactly what a real
 * coordinator's events look like on the wire.
 */
/** `plansDir`: where the designer's plan files go (the designer bench passes a temp dir). */
export function syntheticCluster(count: number, gpus: number, plansDir = os.tmpdir()) {
  const nodes = Array.from({ length: count }, (_, i) => machine(i, gpus));
  const random = rng(42);
  const events = new EventEmitter<{ event: [ApiEvent] }>();
  // The same encoder as the real cluster backend: full records once, then telemetry-only events.
  const encoder = new NodeEventEncoder();
  let seq = 0;
  const tick = () => {
    seq++;
    const now = Date.now();
    for (const n of nodes) {
      n.lastSeen = now;
      n.telemetry = {
        nodeId: n.id,
        seq,
        time: now,
        cpuLoad: random(),
        memAvailableBytes: (32 + random() * 64) * GiB,
        memTotalBytes: 128 * GiB,
        gpus: Array.from({ length: gpus }, (_, g) => ({
          index: g,
          utilizationPct: Math.round(random() * 100),
          memUsedBytes: random() * 24 * GiB,
          memTotalBytes: 24 * GiB,
          temperatureC: 40 + Math.round(random() * 40),
          powerW: 100 + Math.round(random() * 350),
          powerLimitW: 450,
        })),
        gpuNote: null,
      };
      events.emit('event', encoder.encode(n));
    }
  };
  tick();
  // The synthetic lab trains nothing: an empty run history, and every run action refused.
  const noRuns = (): Pick<ApiHandlers, RunOperationName> => {
    const refuse = async (): Promise<never> => {
      throw new Error('the synthetic cluster runs nothing');
    };
    return {
      listRuns: async () => ({ runs: [], live: null }),
      startRun: refuse,
      stopRun: refuse,
      replanRun: refuse,
      resumeRun: refuse,
      getRun: refuse,
      deleteRun: refuse,
      restoreRun: refuse,
      exportRun: refuse,
    };
  };
  const backend: ApiBackend = {
    handlers: {
      listNodes: async () => ({ nodes, serverTime: Date.now() }),
      // Synthetic machines have no inventory, so no computer in common: every pair at the default.
      listLinks: async () => {
        const { rows, total } = linkRows(nodes, new Map());
        return { links: rows, total };
      },
      addMachine: async () => {
        throw new Error('the synthetic cluster takes no new machines');
      },
      benchmarkNode: async () => {
        throw new Error('the synthetic cluster does not measure');
      },
      joinInfo: async () => ({
        token: 'pf1.0123456789abcdef0123456789abcdef',
        cluster: 'default',
        beaconPort: 47800,
        command: 'pipefitter agent --token pf1.0123456789abcdef0123456789abcdef',
        localAgent: { enabled: false, state: 'off', nodeId: null, detail: null },
      }),
      getSettings: async () => ({ localAgent: false }),
      setSettings: async () => ({ localAgent: false }),
      ...designerHandlers({ nodes: () => nodes, plansDir }),
      ...noRuns(),
    },
    subscribe(listener) {
      events.on('event', listener);
      return () => events.off('event', listener);
    },
  };
  return { backend, tick };
}
