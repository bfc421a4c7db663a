import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Coordinator, parsePeerAddress } from '../../native/coordinator/coordinator.js';
import { encodeBeacon, BEACON_VERSION } from '../../native/discovery/beacon.js';
import {
  startAgent,
  stopAgent,
  tempDir,
  testBeaconPort,
  TEST_TOKEN,
  waitUntil,
  type RunningAgent,
} from '../helpers/agents.js';

const agents: RunningAgent[] = [];
const coordinators: Coordinator[] = [];
after(async () => {
  for (const c of coordinators) await c.stop();
  await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
});

async function coordinator(
  o: Partial<ConstructorParameters<typeof Coordinator>[0]> & { beaconPort: number },
): Promise<Coordinator> {
  const c = new Coordinator({ stateDir: tempDir(), token: TEST_TOKEN, ...o });
  coordinators.push(c);
  await c.start();
  return c;
}

function sendDatagrams(port: number, bufs: Buffer[]): Promise<void> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    s.bind(0, () => {
      s.setBroadcast(true);
      let left = bufs.length;
      for (const b of bufs)
        s.send(b, port, '127.255.255.255', () => --left === 0 && (s.close(), resolve()));
    });
  });
}

describe('coordinator', () => {
  it('ignores beacons of another cluster, another version, and garbage, counting each', async () => {
    const beaconPort = testBeaconPort();
    const c = await coordinator({ beaconPort, cluster: 'lab-a' });
    const key = 'rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7';
    const base = {
      nodeId: 'aaaaaaaa-0000',
      cluster: 'lab-b',
      name: 'foreign',
      controlPort: 1,
      address: '',
      publicKey: key,
    };
    const wrongVersion = encodeBeacon({ ...base, cluster: 'lab-a' });
    wrongVersion.writeUInt8(BEACON_VERSION + 1, 3);
    const garbage = Array.from({ length: 200 }, (_, i) =>
      i % 2 ? Buffer.from(`garbage ${i}`) : Buffer.from(`PFB\x01${'x'.repeat(i)}`, 'latin1'),
    );
    await sendDatagrams(beaconPort, [
      encodeBeacon(base),
      encodeBeacon(base),
      wrongVersion,
      ...garbage,
    ]);
    await waitUntil(() => c.beaconStats!.ignoredGarbage >= 200, 3000, 'garbage counted');
    assert.equal(c.beaconStats!.ignoredForeignCluster, 2);
    assert.equal(c.beaconStats!.ignoredVersion, 1);
    assert.equal(c.beaconStats!.accepted, 0);
    assert.equal(c.nodes().length, 0);
  });

  it('adds a machine by address, persists it, and re-adds it from the peers file at start', async () => {
    const beaconPort = testBeaconPort();
    const a = await startAgent({ name: 'far-away', beaconPort });
    agents.push(a);
    // The coordinator listens on another beacon port: it can only find the agent by address.
    const stateDir = tempDir();
    const c = await coordinator({ beaconPort: testBeaconPort(), stateDir });
    const node = await c.addPeer(`127.0.0.1:${a.ready.controlPort}`);
    assert.equal(node.id, a.ready.nodeId);
    assert.equal(node.state, 'online');
    assert.equal(node.source, 'manual');
    const peers = JSON.parse(
      fs.readFileSync(path.join(stateDir, 'coordinator', 'peers.json'), 'utf8'),
    ) as { peers: string[] };
    assert.deepEqual(peers.peers, [`127.0.0.1:${a.ready.controlPort}`]);
    await c.stop();
    const again = await coordinator({ beaconPort: testBeaconPort(), stateDir });
    await waitUntil(
      () => again.registry.get(a.ready.nodeId)?.state === 'online',
      5000,
      'peer from the peers file online',
    );
  });

  it('says clearly when nothing answers at an address, or the token is wrong', async () => {
    const beaconPort = testBeaconPort();
    const a = await startAgent({ name: 'locked', beaconPort });
    agents.push(a);
    const c = await coordinator({ beaconPort: testBeaconPort() });
    await assert.rejects(
      c.addPeer('127.0.0.1:9', { timeoutMs: 1000 }),
      /nothing answers at 127\.0\.0\.1:9/,
    );
    await assert.rejects(c.addPeer('not an address!'), /is not an address: use host or host:port/);
    const wrong = await coordinator({
      beaconPort: testBeaconPort(),
      token: 'pf1.ffffffffffffffffffffffffffffffff',
    });
    await assert.rejects(
      wrong.addPeer(`127.0.0.1:${a.ready.controlPort}`),
      /wrong or missing lab token/,
    );
  });

  it('reports two live agents announcing one node id (a cloned state dir) as a conflict', async () => {
    const beaconPort = testBeaconPort();
    const original = await startAgent({ name: 'original', beaconPort });
    agents.push(original);
    const clonedDir = tempDir();
    fs.cpSync(original.stateDir, clonedDir, { recursive: true });
    const clone = await startAgent({ name: 'clone', beaconPort, stateDir: clonedDir });
    agents.push(clone);
    assert.equal(clone.ready.nodeId, original.ready.nodeId);
    const c = await coordinator({ beaconPort });
    await waitUntil(
      () => !!c.registry.get(original.ready.nodeId)?.conflict,
      8000,
      'conflict reported',
    );
    const node = c.registry.get(original.ready.nodeId)!;
    assert.match(
      node.conflict!,
      new RegExp(`${original.ready.controlPort}|${clone.ready.controlPort}`),
    );
    assert.match(node.conflict!, /cloned state dir/);
    assert.equal(c.nodes().length, 1, 'not merged into, nor split into, two silent records');
  });

  it('parses peer addresses', () => {
    assert.deepEqual(parsePeerAddress('ws-07'), { host: 'ws-07', port: 47801 });
    assert.deepEqual(parsePeerAddress(' 10.0.0.5:5000 '), { host: '10.0.0.5', port: 5000 });
    assert.deepEqual(parsePeerAddress('[fe80::1]:6000'), { host: 'fe80::1', port: 6000 });
    assert.throws(() => parsePeerAddress('a:99999'), /out of range/);
    assert.throws(() => parsePeerAddress('http://x'), /not an address/);
  });
});
