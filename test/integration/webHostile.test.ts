import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { bigModelJson } from '../helpers/bigModel.js';
import { connectRaw } from '../helpers/rawWebSocket.js';
import { startWeb, type RunningWeb } from '../helpers/web.js';

/**
 * `pipefitter web` against hostile and careless clients: WebSocket frames it must refuse, and file
 * uploads of every wrong kind. It answers or closes each, with a code and words, and stays up.
 */

const TEXT = 0x1;
const BINARY = 0x2;
const MIB = 1 << 20;

type Reply = { t: string; id: number | null; result: { ok: boolean; error?: { code: string } } };

/** The frames that end a connection, and the close each must get. */
const FATAL = {
  oversized: { opcode: TEXT, payload: Buffer.from('{"t":"call"'), declared: 2 * MIB, code: 1009 },
  'invalid UTF-8': { opcode: TEXT, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), code: 1007 },
  binary: { opcode: BINARY, payload: Buffer.from('{"t":"call","id":1}'), code: 1003 },
} as const;
const REASON: Record<number, RegExp> = {
  1009: /over 1 MiB: send files with POST \/api\/upload/,
  1007: /not valid UTF-8/,
  1003: /binary messages are not accepted/,
};

/** Valid JSON of the wrong shape (and a few not-JSON texts): each is answered, never fatal. */
function wrongShape(i: number): { text: string; id: number | null } {
  const id = 100_000 + i;
  const variants: [unknown, number | null][] = [
    [[1, 2, 3], null],
    [42, null],
    ['call', null],
    [null, null],
    [{ t: 'call' }, null],
    [{ t: 'call', id, op: 'listNodes' }, id],
    // A number that is no call id is still echoed, so the sender can match the refusal.
    [{ t: 'call', id: -1, op: 'listNodes', req: {} }, -1],
    [{ t: 'call', id: 1.5, op: 'listNodes', req: {} }, 1.5],
    [{ t: 'nope', id, op: 'listNodes', req: {} }, id],
    [{ t: 'call', id, op: 'x'.repeat(100), req: {} }, id],
    [{ t: 'call', id, op: 'listNodes', req: {}, extra: 1 }, id],
    [{ t: 'call', id, op: 'addMachine', req: { address: [] } }, id],
    [{ t: 'call', id, op: 'nosuch', req: {} }, id],
    [{ t: 'call', id, op: 'importModel', req: { text: 5 } }, id],
    [{ t: 'call', id, op: 'listNodes', req: { evil: true } }, id],
  ];
  if (i % 17 === 16) return { text: '{"t":"call",', id: null };
  const [msg, expect] = variants[i % variants.length]!;
  return { text: JSON.stringify(msg), id: expect };
}

function checkRefusal(r: Reply, id: number | null): void {
  assert.equal(r.t, 'result');
  assert.equal(r.id, id);
  assert.equal(r.result.ok, false);
  assert.ok(
    ['bad-request', 'unknown-operation', 'busy'].includes(r.result.error!.code),
    JSON.stringify(r),
  );
}

/** A real client (the `ws` library, as the page's WebSocket would be) still gets answers. */
async function realClientWorks(web: RunningWeb): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${web.port}/api?token=${web.token}`, {
    headers: { Origin: `http://127.0.0.1:${web.port}` },
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const answer = new Promise<Reply & { result: { value: { nodes: unknown[] } } }>((resolve) =>
    ws.on('message', (d: WebSocket.RawData) => {
      const m = JSON.parse(d.toString()) as Reply & { result: { value: { nodes: unknown[] } } };
      if (m.t === 'result') resolve(m);
    }),
  );
  ws.send(JSON.stringify({ t: 'call', id: 1, op: 'listNodes', req: {} }));
  const r = await answer;
  assert.equal(r.result.ok, true);
  assert.deepEqual(r.result.value.nodes, []);
  ws.close();
}

/** Runs `task` for 0..n-1, `width` at a time. */
async function pool(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await task(next++);
    }),
  );
}

