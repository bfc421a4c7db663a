import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import type { ApiEventBatch, ApiResult } from '../../native/api/types.js';
import { startWeb, type RunningWeb } from '../helpers/web.js';

interface Wire {
  t: 'result' | 'events';
  id?: number;
  result?: ApiResult;
  batch?: ApiEventBatch;
}

/** A minimal browser-mode client: calls by id, and every event batch kept for the test to inspect. */
class Client {
  private nextId = 1;
  readonly events: ApiEventBatch['events'] = [];
  private readonly waiting = new Map<number, (r: ApiResult) => void>();
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as Wire;
      if (m.t === 'events') this.events.push(...m.batch!.events);
      else this.waiting.get(m.id!)?.(m.result!);
    });
  }
  call(op: string, req: unknown): Promise<ApiResult> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.ws.send(JSON.stringify({ t: 'call', id, op, req }));
    });
  }
  async until(pred: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('browser mode with its embedded agent', () => {
  let web: RunningWeb;
  let client: Client;
  before(async () => {
    web = await startWeb({
      beaconPort: 48142,
      localAgent: true,
      args: ['--agent-interface', 'lo', '--agent-port', '0'],
    });
    const ws = new WebSocket(`ws://127.0.0.1:${web.port}/api?token=${web.token}`, {
      headers: { Origin: `http://127.0.0.1:${web.port}` },
    });
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    client = new Client(ws);
  });
  after(async () => {
    client?.ws.close();
    await web?.stop();
  });

  it('shows this workstation with no set-up', async () => {
    const runningId = () => {
      for (const e of client.events)
        if (e.type === 'localAgent' && e.status.state === 'running') return e.status.nodeId;
      return null;
    };
    const online = (id: string | null) =>
      client.events.some(
        (e) => e.type === 'nodeChanged' && e.node.id === id && e.node.state === 'online',
      );
    await client.until(() => online(runningId()), 20_000, 'the embedded agent online');
    const nodeId = runningId();
    const join = await client.call('joinInfo', {});
    assert.ok(join.ok);
    assert.deepEqual((join.value as { localAgent: unknown }).localAgent, {
      enabled: true,
      state: 'running',
      nodeId,
      detail: null,
    });
  });

  it('turns the embedded agent off with the setting, and remembers it', async () => {
    const r = await client.call('setSettings', { localAgent: false });
    assert.deepEqual(r, { ok: true, value: { localAgent: false } });
    await client.until(
      () => client.events.some((e) => e.type === 'localAgent' && e.status.state === 'off'),
      5000,
      'the local agent off',
    );
    const saved = JSON.parse(fs.readFileSync(path.join(web.stateDir, 'app-settings.json'), 'utf8'));
    assert.deepEqual(saved, { localAgent: false });
    const agents = fs.readFileSync(`/proc/${web.proc.pid}/task/${web.proc.pid}/children`, 'utf8');
    assert.equal(agents.trim(), '', 'no agent process left under the web server');
  });
});
