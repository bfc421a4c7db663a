import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import * as zmq from 'zeromq';
import { Coordinator } from '../../native/coordinator/coordinator.js';
import { encodeBeacon } from '../../native/discovery/beacon.js';
import { beaconKey } from '../../native/trust/token.js';
import {
  startAgent,
  stopAgent,
  tempDir,
  testBeaconPort,
  TEST_TOKEN,
  waitUntil,
  type RunningAgent,
} from '../helpers/agents.js';

const FLOOD = 5000;
const SERVER_KEY = zmq.curveKeyPair().publicKey;

function openFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** A well-formed beacon of our cluster with a fresh node id, unsigned or signed with `key`. */
function fakeBeacon(i: number, key?: Buffer, address = ''): Buffer {
  return encodeBeacon(
    {
      nodeId: crypto.randomUUID(),
      cluster: 'default',
      name: `fake-${i}`,
      controlPort: 1 + (i % 60000),
      address,
      publicKey: SERVER_KEY,
    },
    key,
  );
}

/** Sends datagrams from one socket to loopback, in bursts small enough for the receive buffer. */
async function flood(port: number, make: (i: number) => Buffer, count: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, count - i) },
        (_, j) => new Promise<void>((r) => s.send(make(i + j), port, '127.0.0.1', () => r())),
      ),
    );
    await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise<void>((r) => s.close(() => r()));
}

