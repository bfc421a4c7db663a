import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry, type RegistryChange } from '../../native/coordinator/registry.js';
import type { Endpoint } from '../../native/coordinator/nodeRecord.js';

const ep = (host: string, controlPort = 47801, publicKey = 'K'.repeat(40)): Endpoint => ({
  host,
  controlPort,
  publicKey,
});
const announce = (r: Registry, id: string, e: Endpoint, now: number) =>
  r.announce({ id, name: `ws-${id}`, cluster: 'default', endpoint: e, source: 'beacon' }, now);
const hello = (r: Registry, id: string, now: number) =>
  r.helloAnswered(
    id,
    { name: `ws-${id}`, telemetryPort: 47802, agentVersion: '0.1.0', rttMs: 3 },
    now,
  );

function recorder(r: Registry): RegistryChange[] {
  const changes: RegistryChange[] = [];
  r.on('change', (c) => changes.push(c));
  return changes;
}

describe('registry state machine', () => {
  it('adds a node as connecting and asks for a connection once', () => {
    const r = new Registry();
    const changes = recorder(r);
    assert.equal(announce(r, 'a', ep('10.0.0.1'), 0), 'connect');
    assert.equal(announce(r, 'a', ep('10.0.0.1'), 1000), 'none');
    assert.equal(r.get('a')!.state, 'connecting');
    assert.deepEqual(
      changes.map((c) => c.kind),
      ['added'],
    );
  });

  it('goes online on hello, unreachable after silence, online again when heard', () => {
    const r = new Registry();
    const changes = recorder(r);
    announce(r, 'a', ep('10.0.0.1'), 0);
    hello(r, 'a', 100);
    assert.equal(r.get('a')!.state, 'online');
    r.heard('a', 1000, 4);
    r.tick(2900);
    assert.equal(r.get('a')!.state, 'online', 'silent 1.9 s is still online');
    r.tick(3100);
    assert.equal(r.get('a')!.state, 'unreachable');
    assert.match(r.get('a')!.stateReason!, /no answer for 2\.1 s/);
    r.heard('a', 5000);
    assert.equal(r.get('a')!.state, 'online');
    assert.equal(r.get('a')!.stateReason, null);
    const states = changes
      .filter((c) => c.kind === 'state')
      .map((c) => (c as { node: { state: string } }).node.state);
    assert.deepEqual(states, ['online', 'unreachable', 'online']);
  });

  it('turns unreachable into offline after a long silence, and reconnects on a new beacon', () => {
    const r = new Registry({
      unreachableAfterMs: 2000,
      offlineAfterMs: 10_000,
      conflictAfterMs: 3000,
    });
    announce(r, 'a', ep('10.0.0.1'), 0);
    hello(r, 'a', 0);
    r.tick(2500);
    r.tick(13_000);
    assert.equal(r.get('a')!.state, 'offline');
    assert.equal(announce(r, 'a', ep('10.0.0.1'), 14_000), 'connect');
    assert.equal(r.get('a')!.state, 'connecting');
  });

  it('records telemetry as a sign of life', () => {
    const r = new Registry();
    announce(r, 'a', ep('10.0.0.1'), 0);
    hello(r, 'a', 0);
    r.tick(2500);
    assert.equal(r.get('a')!.state, 'unreachable');
    r.telemetryReceived(
      'a',
      {
        nodeId: 'a',
        seq: 1,
        time: 1,
        cpuLoad: 0.2,
        memAvailableBytes: 1,
        memTotalBytes: 2,
        gpus: [],
        gpuNote: null,
      },
      2600,
    );
    assert.equal(r.get('a')!.state, 'online');
    assert.equal(r.get('a')!.telemetry!.cpuLoad, 0.2);
  });

  it('follows a node that restarted on a new port once the old one is silent', () => {
    const r = new Registry();
    const changes = recorder(r);
    announce(r, 'a', ep('10.0.0.1', 5000), 0);
    hello(r, 'a', 0);
    // Killed; restarted on another port before the registry noticed.
    assert.equal(announce(r, 'a', ep('10.0.0.1', 6000), 500), 'none');
    announce(r, 'a', ep('10.0.0.1', 6000), 1500);
    const reconnect = r.tick(2100); // old endpoint silent > 2 s: unreachable, then moved
    assert.deepEqual(reconnect, ['a']);
    assert.equal(r.get('a')!.endpoint.controlPort, 6000);
    assert.equal(r.get('a')!.state, 'connecting');
    assert.equal(r.get('a')!.conflict, null);
    assert.ok(changes.some((c) => c.kind === 'endpoint'));
  });

  it('moves a node that is already unreachable straight to its new endpoint', () => {
    const r = new Registry();
    announce(r, 'a', ep('10.0.0.1', 5000), 0);
    hello(r, 'a', 0);
    r.tick(2500);
    assert.equal(announce(r, 'a', ep('10.0.0.2', 5000), 2600), 'connect');
    assert.deepEqual(r.get('a')!.addresses, ['10.0.0.1', '10.0.0.2']);
  });

  it('reports two live agents with one id as a conflict, naming both, without merging them', () => {
    const r = new Registry();
    const changes = recorder(r);
    announce(r, 'a', ep('10.0.0.1'), 0);
    hello(r, 'a', 0);
    for (let t = 0; t <= 4000; t += 1000) {
      announce(r, 'a', ep('10.0.0.1'), t); // the original keeps announcing
      announce(r, 'a', ep('10.0.0.9'), t); // and so does the clone
      r.heard('a', t); // the original keeps answering
      r.tick(t);
    }
    const node = r.get('a')!;
    assert.equal(node.state, 'online');
    assert.equal(node.endpoint.host, '10.0.0.1', 'the original endpoint is kept');
    assert.match(node.conflict!, /10\.0\.0\.1:47801 and 10\.0\.0\.9:47801/);
    assert.equal(changes.filter((c) => c.kind === 'conflict').length, 1);
  });

  it('marks refusal with a reason and lists nodes by name', () => {
    const r = new Registry();
    announce(r, 'b', ep('10.0.0.2'), 0);
    announce(r, 'a', ep('10.0.0.1'), 0);
    r.refused('b', 'wrong token', 10);
    assert.deepEqual(
      r.list().map((n) => n.id),
      ['a', 'b'],
    );
    assert.equal(r.get('b')!.state, 'refused');
    assert.equal(r.get('b')!.stateReason, 'wrong token');
    r.remove('b');
    assert.equal(r.get('b'), undefined);
  });

  it('ignores input about unknown nodes', () => {
    const r = new Registry();
    assert.doesNotThrow(() => {
      r.heard('x', 0);
      hello(r, 'x', 0);
      r.refused('x', 'no', 0);
      r.tick(10_000);
    });
    assert.equal(r.list().length, 0);
  });

  it('excuses a stall of its own process instead of blaming the nodes', () => {
    const r = new Registry();
    announce(r, 'a', ep('10.0.0.1'), 0);
    hello(r, 'a', 0);
    // The coordinator was blocked from t=500 to t=5500: the agent's pings queued up unread.
    r.excuseStall(5000, 5500);
    r.tick(5500);
    assert.equal(r.get('a')!.state, 'online');
    r.tick(8000);
    assert.equal(r.get('a')!.state, 'unreachable', 'a real silence afterwards still counts');
  });
});
