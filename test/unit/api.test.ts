import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { joinCommand } from '../../native/api/clusterBackend.js';
import { NodeEventEncoder } from '../../native/api/nodeEvents.js';
import { operations } from '../../native/api/operations.js';
import { OPERATION_NAMES } from '../../native/api/operationNames.js';
import type { ApiEvent, ApiEventBatch, NodeView } from '../../native/api/schemas.js';
import { ApiServer, type ApiBackend, type ApiHandlers } from '../../native/api/server.js';
import { ApiError, parseRequest } from '../../native/api/validate.js';
import { fakeNode } from '../helpers/fakeNode.js';

function fakeBackend(over: Partial<ApiHandlers> = {}) {
  const listeners = new Set<(e: ApiEvent) => void>();
  // Operations a test does not exercise are left out (the server answers them as handler failures).
  const handlers = {
    listNodes: async () => ({ nodes: [fakeNode('a')], serverTime: 5 }),
    addMachine: async ({ address }) => ({ node: fakeNode(address) }),
    benchmarkNode: async () => {
      throw new Error('no such machine');
    },
    joinInfo: async () => ({
      token: 't',
      cluster: 'default',
      beaconPort: 47800,
      command: 'pipefitter agent --token t',
      localAgent: { enabled: false, state: 'off', nodeId: null, detail: null },
    }),
    getSettings: async () => ({ localAgent: true }),
    setSettings: async () => ({ localAgent: 'yes' }) as never,
    ...over,
  } as ApiHandlers;
  const backend: ApiBackend = {
    handlers,
    subscribe(l) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  return { backend, emit: (e: ApiEvent) => listeners.forEach((l) => l(e)) };
}

describe('the API contract', () => {
  it('has a schema pair for exactly the named operations', () => {
    assert.deepEqual(Object.keys(operations).sort(), [...OPERATION_NAMES].sort());
  });

  it('validates requests at the boundary, naming the bad field', () => {
    assert.throws(
      () => parseRequest('addMachine', { address: 42 }),
      (e: unknown) =>
        e instanceof ApiError &&
        e.code === 'bad-request' &&
        /^addMachine: invalid request: address:/.test(e.message),
    );
    assert.throws(() => parseRequest('addMachine', { address: 'a b c' }), /use host or host:port/);
    assert.throws(() => parseRequest('addMachine', {}), /address/);
    assert.throws(() => parseRequest('addMachine', 'ws-07'), /bad-request|invalid request/);
    assert.throws(() => parseRequest('listNodes', { extra: 1 }), /extra/);
    assert.throws(() => parseRequest('setSettings', { localAgent: 'no' }), /localAgent/);
    assert.deepEqual(parseRequest('addMachine', { address: '  ws-07:47801 ' }), {
      address: 'ws-07:47801',
    });
    assert.deepEqual(parseRequest('addMachine', { address: '[fe80::1]:47801' }), {
      address: '[fe80::1]:47801',
    });
    assert.deepEqual(parseRequest('listNodes', undefined), {});
  });

  it('formats the join command with only the flags that differ from the defaults', () => {
    assert.equal(joinCommand('pf1.x', 'default', 47800), 'pipefitter agent --token pf1.x');
    assert.equal(
      joinCommand('pf1.x', 'lab-3', 48000),
      'pipefitter agent --token pf1.x --cluster lab-3 --beacon-port 48000',
    );
  });
});

describe('ApiServer', () => {
  it('answers envelopes and never throws at the transport', async () => {
    const { backend } = fakeBackend();
    const server = new ApiServer(backend);
    const ok = await server.call('listNodes', {});
    assert.equal(ok.ok, true);
    assert.deepEqual(await server.call('nope', {}), {
      ok: false,
      error: {
        code: 'unknown-operation',
        message: `unknown operation "nope"; known: ${OPERATION_NAMES.join(', ')}`,
      },
    });
    const bad = await server.call('addMachine', { address: ['x'] });
    assert.equal(bad.ok, false);
    assert.equal(!bad.ok && bad.error.code, 'bad-request');
    assert.deepEqual(await server.call('benchmarkNode', { id: 'z' }), {
      ok: false,
      error: { code: 'failed', message: 'no such machine' },
    });
    server.close();
  });

  it('answers listLinks within its schema: a row of an unknown kind is a bad response', async () => {
    const row = {
      aId: 'a',
      a: 'ws-a',
      bId: 'b',
      b: 'ws-b',
      kind: 'measured',
      latencySeconds: 2e-4,
      bytesPerSecond: 1e8,
      assumed: false,
      measuredAt: 5,
    } as const;
    const good = new ApiServer(
      fakeBackend({ listLinks: async () => ({ links: [row], total: 1 }) }).backend,
    );
    assert.deepEqual(await good.call('listLinks', {}), {
      ok: true,
      value: { links: [row], total: 1 },
    });
    assert.equal((await good.call('listLinks', { all: true })).ok, false);
    good.close();
    const bad = new ApiServer(
      fakeBackend({
        listLinks: async () => ({ links: [{ ...row, kind: 'guessed' as 'measured' }], total: 1 }),
      }).backend,
      { onLog: () => {} },
    );
    const r = await bad.call('listLinks', {});
    assert.equal(!r.ok && r.error.code, 'bad-response');
    bad.close();
  });

  it('reports a handler that answers outside its schema as a bad response', async () => {
    const logs: string[] = [];
    const server = new ApiServer(fakeBackend().backend, { onLog: (l) => logs.push(l) });
    const r = await server.call('setSettings', { localAgent: false });
    assert.equal(!r.ok && r.error.code, 'bad-response');
    assert.match(logs.join('\n'), /setSettings: invalid response: localAgent/);
    server.close();
  });

  it('coalesces a burst of events per node, keeping the latest, and drops invalid ones', async () => {
    const { backend, emit } = fakeBackend();
    const logs: string[] = [];
    const server = new ApiServer(backend, { batchMs: 10_000, onLog: (l) => logs.push(l) });
    const batches: ApiEventBatch[] = [];
    server.subscribe((b) => batches.push(b));
    emit({ type: 'nodeChanged', node: fakeNode('a', { rttMs: 1 }) });
    emit({ type: 'nodeChanged', node: fakeNode('b') });
    emit({ type: 'nodeChanged', node: fakeNode('a', { rttMs: 9 }) });
    emit({
      type: 'nodeChanged',
      node: { ...fakeNode('c'), state: 'sleepy' } as unknown as NodeView,
    });
    server.flush();
    assert.equal(batches.length, 1);
    const events = batches[0]!.events;
    assert.deepEqual(
      events.map((e) => (e.type === 'nodeChanged' ? [e.node.id, e.node.rttMs] : e.type)),
      [
        ['b', 1],
        ['a', 9],
      ],
    );
    assert.match(logs.join('\n'), /dropped an invalid nodeChanged event: node\.state/);
    server.close();
  });
});

describe('NodeEventEncoder', () => {
  const sample = (seq: number) => ({
    nodeId: 'a',
    seq,
    time: seq,
    cpuLoad: 0.5,
    memAvailableBytes: 1,
    memTotalBytes: 2,
    gpus: [],
    gpuNote: null,
  });

  it('sends a full record first, then telemetry only, then a full record when anything else changes', () => {
    const enc = new NodeEventEncoder();
    const node = fakeNode('a', { telemetry: sample(1) });
    assert.equal(enc.encode(node).type, 'nodeChanged');
    node.telemetry = sample(2);
    node.lastSeen = 99;
    assert.deepEqual(enc.encode(node), {
      type: 'nodeTelemetry',
      id: 'a',
      telemetry: sample(2),
      lastSeen: 99,
      rttMs: 1,
    });
    node.state = 'unreachable';
    assert.equal(enc.encode(node).type, 'nodeChanged');
    node.addresses.push('10.0.0.2');
    assert.equal(enc.encode(node).type, 'nodeChanged');
    enc.forget('a');
    assert.equal(enc.encode(node).type, 'nodeChanged');
  });

  it('folds a sample into a pending full change instead of replacing it', () => {
    const { backend, emit } = fakeBackend();
    const server = new ApiServer(backend, { batchMs: 10_000 });
    const batches: ApiEventBatch[] = [];
    server.subscribe((b) => batches.push(b));
    emit({ type: 'nodeChanged', node: fakeNode('a', { state: 'connecting' }) });
    emit({ type: 'nodeTelemetry', id: 'a', telemetry: sample(3), lastSeen: 42, rttMs: 2 });
    server.flush();
    const [e] = batches[0]!.events;
    assert.equal(e?.type, 'nodeChanged');
    if (e?.type !== 'nodeChanged') return;
    assert.equal(e.node.state, 'connecting');
    assert.equal(e.node.telemetry?.seq, 3);
    assert.equal(e.node.lastSeen, 42);
    server.close();
  });
});