describe('pipefitter web against hostile WebSocket frames', () => {
  let web: RunningWeb;
  before(async () => {
    web = await startWeb({ beaconPort: 48141 });
  });
  after(async () => web?.stop());

  const FRESH_PER_KIND = 250;
  const SHAPE_ON_ONE = 8000;
  const FATAL_ON_ONE = 1000;
  // 4 kinds × 250 fresh connections + 8,000 on one connection + 1,000 fatal frames on three = 10,000.

  it('closes a fresh connection on each oversized, invalid UTF-8 and binary frame with its code, and answers each wrong shape', async () => {
    const kinds = [...Object.entries(FATAL), ['wrong shape', null] as const];
    const closes = new Map<string, number>();
    await pool(kinds.length * FRESH_PER_KIND, 16, async (i) => {
      const [name, fatal] = kinds[i % kinds.length]!;
      const ws = await connectRaw(web.port, web.token);
      if (fatal) {
        ws.send(fatal.opcode, fatal.payload, 'declared' in fatal ? fatal.declared : undefined);
        const { code, reason } = await ws.closed;
        assert.equal(code, fatal.code, `${name}: ${reason}`);
        assert.match(reason, REASON[fatal.code]!);
        closes.set(name, (closes.get(name) ?? 0) + 1);
      } else {
        const { text, id } = wrongShape(i);
        ws.send(TEXT, text);
        await ws.waitMessages(1);
        checkRefusal(ws.messages[0] as Reply, id);
        ws.end();
        closes.set(name, (closes.get(name) ?? 0) + 1);
      }
    });
    assert.deepEqual(Object.fromEntries(closes), {
      oversized: FRESH_PER_KIND,
      'invalid UTF-8': FRESH_PER_KIND,
      binary: FRESH_PER_KIND,
      'wrong shape': FRESH_PER_KIND,
    });
    assert.equal(web.proc.exitCode, null, 'the server is still up');
    await realClientWorks(web);
  });

  it('answers 8,000 wrong shapes on one connection, then closes it on a fatal frame', async () => {
    const ws = await connectRaw(web.port, web.token);
    const expected: (number | null)[] = [];
    for (let i = 0; i < SHAPE_ON_ONE; i++) {
      const { text, id } = wrongShape(i);
      expected.push(id);
      ws.send(TEXT, text);
    }
    await ws.waitMessages(SHAPE_ON_ONE, 60_000);
    const replies = ws.messages as Reply[];
    assert.equal(replies.length, SHAPE_ON_ONE);
    // Replies to calls that reach a handler may overtake the rest: compare as multisets of ids.
    const key = (ids: (number | null)[]) => ids.map(String).sort();
    assert.deepEqual(key(replies.map((r) => r.id)), key(expected));
    for (const r of replies) checkRefusal(r, r.id);
    ws.send(BINARY, Buffer.from([1, 2, 3]));
    assert.equal((await ws.closed).code, 1003);
    await realClientWorks(web);
  });

  it('closes one connection per fatal kind at the first of many such frames, and stays up', async () => {
    const names = Object.keys(FATAL) as (keyof typeof FATAL)[];
    await Promise.all(
      names.map(async (name, k) => {
        const f = FATAL[name];
        const ws = await connectRaw(web.port, web.token);
        const n =
          Math.floor(FATAL_ON_ONE / names.length) + (k === 0 ? FATAL_ON_ONE % names.length : 0);
        for (let i = 0; i < n; i++)
          ws.send(f.opcode, f.payload, 'declared' in f ? f.declared : undefined);
        const { code, reason } = await ws.closed;
        assert.equal(code, f.code, `${name}: ${reason}`);
        assert.equal(ws.messages.length, 0);
      }),
    );
    // A reserved opcode: broken framing, closed as a protocol error.
    const ws = await connectRaw(web.port, web.token);
    ws.send(0x3, 'x');
    assert.equal((await ws.closed).code, 1002);
    assert.equal(web.proc.exitCode, null, 'the server is still up');
    await realClientWorks(web);
  });
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: {
    ok: boolean;
    value?: { model: { layers: unknown[]; ref: { imported?: string } } };
    error?: { code: string; message: string };
  } | null;
  text: string;
}

/** A raw POST: `body` is sent whole, or `stream` writes 1 MiB chunks until the server answers. */
function post(
  port: number,
  path: string,
  o: {
    headers?: Record<string, string | number>;
    body?: Buffer | string;
    stream?: boolean;
    method?: string;
  },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: o.method ?? 'POST', headers: o.headers },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          let json: Answer['json'] = null;
          try {
            json = JSON.parse(text) as Answer['json'];
          } catch {
            // a refusal before the upload handler is plain text
          }
          resolve({ status: res.statusCode!, headers: res.headers, json, text });
        });
      },
    );
    // The server may answer and close before the body is all sent: that is the point.
    req.on('error', (err) => (answered ? undefined : reject(err)));
    let answered = false;
    req.on('response', () => (answered = true));
    if (o.stream) {
      const chunk = Buffer.alloc(MIB, 0x20);
      const more = () => {
        if (answered || req.destroyed) return;
        if (req.write(chunk)) setImmediate(more);
        else req.once('drain', more);
      };
      more();
    } else req.end(o.body);
  });
}

/** A raw HTTP request; resolves with the status line of the answer (or '' when the socket closed). */
function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let data = '';
    s.on('data', (d: Buffer) => {
      data += d.toString();
      if (data.includes('\r\n')) s.destroy();
    });
    s.on('close', () => resolve(data.split('\r\n')[0]!));
    s.on('error', () => resolve(''));
    s.write(head);
  });
}

