import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { isFileOperation, MAX_FILE_BYTES } from '../api/fileOperations.js';
import type { ApiErrorCode, ApiResult } from '../api/schemas.js';
import type { ApiServer } from '../api/server.js';
import { describeIssues } from '../api/validate.js';
import {
  allowedHosts,
  hostAllowed,
  originAllowed,
  readCookie,
  tokensEqual,
} from './originGuard.js';
import {
  WS_CLOSE,
  WS_CLOSE_REASONS,
  WS_MAX_BUFFERED_BYTES,
  WS_MAX_CALLS_IN_FLIGHT,
  WS_MAX_MESSAGE_BYTES,
  WsCallSchema,
} from './wireSchemas.js';
import { contentType, UI_CSP } from './uiAssets.js';

export interface WebServerOptions {
  api: ApiServer;
  token: string;
  /** The built UI (dist/renderer). */
  staticDir: string;
  host?: string;
  port?: number;
  onLog?: (line: string) => void;
}

/**
 * Browser mode: the built UI and the API over one WebSocket (/api), on 127.0.0.1 by default. Every
 * request must name this server in Host, carry the token (URL once, then a cookie) and, from a browser,
 * come from this server's own origin.
 */
export class WebServer {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private uploads = 0;
  private allowed = new Set<string>();
  private cookieName = 'pipefitter_token';
  private _port = 0;

