import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROTOCOL_VERSION } from '../../native/protocol/version.js';
import { MAX_CONTROL_MESSAGE_BYTES } from '../../native/protocol/limits.js';
import { loadOrCreateKeyPair } from '../../native/trust/keyPair.js';
import { labKeyPair } from '../../native/trust/token.js';
import {
  startAgent,
  stopAgent,
  testBeaconPort,
  TEST_TOKEN,
  type RunningAgent,
} from '../helpers/agents.js';
import { rawDealer, requestJson } from '../helpers/rawControl.js';

describe('bad input: the agent answers what it can, drops the rest, and keeps serving', () => {
  const beaconPort = testBeaconPort();
  let agent: RunningAgent;
  let agentKey: string;
  const lab = labKeyPair(TEST_TOKEN);

  before(async () => {
    agent = await startAgent({ name: 'target', beaconPort });
    agentKey = loadOrCreateKeyPair(path.join(agent.stateDir, 'agent'), 'agent-key.json').publicKey;
  });
  after(async () => {
    await stopAgent(agent, 'SIGKILL');
  });

  const ping = async () => {
    const d = rawDealer('127.0.0.1', agent.ready.controlPort, agentKey, lab);
    try {
      return await requestJson(d, { v: PROTOCOL_VERSION, id: 'ping', type: 'ping', sentAt: 1 });
    } finally {
      d.close();
    }
  };

  it('answers each kind of bad request with a named error', async () => {
    const d = rawDealer('127.0.0.1', agent.ready.controlPort, agentKey, lab);
    const cases: [unknown, string][] = [
      ['not json at all', 'malformed'],
      [{ v: 99, id: 'a', type: 'ping', sentAt: 1 }, 'unsupported-version'],
      [{ v: PROTOCOL_VERSION, id: 'b', type: 'format-disk' }, 'unknown-type'],
      [{ v: PROTOCOL_VERSION, id: 'c', type: 'ping', sentAt: 'yesterday' }, 'invalid-payload'],
    ];
    for (const [body, code] of cases) {
      await d.send(typeof body === 'string' ? body : JSON.stringify(body));
      const [reply] = await d.receive();
      const r = JSON.parse(reply!.toString()) as {
        ok: boolean;
        error: { code: string; message: string };
      };
      assert.equal(r.ok, false);
      assert.equal(r.error.code, code, r.error.message);
    }
    await d.send(['two', 'frames']);
    const [multi] = await d.receive();
    assert.match(multi!.toString(), /expected one JSON frame, got 2/);
    d.close();
  });

  it('survives thousands of malformed frames, then still answers ping', async () => {
    const d = rawDealer('127.0.0.1', agent.ready.controlPort, agentKey, lab);
    let seed = 7;
    const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    const N = 3000;
    // Every one of them can be answered (a routing id is always known): collect all replies, read
    // while sending (an agent drops replies to a peer that does not read: bounded send queue).
    const replies = (async () => {
      let errors = 0;
      for (let i = 0; i < N; i++) {
        const [reply] = await d.receive();
        const r = JSON.parse(reply!.toString()) as { ok: boolean };
        if (!r.ok) errors++;
      }
      return errors;
    })();
    for (let i = 0; i < N; i++) {
      const kind = i % 6;
      let frame: Buffer | string;
      if (kind === 0)
        frame = Buffer.from(
          Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)),
        );
      else if (kind === 1)
        frame = JSON.stringify({
          v: Math.floor(rand() * 10),
          id: String(i),
          type: 'ping',
          sentAt: 1,
        });
      else if (kind === 2)
        frame = JSON.stringify({ v: PROTOCOL_VERSION, id: String(i), type: `x${i}` });
      else if (kind === 3)
        frame = JSON.stringify({
          v: PROTOCOL_VERSION,
          id: 'y'.repeat(200),
          type: 'inventory',
          junk: [1, 2, 3],
        });
      else if (kind === 4)
        frame = '{"v":1,"id":"z","type":"ping","sentAt":' + '9'.repeat(400) + '}';
      else frame = JSON.stringify([[[[[[[[[[i]]]]]]]]]]);
      await d.send(frame);
    }
    const errors = await replies;
    // kind 1 with v === PROTOCOL_VERSION is a valid ping: the rest are errors.
    assert.ok(errors >= N * 0.8, `${errors} of ${N} were errors`);
    d.close();
    const r = await ping();
    assert.equal(r.ok, true);
  });

  it('drops an oversized frame (maxMessageSize) without crashing, and serves the next client', async () => {
    const d = rawDealer('127.0.0.1', agent.ready.controlPort, agentKey, lab);
    await d.send(Buffer.alloc(MAX_CONTROL_MESSAGE_BYTES + 4096, 0x41));
    await assert.rejects(d.receive(), /timed out|temporarily unavailable/i);
    d.close();
    assert.equal((await ping()).ok, true);
  });

  it('shrugs off raw TCP garbage on the control and telemetry ports', async () => {
    for (const port of [agent.ready.controlPort, agent.ready.telemetryPort]) {
      await new Promise<void>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.write(Buffer.alloc(64 * 1024, 0xff));
          s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
          setTimeout(() => s.destroy(), 200);
        });
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
    }
    assert.equal((await ping()).ok, true);
  });

  it('ignores garbage datagrams on its WHOIS port', async () => {
    const s = dgram.createSocket('udp4');
    for (let i = 0; i < 500; i++)
      s.send(Buffer.alloc(i % 300, i & 0xff), agent.ready.controlPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    s.close();
    assert.equal((await ping()).ok, true);
    assert.equal(agent.proc.exitCode, null, 'still running');
  });
});