describe('pipefitter web against URLs and cookies that do not parse', () => {
  it('answers 400 or 401, without a token, and stays up', async () => {
    const web = await startWeb({ beaconPort: 48143 });
    try {
      const host = `Host: 127.0.0.1:${web.port}\r\n`;
      // The URL parser reads "//x" as a host: these once threw out of the request handler.
      assert.equal(
        await rawRequest(web.port, `GET // HTTP/1.1\r\n${host}\r\n`),
        'HTTP/1.1 400 Bad Request',
      );
      assert.equal(
        await rawRequest(
          web.port,
          `GET //%zz HTTP/1.1\r\n${host}Origin: http://127.0.0.1:${web.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        ),
        'HTTP/1.1 400 Bad Request',
      );
      assert.equal(
        await rawRequest(
          web.port,
          `GET / HTTP/1.1\r\n${host}Cookie: pipefitter_token_${web.port}=%zz\r\n\r\n`,
        ),
        'HTTP/1.1 401 Unauthorized',
      );
      assert.equal(web.proc.exitCode, null, 'the server is still up');
      await realClientWorks(web);
    } finally {
      await web.stop();
    }
  });
});

describe('pipefitter web file uploads (POST /api/upload/<op>)', () => {
  let web: RunningWeb;
  let own: Record<string, string>;
  before(async () => {
    web = await startWeb({ beaconPort: 48142 });
    own = {
      Host: `127.0.0.1:${web.port}`,
      Origin: `http://127.0.0.1:${web.port}`,
      Cookie: `pipefitter_token_${web.port}=${web.token}`,
      'Content-Type': 'application/json',
    };
  });
  after(async () => web?.stop());

  const importPath = (name: string) =>
    `/api/upload/importModel?fileName=${encodeURIComponent(name)}`;

  it('imports a 5 MiB model.json and answers the result envelope, the model kept by reference', async () => {
    const big = bigModelJson(5 * MIB);
    assert.ok(big.text.length >= 5 * MIB);
    const r = await post(web.port, importPath('deep-chain.json'), { headers: own, body: big.text });
    assert.equal(r.status, 200, r.text.slice(0, 500));
    assert.equal(r.json?.ok, true);
    assert.equal(r.json!.value!.model.layers.length, big.layers);
    assert.match(r.json!.value!.model.ref.imported ?? '', /^[0-9a-f]{32}$/);
    assert.ok(JSON.stringify(r.json!.value!.model.ref).length < 200);
  });

  it('refuses no token, a wrong token, a foreign Origin and a foreign Host', async () => {
    const body = '{}';
    const { Cookie: _c, ...noToken } = own;
    assert.equal(
      (await post(web.port, importPath('m.json'), { headers: noToken, body })).status,
      401,
    );
    const wrong = { ...own, Cookie: `pipefitter_token_${web.port}=0000` };
    assert.equal(
      (await post(web.port, importPath('m.json'), { headers: wrong, body })).status,
      401,
    );
    const evil = { ...own, Origin: 'http://evil.example' };
    assert.equal((await post(web.port, importPath('m.json'), { headers: evil, body })).status, 403);
    const rebound = {
      ...own,
      Host: `evil.example:${web.port}`,
      Origin: `http://evil.example:${web.port}`,
    };
    assert.equal(
      (await post(web.port, importPath('m.json'), { headers: rebound, body })).status,
      403,
    );
  });

  it('refuses a file over 64 MiB with 413, whether it says its length or streams', async () => {
    const declared = await post(web.port, importPath('huge.json'), {
      headers: { ...own, 'Content-Length': 64 * MIB + 1 },
      stream: true,
    });
    assert.equal(declared.status, 413);
    assert.equal(declared.json?.error?.code, 'too-large');
    assert.match(declared.json?.error?.message ?? '', /huge\.json is larger than 64 MiB/);
    const chunked = await post(web.port, importPath('endless.json'), {
      headers: own,
      stream: true,
    });
    assert.equal(chunked.status, 413);
    assert.match(chunked.json?.error?.message ?? '', /endless\.json is larger than 64 MiB/);
  });

  it('refuses what is not a JSON file, and operations that take no file, in words', async () => {
    const text = await post(web.port, importPath('m.json'), {
      headers: { ...own, 'Content-Type': 'text/plain' },
      body: '{}',
    });
    assert.equal(text.status, 415);
    assert.match(text.json?.error?.message ?? '', /application\/json, not "text\/plain"/);
    const notJson = await post(web.port, importPath('m.json'), { headers: own, body: 'not json' });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json?.error?.code, 'bad-request');
    assert.match(notJson.json?.error?.message ?? '', /m\.json is not valid JSON/);
    const notUtf8 = await post(web.port, importPath('m.json'), {
      headers: own,
      body: Buffer.from([0x7b, 0xff, 0x7d]),
    });
    assert.equal(notUtf8.status, 400);
    assert.match(notUtf8.json?.error?.message ?? '', /not UTF-8/);
    const graph = await post(web.port, importPath('g.json'), {
      headers: own,
      body: '{"format":"graph-model"}',
    });
    assert.equal(graph.status, 400);
    assert.match(graph.json?.error?.message ?? '', /tfjs graph model/);
    const notFile = await post(web.port, '/api/upload/listNodes', { headers: own, body: '{}' });
    assert.equal(notFile.status, 404);
    assert.equal(notFile.json?.error?.code, 'unknown-operation');
    const get = await post(web.port, importPath('m.json'), { headers: own, method: 'GET' });
    assert.equal(get.status, 405);
    assert.equal(web.proc.exitCode, null, 'the server is still up');
    await realClientWorks(web);
  });
});
