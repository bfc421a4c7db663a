import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ApiServer } from '../api/server.js';
import { describeIssues } from '../api/validate.js';
import {
  allowedHosts,
  hostAllowed,
  originAllowed,
  readCookie,
  tokensEqual,
} from './originGuard.js';
import { WS_MAX_MESSAGE_BYTES, WsCallSchema } from './wireSchemas.js';
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
  private allowed = new Set<string>();
  private cookieName = 'pipefitter_token';
  private _port = 0;

  constructor(private readonly opts: WebServerOptions) {
    this.http = http.createServer((req, res) => this.onRequest(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_MESSAGE_BYTES });
    this.http.on('upgrade', (req, socket, head) => {
      const refusal = this.refusal(req, true);
      if (refusal) {
        this.log(`refused WebSocket ${req.url}: ${refusal.reason}`);
        socket.end(
          `HTTP/1.1 ${refusal.status} ${http.STATUS_CODES[refusal.status]}\r\nConnection: close\r\n\r\n`,
        );
        return;
      }
      if (new URL(req.url ?? '/', 'http://x').pathname !== '/api') {
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
    const url = new URL(req.url ?? '/', 'http://x');
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
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
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
    else fs.createReadStream(file).pipe(res);
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

  private onSocket(ws: WebSocket): void {
    const send = (msg: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
    };
    const unsubscribe = this.opts.api.subscribe((batch) => send({ t: 'events', batch }));
    ws.on('close', unsubscribe);
    ws.on('message', (data, isBinary) => {
      void this.onMessage(isBinary ? null : data.toString(), send);
    });
  }

  private async onMessage(text: string | null, send: (msg: unknown) => void): Promise<void> {
    let raw: unknown;
    let notJson = text === null;
    try {
      raw = text === null ? undefined : JSON.parse(text);
    } catch {
      notJson = true;
    }
    const call = WsCallSchema.safeParse(raw);
    if (!call.success) {
      const id = (raw as { id?: unknown } | null | undefined)?.id;
      send({
        t: 'result',
        id: typeof id === 'number' ? id : null,
        result: {
          ok: false,
          error: {
            code: 'bad-request',
            message: `malformed message: ${text === null ? 'binary frames are not accepted' : notJson ? 'not JSON' : describeIssues(call.error)}`,
          },
        },
      });
      return;
    }
    const result = await this.opts.api.call(call.data.op, call.data.req);
    send({ t: 'result', id: call.data.id, result });
  }
}
