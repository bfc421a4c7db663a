import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { startAgent, stopAgent } from '../helpers/agents.js';
import { startWeb, type RunningWeb } from '../helpers/web.js';

/** A raw HTTP GET, so the test controls Host and Origin exactly as an attacker's browser would send them. */
function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** Opens the API socket; resolves with the socket, or with the HTTP status the upgrade was refused with. */
function openWs(
  url: string,
  headers: Record<string, string>,
): Promise<{ ws: WebSocket } | { refused: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (_req, res) => resolve({ refused: res.statusCode! }));
    ws.once('error', (err) => {
      const m = /Unexpected server response: (\d+)/.exec(err.message);
      if (m) resolve({ refused: Number(m[1]) });
      else reject(err);
    });
  });
}

interface WireResult {
  id: number | null;
  result: {
    ok: boolean;
    value: { nodes: unknown[]; command: string };
    error: { code: string; message: string };
  };
}

function call(ws: WebSocket, message: unknown): Promise<WireResult> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const msg = JSON.parse(data.toString()) as WireResult & { t: string };
      if (msg.t !== 'result') return;
      ws.off('message', onMessage);
      resolve(msg);
    };
    ws.on('message', onMessage);
    ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  });
}

describe('browser mode (pipefitter web)', () => {
  let web: RunningWeb;
  let own: { Host: string; Origin: string };
  before(async () => {
    web = await startWeb({ beaconPort: 48131 });
    own = { Host: `127.0.0.1:${web.port}`, Origin: `http://127.0.0.1:${web.port}` };
  });
  after(async () => web?.stop());

  it('prints a 127.0.0.1 URL with a random token', () => {
    assert.match(web.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/);
  });

  it('serves the UI with the token, with a CSP, and sets the token cookie', async () => {
    const r = await get(web.port, `/?token=${web.token}`);
    assert.equal(r.status, 200);
    assert.match(r.body, /<div id="root">/);
    assert.match(String(r.headers['content-security-policy']), /script-src 'self'/);
    assert.match(String(r.headers['set-cookie']), /HttpOnly; SameSite=Strict/);
  });

  it('refuses a request without the token, or with a wrong one', async () => {
    assert.equal((await get(web.port, '/')).status, 401);
    assert.equal((await get(web.port, '/?token=0000')).status, 401);
    const ws = await openWs(`ws://127.0.0.1:${web.port}/api`, own);
    assert.deepEqual(ws, { refused: 401 });
  });

  it('accepts the cookie the first page set', async () => {
    const cookie = `pipefitter_token_${web.port}=${web.token}`;
    assert.equal((await get(web.port, '/index.html', { Cookie: cookie })).status, 200);
  });

  it('refuses a foreign Origin (a cross-site page) even with the token', async () => {
    const ws = await openWs(`ws://127.0.0.1:${web.port}/api?token=${web.token}`, {
      ...own,
      Origin: 'http://evil.example',
    });
    assert.deepEqual(ws, { refused: 403 });
    const page = await get(web.port, `/?token=${web.token}`, { Origin: 'http://evil.example' });
    assert.equal(page.status, 403);
  });

  it('refuses a foreign Host (DNS rebinding) even with the token', async () => {
    const r = await get(web.port, `/?token=${web.token}`, { Host: `evil.example:${web.port}` });
    assert.equal(r.status, 403);
    const ws = await openWs(`ws://127.0.0.1:${web.port}/api?token=${web.token}`, {
      Host: `evil.example:${web.port}`,
      Origin: `http://evil.example:${web.port}`,
    });
    assert.deepEqual(ws, { refused: 403 });
  });

  it('does not serve files outside the UI', async () => {
    const r = await get(web.port, `/..%2f..%2fpackage.json?token=${web.token}`);
    assert.equal(r.status, 404);
  });

  describe('the API socket', () => {
    let ws: WebSocket;
    before(async () => {
      const r = await openWs(`ws://127.0.0.1:${web.port}/api?token=${web.token}`, own);
      assert.ok('ws' in r, 'own origin with the token connects');
      ws = r.ws;
    });
    after(() => ws?.close());

    it('answers a valid call', async () => {
      const r = await call(ws, { t: 'call', id: 1, op: 'listNodes', req: {} });
      assert.equal(r.id, 1);
      assert.equal(r.result.ok, true);
      assert.deepEqual(r.result.value.nodes, []);
      const links = await call(ws, { t: 'call', id: 60, op: 'listLinks', req: {} });
      assert.deepEqual(links.result, { ok: true, value: { links: [], total: 0 } });
      const join = await call(ws, { t: 'call', id: 2, op: 'joinInfo', req: {} });
      assert.match(
        join.result.value.command,
        /^pipefitter agent --token pf1\.[0-9a-f]{32} --beacon-port 48131$/,
      );
    });

    it('rejects a malformed payload at the boundary with a clear error', async () => {
      const bad = await call(ws, { t: 'call', id: 3, op: 'addMachine', req: { address: 42 } });
      assert.equal(bad.id, 3);
      assert.deepEqual(bad.result.ok, false);
      assert.equal(bad.result.error.code, 'bad-request');
      assert.match(bad.result.error.message, /^addMachine: invalid request: address: .*string/);

      const extra = await call(ws, { t: 'call', id: 4, op: 'listNodes', req: { evil: true } });
      assert.equal(extra.result.error.code, 'bad-request');
      assert.match(extra.result.error.message, /evil/);

      const unknown = await call(ws, { t: 'call', id: 5, op: 'rm -rf', req: {} });
      assert.equal(unknown.result.error.code, 'unknown-operation');

      const notJson = await call(ws, '{"t":"call",');
      assert.equal(notJson.id, null);
      assert.match(notJson.result.error.message, /not JSON/);

      const envelope = await call(ws, { t: 'call', id: 'x', op: 'listNodes' });
      assert.equal(envelope.result.error.code, 'bad-request');
      assert.match(envelope.result.error.message, /malformed message: id/);
    });

    it("explains an agent that refuses this lab's token", async () => {
      // Another lab's agent, on another beacon port: reachable only by address.
      const stranger = await startAgent({
        name: 'stranger',
        beaconPort: 48132,
        token: 'pf1.ffffffffffffffffffffffffffffffff',
      });
      try {
        const r = await call(ws, {
          t: 'call',
          id: 7,
          op: 'addMachine',
          req: { address: `127.0.0.1:${stranger.ready.controlPort}` },
        });
        assert.equal(r.result.ok, false);
        assert.equal(r.result.error.code, 'failed');
        assert.match(r.result.error.message, /token|refused/i);
      } finally {
        await stopAgent(stranger);
      }
    });

    it('explains an address where nothing answers', async () => {
      const r = await call(ws, {
        t: 'call',
        id: 6,
        op: 'addMachine',
        req: { address: '127.0.0.1:9' },
      });
      assert.equal(r.result.ok, false);
      assert.equal(r.result.error.code, 'failed');
      assert.ok(r.result.error.message.length > 10, r.result.error.message);
    });
  });
});
