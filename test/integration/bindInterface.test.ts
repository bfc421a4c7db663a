import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { PROTOCOL_VERSION } from '../../native/protocol/version.js';
import { loadOrCreateKeyPair } from '../../native/trust/keyPair.js';
import { labKeyPair } from '../../native/trust/token.js';
import {
  startAgent,
  stopAgent,
  testBeaconPort,
  TEST_TOKEN,
  type RunningAgent,
} from '../helpers/agents.js';
import { processSockets, type ProcSocket } from '../helpers/procSockets.js';
import { rawDealer, requestJson } from '../helpers/rawControl.js';

const show = (s: ProcSocket[]) => s.map((x) => `${x.proto} ${x.address}:${x.port}`).join(', ');

describe('an agent started with --interface lo', () => {
  let agent: RunningAgent | null = null;
  after(async () => {
    if (agent) await stopAgent(agent, 'SIGKILL');
  });

  it('binds every socket, its stage hosts included, to 127.0.0.1 and nothing to 0.0.0.0', async () => {
    agent = await startAgent({ name: 'lo-only', beaconPort: testBeaconPort(), iface: 'lo' });
    const own = processSockets(agent.ready.pid);
    // Control (TCP + the WHOIS datagram port), telemetry, and the beacon sender.
    assert.ok(own.filter((s) => s.proto === 'udp').length >= 2, `UDP sockets: ${show(own)}`);
    assert.ok(own.filter((s) => s.proto === 'tcp').length >= 2, `TCP sockets: ${show(own)}`);
    assert.deepEqual(
      own.filter((s) => s.address !== '127.0.0.1'),
      [],
      `the agent's sockets: ${show(own)}`,
    );

    const key = loadOrCreateKeyPair(path.join(agent.stateDir, 'agent'), 'agent-key.json');
    const d = rawDealer(
      '127.0.0.1',
      agent.ready.controlPort,
      key.publicKey,
      labKeyPair(TEST_TOKEN),
    );
    d.receiveTimeout = 30_000;
    try {
      const r = (await requestJson(d, {
        v: PROTOCOL_VERSION,
        id: 'spawn',
        type: 'stage.spawn',
        runId: 'bind-check',
        stageIndex: 0,
      })) as { ok: boolean; result: { pid: number } };
      assert.equal(r.ok, true, JSON.stringify(r));
      const stage = processSockets(r.result.pid);
      assert.ok(stage.length >= 1, 'the stage host listens');
      assert.deepEqual(
        stage.filter((s) => s.address !== '127.0.0.1'),
        [],
        `the stage host's sockets: ${show(stage)}`,
      );
    } finally {
      d.close();
    }
  });
});
