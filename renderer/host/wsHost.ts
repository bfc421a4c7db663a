import type { FileOperationName } from '../../native/api/fileOperations.js';
import type { ApiEventBatch, ApiResult, Host, OperationName } from '../../native/api/types.js';
import { RequestTable } from '../../native/common/requestTable.js';
import { MAX_FILE_BYTES } from './files.js';
import { makeApi } from './makeApi.js';

type ConnState = 'connecting' | 'open' | 'closed';

/** What the calls in flight fail with when the socket closes (answered as a `disconnected` result). */
class ConnectionLost extends Error {}

const LOST: ApiResult = {
  ok: false,
  error: { code: 'disconnected', message: 'lost the connection to Pipefitter' },
};

/** The operations that take a file (the type checks this lists exactly those of fileOperations.ts). */
const FILE_OPERATIONS: Record<FileOperationName, true> = { importModel: true, openPlan: true };

const isFileCall = (op: OperationName, req: unknown): req is { text: string; fileName: string } =>
  op in FILE_OPERATIONS &&
  typeof (req as { text?: unknown } | null)?.text === 'string' &&
  typeof (req as { fileName?: unknown }).fileName === 'string';

/**
 * A file goes to the server as an HTTP upload (POST /api/upload/<op>, the same token, Host and Origin
 * checks), not as a WebSocket message: those stay under 1 MiB. The answer is the same envelope.
 */
async function upload(
  wsUrl: string,
  op: OperationName,
  req: { text: string; fileName: string },
): Promise<ApiResult> {
  // Characters never outnumber UTF-8 bytes: a longer text is surely too big, so it is not sent.
  if (req.text.length > MAX_FILE_BYTES)
    return {
      ok: false,
      error: { code: 'too-large', message: `${req.fileName} is larger than 64 MiB` },
    };
  const url = new URL(wsUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = `/api/upload/${op}`;
  url.searchParams.set('fileName', req.fileName);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: req.text,
      credentials: 'same-origin',
    });
  } catch (err) {
    return {
      ok: false,
      error: { code: 'disconnected', message: `could not upload ${req.fileName}: ${String(err)}` },
    };
  }
  try {
    return (await res.json()) as ApiResult;
  } catch {
    return {
      ok: false,
      error: { code: 'failed', message: `uploading ${req.fileName} failed: HTTP ${res.status}` },
    };
  }
}

/**
 * Browser mode: the API over one WebSocket to the server that served this page (files as uploads).
 * Reconnects on its own; calls made while disconnected fail at once with a clear error rather than hang.
 */
export function createWsHost(url: string): Host {
  // No timeout: a call lasts as long as its operation; a lost connection ends it.
  const calls = new RequestTable<ApiResult>();
  const eventListeners = new Set<(b: ApiEventBatch) => void>();
  const connListeners = new Set<(s: ConnState) => void>();
  let ws: WebSocket | null = null;
  let state: ConnState = 'connecting';
  let opened: Promise<void>;
  let markOpen: () => void = () => {};

  const setState = (s: ConnState) => {
    state = s;
    for (const l of connListeners) l(s);
  };

  const connect = () => {
    opened = new Promise((r) => (markOpen = r));
    const socket = new WebSocket(url);
    ws = socket;
    socket.onopen = () => {
      setState('open');
      markOpen();
    };
    socket.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as
        { t: 'result'; id: number; result: ApiResult } | { t: 'events'; batch: ApiEventBatch };
      if (msg.t === 'events') for (const l of eventListeners) l(msg.batch);
      else calls.resolve(String(msg.id), msg.result);
    };
    socket.onclose = () => {
      calls.failAll(() => new ConnectionLost());
      if (state !== 'closed') setState('closed');
      setTimeout(connect, 1000);
    };
  };
  connect();

  return {
    api: makeApi(async (op, req) => {
      if (isFileCall(op, req)) return upload(url, op, req);
      if (state !== 'open') await Promise.race([opened, new Promise((r) => setTimeout(r, 3000))]);
      if (!ws || ws.readyState !== WebSocket.OPEN)
        return {
          ok: false,
          error: {
            code: 'disconnected',
            message: 'not connected to Pipefitter (is it still running?)',
          },
        };
      const socket = ws;
      return calls
        .request((id) => socket.send(JSON.stringify({ t: 'call', id: Number(id), op, req })))
        .catch((err: unknown) => {
          if (err instanceof ConnectionLost) return LOST;
          throw err;
        });
    }),
    onEvents(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    onConnection(listener) {
      connListeners.add(listener);
      listener(state);
      return () => connListeners.delete(listener);
    },
  };
}