  constructor(private readonly opts: WebServerOptions) {
    this.http = http.createServer((req, res) => this.onRequest(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_MESSAGE_BYTES });
    this.http.on('upgrade', (req, socket, head) => {
      // Node leaves an upgraded socket without an error listener: a peer's reset would be thrown.
      socket.on('error', (err) => this.log(`WebSocket ${req.url}: ${err.message}`));
      const refusal = this.refusal(req, true);
      if (refusal) {
        this.log(`refused WebSocket ${req.url}: ${refusal.reason}`);
        socket.end(
          `HTTP/1.1 ${refusal.status} ${http.STATUS_CODES[refusal.status]}\r\nConnection: close\r\n\r\n`,
        );
        return;
      }
      if (requestUrl(req)!.pathname !== '/api') {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
  }

  get port(): number {
    return this._port;
  }

  /** The URL to open, token included (like Jupyter's). */
  get url(): string {
    const h = this.opts.host ?? '127.0.0.1';
    const shown = h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h;
    return `http://${shown}:${this._port}/?token=${this.opts.token}`;
  }

  async listen(): Promise<void> {
    const host = this.opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port ?? 0, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this._port = (this.http.address() as AddressInfo).port;
    this.allowed = allowedHosts(host, this._port);
    // Cookies ignore ports: name ours by port so two instances on one machine keep their own tokens.
    this.cookieName = `pipefitter_token_${this._port}`;
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  private log(line: string): void {
    this.opts.onLog?.(line);
  }

  /** Why a request is refused, or null. Checked for every page, asset and WebSocket. */
  private refusal(
    req: http.IncomingMessage,
    upgrade: boolean,
  ): { status: number; reason: string } | null {
    const host = req.headers.host;
    if (!hostAllowed(host, this.allowed))
      return { status: 403, reason: `Host "${host ?? ''}" is not this server` };
    const origin = req.headers.origin;
    if (upgrade && origin === undefined)
      return { status: 403, reason: 'a WebSocket without Origin' };
    if (!originAllowed(origin, host, this.allowed))
      return { status: 403, reason: `Origin "${origin}" is not this server` };
    const url = requestUrl(req);
    if (!url) return { status: 400, reason: 'a malformed URL' };
    const token = url.searchParams.get('token') ?? readCookie(req.headers.cookie, this.cookieName);
    if (!tokensEqual(token, this.opts.token))
      return { status: 401, reason: token ? 'wrong token' : 'no token' };
    return null;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const refusal = this.refusal(req, false);
    if (refusal) {
      this.log(`refused ${req.method} ${req.url}: ${refusal.reason}`);
      res.writeHead(refusal.status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(
        refusal.status === 401
          ? 'Pipefitter: open the URL with the token that `pipefitter web` printed.\n'
          : `Pipefitter: refused (${refusal.reason}).\n`,
      );
      return;
    }
    const url = requestUrl(req)!;
    if (url.pathname.startsWith(UPLOAD_PREFIX)) {
      this.onUpload(req, res, url);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const headers: http.OutgoingHttpHeaders = {
      'Content-Security-Policy': UI_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': 'no-store',
    };
    if (url.searchParams.has('token')) {
      headers['Set-Cookie'] =
        `${this.cookieName}=${encodeURIComponent(this.opts.token)}; Path=/; HttpOnly; SameSite=Strict`;
    }
    const file = this.resolveStatic(url.pathname);
    if (!file) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
      return;
    }
    headers['Content-Type'] = contentType(file);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') res.end();
    else
      fs.createReadStream(file)
        .on('error', () => res.destroy())
        .pipe(res);
  }

  private resolveStatic(pathname: string): string | null {
    const root = path.resolve(this.opts.staticDir);
    let rel: string;
    try {
      rel = decodeURIComponent(pathname);
    } catch {
      return null;
    }
    if (rel === '/' || rel === '') rel = '/index.html';
    const file = path.resolve(root, '.' + path.posix.normalize(rel));
    if (!file.startsWith(root + path.sep)) return null;
    try {
      return fs.statSync(file).isFile() ? file : null;
    } catch {
      return null;
    }
  }

  /**
   * POST /api/upload/<op>?fileName=NAME with the file as an application/json body: a file operation
   * (fileOperations.ts) called with {text, fileName}, answered with the result envelope. The body is
   * read into a buffer bounded by MAX_FILE_BYTES (413 past it, before reading when Content-Length says
   * so), must be UTF-8; the operation itself checks the JSON. At most MAX_UPLOADS at a time.
   */
  private onUpload(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const op = url.pathname.slice(UPLOAD_PREFIX.length);
    let answered = false;
    const reply = (status: number, result: ApiResult) => {
      if (answered) return;
      answered = true;
      const headers: http.OutgoingHttpHeaders = {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
      };
      if (status === 405) headers.Allow = 'POST';
      res.writeHead(status, headers).end(JSON.stringify(result));
      if (!req.complete) {
        // Refused before the body is all here: what is left is read and dropped, so the client (still
        // sending) is not reset before it reads the answer; one that keeps sending is cut off.
        req.resume();
        setTimeout(() => {
          if (!req.complete) req.socket.destroy();
        }, 5000).unref();
      }
    };
    const fail = (status: number, code: ApiErrorCode, message: string) => {
      this.log(`refused upload ${op}: ${message}`);
      reply(status, { ok: false, error: { code, message } });
    };
    const limit = `${MAX_FILE_BYTES / (1 << 20)} MiB`;
    if (req.method !== 'POST') return fail(405, 'bad-request', 'an upload is a POST request');
    if (!isFileOperation(op))
      return fail(404, 'unknown-operation', `"${op}" is not an operation that takes a file`);
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json')
      return fail(
        415,
        'bad-request',
        `send the file as application/json, not ${type ? `"${type}"` : 'without a Content-Type'}`,
      );
    const fileName = url.searchParams.get('fileName') ?? 'upload.json';
    const declared = Number(req.headers['content-length'] ?? NaN);
    const tooBig = () =>
      fail(413, 'too-large', `${fileName} is larger than ${limit}, the most Pipefitter accepts`);
    if (declared > MAX_FILE_BYTES) return tooBig();
    if (this.uploads >= MAX_UPLOADS)
      return fail(503, 'busy', `${MAX_UPLOADS} uploads are already in progress; try again`);
    this.uploads++;
    let size = 0;
    let chunks: Buffer[] = [];
    let finished = false;
    const finish = () => {
      if (finished) return false;
      finished = true;
      this.uploads--;
      return true;
    };
    req.on('data', (chunk: Buffer) => {
      if (finished) return;
      size += chunk.length;
      if (size > MAX_FILE_BYTES) {
        chunks = [];
        finish();
        tooBig();
      } else chunks.push(chunk);
    });
    req.on('error', () => finish());
    req.on('close', () => finish());
    req.on('end', () => {
      if (!finish()) return;
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
      } catch {
        return fail(400, 'bad-request', `${fileName} is not UTF-8 text`);
      }
      chunks = [];
      void this.opts.api.call(op, { text, fileName }).then((result) => {
        const status = result.ok ? 200 : (ERROR_STATUS[result.error.code] ?? 500);
        reply(status, result);
      });
    });
  }

  private onSocket(ws: WebSocket): void {
    // ws closes by itself on a frame it refuses (over the size limit, text that is not UTF-8, broken
    // framing) and then emits 'error', which must be listened to; it sends the code alone, so add the
    // reason in words.
    const close = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) =>
      close(code, reason ?? (code === undefined ? undefined : WS_CLOSE_REASONS[code]));
    ws.on('error', (err) => this.log(`WebSocket closed: ${err.message}`));
    let inFlight = 0;
    const send = (msg: unknown) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > WS_MAX_BUFFERED_BYTES) {
        this.log('WebSocket closed: the client does not read its replies');
        ws.close(WS_CLOSE.policyViolation);
        // The close frame would queue behind what the client does not read.
        setTimeout(() => ws.terminate(), 1000).unref();
        return;
      }
      ws.send(JSON.stringify(msg));
    };
    const unsubscribe = this.opts.api.subscribe((batch) => send({ t: 'events', batch }));
    ws.on('close', unsubscribe);
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.close(WS_CLOSE.unsupportedData);
        return;
      }
      if (inFlight >= WS_MAX_CALLS_IN_FLIGHT) {
        send(
          reject(data.toString(), 'busy', `more than ${WS_MAX_CALLS_IN_FLIGHT} calls in flight`),
        );
        return;
      }
      inFlight++;
      void this.onMessage(data.toString(), send).finally(() => inFlight--);
    });
  }

  private async onMessage(text: string, send: (msg: unknown) => void): Promise<void> {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      send(reject(null, 'bad-request', 'malformed message: not JSON'));
      return;
    }
    const call = WsCallSchema.safeParse(raw);
    if (!call.success) {
      send(reject(raw, 'bad-request', `malformed message: ${describeIssues(call.error)}`));
      return;
    }
    const result = await this.opts.api.call(call.data.op, call.data.req);
    send({ t: 'result', id: call.data.id, result });
  }
}

/** The request's URL, or null where it does not parse ("//x%zz": the URL parser reads a host there). */
function requestUrl(req: http.IncomingMessage): URL | null {
  try {
    return new URL(req.url ?? '/', 'http://x');
  } catch {
    return null;
  }
}

const UPLOAD_PREFIX = '/api/upload/';
const MAX_UPLOADS = 4;
const ERROR_STATUS: Partial<Record<ApiErrorCode, number>> = {
  'bad-request': 400,
  'unknown-operation': 404,
};

/** An error reply, with the call's id when the message had a readable one. */
function reject(raw: unknown, code: ApiErrorCode, message: string) {
  let id: unknown = null;
  if (typeof raw === 'string') {
    // A busy reply: the id is all that is read of the message.
    try {
      id = (JSON.parse(raw) as { id?: unknown } | null)?.id;
    } catch {
      id = null;
    }
  } else id = (raw as { id?: unknown } | null | undefined)?.id;
  return {
    t: 'result',
    id: typeof id === 'number' ? id : null,
    result: { ok: false, error: { code, message } },
  };
}
