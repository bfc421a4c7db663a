import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as zmq from 'zeromq';
import { Coordinator } from '../../native/coordinator/coordinator.js';
import { PROTOCOL_VERSION } from '../../native/protocol/version.js';
import { labKeyPair } from '../../native/trust/token.js';
import {
  startAgent,
  stopAgent,
  tempDir,
  testBeaconPort,
  TEST_TOKEN,
  waitUntil,
  type RunningAgent,
} from '../helpers/agents.js';
import { rawDealer, requestJson } from '../helpers/rawControl.js';
import { loadOrCreateKeyPair } from '../../native/trust/keyPair.js';
import path from 'node:path';

const WRONG_TOKEN = 'pf1.ffffffffffffffffffffffffffffffff';

describe('trust: only holders of the lab token (or trusted keys) reach an agent', () => {
  const beaconPort = testBeaconPort();
  let agent: RunningAgent;
  let agentKey: string;
  const coordinators: Coordinator[] = [];

  before(async () => {
    agent = await startAgent({ name: 'secure', beaconPort });
    agentKey = loadOrCreateKeyPair(path.join(agent.stateDir, 'agent'), 'agent-key.json').publicKey;
  });
  after(async () => {
    for (const c of coordinators) await c.stop();
    await stopAgent(agent, 'SIGKILL');
  });

  it('a coordinator with the wrong token drops the beacon as unauthenticated and opens nothing', async () => {
    const c = new Coordinator({ stateDir: tempDir(), token: WRONG_TOKEN, beaconPort });
    coordinators.push(c);
    await c.start();
    await waitUntil(
      () => (c.beaconStats?.ignoredUnauthenticated ?? 0) >= 2,
      5000,
      'unauthenticated beacons counted',
    );
    assert.equal(c.registry.get(agent.ready.nodeId), undefined, 'the agent is not listed');
    assert.equal(c.openLinkCount, 0, 'no socket was opened for it');
    const [line] = c.strangers();
    assert.equal(line?.address, '127.0.0.1');
    assert.ok(line!.beacons >= 2);
  });

  it('a coordinator without the token (and an unenrolled key) is refused at the handshake, and learns nothing else', async () => {
    const c = new Coordinator({ stateDir: tempDir(), beaconPort });
    coordinators.push(c);
    await c.start();
    await waitUntil(() => c.registry.get(agent.ready.nodeId)?.state === 'refused', 5000, 'refusal');
    const node = c.registry.get(agent.ready.nodeId)!;
    assert.match(node.stateReason!, /refused this coordinator's key.*wrong or missing lab token/);
    await new Promise((r) => setTimeout(r, 2500));
    const later = c.registry.get(agent.ready.nodeId)!;
    assert.equal(later.inventory, null, 'no inventory');
    assert.equal(later.telemetry, null, 'no telemetry');
    assert.equal(later.telemetryPort, null, 'not even the telemetry port');
    assert.equal(later.state, 'refused');
  });

  it('a stranger key cannot call the control socket: no reply, an auth error', async () => {
    const stranger = zmq.curveKeyPair();
    const d = rawDealer('127.0.0.1', agent.ready.controlPort, agentKey, stranger);
    let authErrors = 0;
    d.events.on('handshake:error:auth', () => authErrors++);
    await d
      .send(JSON.stringify({ v: PROTOCOL_VERSION, id: '1', type: 'inventory' }))
      .catch(() => {});
    await assert.rejects(d.receive(), /timed out|Socket temporarily unavailable/i);
    assert.ok(authErrors >= 1, 'the handshake was refused');
    d.close();
  });

  it('a stranger key cannot subscribe to telemetry: nothing arrives', async () => {
    const stranger = labKeyPair(WRONG_TOKEN);
    const sub = new zmq.Subscriber({
      curveServerKey: agentKey,
      curvePublicKey: stranger.publicKey,
      curveSecretKey: stranger.secretKey,
      linger: 0,
      receiveTimeout: 3000,
    });
    let authErrors = 0;
    sub.events.on('handshake:error:auth', () => authErrors++);
    sub.connect(`tcp://127.0.0.1:${agent.ready.telemetryPort}`);
    sub.subscribe();
    await assert.rejects(sub.receive(), /timed out|Socket temporarily unavailable/i);
    assert.ok(authErrors >= 1);
    sub.close();
  });

  it('the right token gets telemetry on the same socket (the test above can fail)', async () => {
    const lab = labKeyPair(TEST_TOKEN);
    const sub = new zmq.Subscriber({
      curveServerKey: agentKey,
      curvePublicKey: lab.publicKey,
      curveSecretKey: lab.secretKey,
      linger: 0,
      receiveTimeout: 3000,
    });
    sub.connect(`tcp://127.0.0.1:${agent.ready.telemetryPort}`);
    sub.subscribe('telemetry.sample');
    const [topic, body] = await sub.receive();
    assert.equal(topic!.toString(), 'telemetry.sample');
    assert.equal((JSON.parse(body!.toString()) as { nodeId: string }).nodeId, agent.ready.nodeId);
    sub.close();
  });

  it('a coordinator whose own key was enrolled with `join` is admitted without the token', async () => {
    const stateDir = tempDir();
    const withToken = new Coordinator({ stateDir, token: TEST_TOKEN, beaconPort });
    coordinators.push(withToken);
    await withToken.start();
    await waitUntil(
      () => withToken.registry.get(agent.ready.nodeId)?.state === 'online',
      5000,
      'online with the token',
    );
    await new Promise((r) => setTimeout(r, 300)); // the join is sent right after hello
    await withToken.stop();
    const noToken = new Coordinator({ stateDir, beaconPort });
    coordinators.push(noToken);
    await noToken.start();
    await waitUntil(
      () => noToken.registry.get(agent.ready.nodeId)?.state === 'online',
      5000,
      'online with the enrolled key alone',
    );
    const other = new Coordinator({ stateDir: tempDir(), beaconPort });
    coordinators.push(other);
    await other.start();
    await waitUntil(
      () => other.registry.get(agent.ready.nodeId)?.state === 'refused',
      // A beacon, then a handshake that never completes: about 3.5 s, more on a loaded machine.
      10_000,
      'an unenrolled key without token refused',
    );
  });

  it('the lab key gets answers over a raw socket', async () => {
    const d = rawDealer('127.0.0.1', agent.ready.controlPort, agentKey, labKeyPair(TEST_TOKEN));
    const reply = await requestJson(d, { v: PROTOCOL_VERSION, id: '7', type: 'hello' });
    assert.equal(reply.ok, true);
    assert.equal((reply.result as { nodeId: string }).nodeId, agent.ready.nodeId);
    d.close();
  });
});