/** Waits until `read` has not changed for 300 ms (the socket's buffer has drained), then returns it. */
async function settled(read: () => number): Promise<number> {
  let last = read();
  for (let stable = 0; stable < 3;) {
    await new Promise((r) => setTimeout(r, 100));
    const now = read();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return last;
}

describe('a stranger flooding the beacon port', () => {
  const beaconPort = testBeaconPort();
  const agents: RunningAgent[] = [];
  const coordinators: Coordinator[] = [];

  before(async () => {
    agents.push(await startAgent({ name: 'real-1', beaconPort }));
    agents.push(await startAgent({ name: 'real-2', beaconPort }));
  });
  after(async () => {
    for (const c of coordinators) await c.stop();
    await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
  });

  const allOnline = (c: Coordinator) =>
    agents.every((a) => c.registry.get(a.ready.nodeId)?.state === 'online');

  it('with the token: 5,000 unsigned or wrongly signed beacons, then 5,000 random datagrams, allocate nothing', async () => {
    const c = new Coordinator({ stateDir: tempDir(), token: TEST_TOKEN, beaconPort });
    coordinators.push(c);
    await c.start();
    await waitUntil(() => allOnline(c), 10_000, 'the real agents online');
    const fdsBefore = openFds();
    const strangerKey = beaconKey('pf1.ffffffffffffffffffffffffffffffff');

    await flood(beaconPort, (i) => fakeBeacon(i, i % 2 ? strangerKey : undefined), FLOOD);
    await flood(beaconPort, () => crypto.randomBytes(1 + crypto.randomInt(600)), FLOOD);
    // UDP may drop part of a flood when this 2-core machine is busy; what arrived must all be counted.
    const unauthenticated = await settled(() => c.beaconStats!.ignoredUnauthenticated);
    assert.ok(unauthenticated > FLOOD / 10, `the flood arrived: ${unauthenticated} beacons`);

    assert.equal(c.registry.size, agents.length, 'only the real agents are listed');
    assert.equal(c.openLinkCount, agents.length, 'no link was opened for a stranger');
    assert.ok(
      openFds() <= fdsBefore + 4,
      `file descriptors stay put: ${fdsBefore} before, ${openFds()} after`,
    );
    const strangers = c.strangers();
    assert.equal(strangers.length, 1, 'one line for the one sender');
    assert.equal(strangers[0]!.address, '127.0.0.1');
    assert.equal(strangers[0]!.beacons, unauthenticated);
    assert.ok(c.beaconStats!.ignoredGarbage > 0, 'random datagrams counted as garbage');
    // Still live: the real agents keep answering pings and sending telemetry.
    const heardAt = Date.now();
    await waitUntil(
      () =>
        agents.every((a) => (c.registry.get(a.ready.nodeId)?.lastSeen ?? 0) > heardAt) &&
        allOnline(c),
      5000,
      'the real agents heard from after the flood',
    );
  });

  it('without the token (beacons cannot be verified): sockets and registry stay bounded, and fakes are forgotten', async () => {
    // A coordinator with only its own key must have enrolled it through a token holder first.
    const stateDir = tempDir();
    const enrol = new Coordinator({ stateDir, token: TEST_TOKEN, beaconPort });
    await enrol.start();
    await waitUntil(() => allOnline(enrol), 10_000, 'enrolment');
    await new Promise((r) => setTimeout(r, 300));
    await enrol.stop();

    const limits = { maxNodes: 64, maxUnansweredPerAddress: 8, forgetUnansweredAfterMs: 1500 };
    const c = new Coordinator({ stateDir, beaconPort, limits });
    coordinators.push(c);
    await c.start();
    await waitUntil(() => allOnline(c), 10_000, 'the real agents online without the token');
    const fdsBefore = openFds();

    // Some fakes name hosts ZeroMQ cannot even parse: a socket error, never an exception.
    await flood(
      beaconPort,
      (i) => fakeBeacon(i, undefined, i % 10 === 0 ? 'no such host!' : ''),
      FLOOD,
    );
    const accepted = await settled(() => c.beaconStats!.accepted);
    assert.ok(accepted > FLOOD / 10, `the flood arrived: ${accepted} beacons`);
    assert.ok(
      c.registry.size <= agents.length + limits.maxUnansweredPerAddress,
      `registry bounded: ${c.registry.size}`,
    );
    assert.ok(c.openLinkCount <= agents.length + limits.maxUnansweredPerAddress);
    assert.ok(
      c.drops.tooManyUnansweredFromAddress >= accepted - 4 * limits.maxUnansweredPerAddress - 20,
      `fakes beyond the per-address bound dropped: ${c.drops.tooManyUnansweredFromAddress} of ${accepted}`,
    );
    assert.ok(openFds() <= fdsBefore + 4 * limits.maxUnansweredPerAddress + 4);

    await waitUntil(
      () => c.registry.size === agents.length && c.openLinkCount === agents.length,
      5000,
      'the fakes forgotten once they stop announcing',
    );
    assert.ok(allOnline(c), 'the real agents stayed online');
  });

  it('out of ZeroMQ sockets (EMFILE): the node waits with a reason, nothing throws, and it connects once sockets free up', async () => {
    const c = new Coordinator({
      stateDir: tempDir(),
      token: TEST_TOKEN,
      beaconPort: testBeaconPort(),
      discover: false,
    });
    coordinators.push(c);
    await c.start();
    const hog: zmq.Dealer[] = [];
    /** Takes every socket the context will still give; returns how many it took. */
    const takeAll = (): number => {
      const before = hog.length;
      try {
        for (;;) hog.push(new zmq.Dealer({ linger: 0 }));
      } catch (err) {
        assert.match((err as Error).message, /too many/i);
      }
      return hog.length - before;
    };
    takeAll();
    // Sockets closed by earlier tests are freed by libzmq's reaper thread a little later; take
    // those too, until none has come free for 500 ms, so the coordinator's link finds none.
    for (let quiet = 0, t0 = Date.now(); quiet < 5 && Date.now() - t0 < 10_000;) {
      await new Promise((r) => setTimeout(r, 100));
      quiet = takeAll() === 0 ? quiet + 1 : 0;
    }
    let addError: Error | null = null;
    const pending = c
      .addPeer(`127.0.0.1:${agents[0]!.ready.controlPort}`, { timeoutMs: 30_000 })
      .catch((err: Error) => (addError = err));
    await waitUntil(
      () => c.registry.get(agents[0]!.ready.nodeId)?.state === 'unreachable',
      8000,
      'the node marked unreachable',
    ).catch((err: Error) => {
      const n = c.registry.get(agents[0]!.ready.nodeId);
      throw new Error(
        `${err.message}: ${n ? `${n.state} (${n.stateReason})` : `not listed (${addError?.message})`}`,
      );
    });
    assert.match(
      c.registry.get(agents[0]!.ready.nodeId)!.stateReason!,
      /cannot open a connection: .*too many/i,
    );
    assert.ok(c.drops.socketErrors >= 1);
    for (const s of hog) s.close();
    await pending;
    assert.equal(addError, null, 'adding the machine succeeded once sockets were free');
    await waitUntil(
      () => c.registry.get(agents[0]!.ready.nodeId)?.state === 'online',
      8000,
      'online once sockets are free',
    );
  });
});
