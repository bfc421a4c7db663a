import type { ApiEventBatch, ApiResult, Host } from '../../native/api/types.js';
import { makeApi } from './makeApi.js';

type ConnState = 'connecting' | 'open' | 'closed';

interface Pending {
  resolve(r: ApiResult): void;
}

/**
 * Browser mode: the API over one WebSocket to the server that served this page. Reconnects on its own;
 * calls made while disconnected fail at once with a clear error rather than hang.
 */
export function createWsHost(url: string): Host {
  const pending = new Map<number, Pending>();
  const eventListeners = new Set<(b: ApiEventBatch) => void>();
  const connListeners = new Set<(s: ConnState) => void>();
  let nextId = 1;
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
      else {
        pending.get(msg.id)?.resolve(msg.result);
        pending.delete(msg.id);
      }
    };
    socket.onclose = () => {
      for (const p of pending.values())
        p.resolve({
          ok: false,
          error: { code: 'disconnected', message: 'lost the connection to Pipefitter' },
        });
      pending.clear();
      if (state !== 'closed') setState('closed');
      setTimeout(connect, 1000);
    };
  };
  connect();

  return {
    api: makeApi(async (op, req) => {
      if (state !== 'open') await Promise.race([opened, new Promise((r) => setTimeout(r, 3000))]);
      if (!ws || ws.readyState !== WebSocket.OPEN)
        return {
          ok: false,
          error: {
            code: 'disconnected',
            message: 'not connected to Pipefitter (is it still running?)',
          },
        };
      const id = nextId++;
      return new Promise<ApiResult>((resolve) => {
        pending.set(id, { resolve });
        ws!.send(JSON.stringify({ t: 'call', id, op, req }));
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
