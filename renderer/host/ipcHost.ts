import type { ApiEventBatch, ApiResult, Host, PreloadBridge } from '../../native/api/types.js';
import { makeApi } from './makeApi.js';

/** Electron: the preload's bridge (one function per operation); main validates every call. */
export function createIpcHost(bridge: PreloadBridge): Host {
  return {
    api: makeApi(
      async (op, req) => (await (bridge[op] as (r: unknown) => Promise<unknown>)(req)) as ApiResult,
    ),
    onEvents(listener) {
      return bridge.onEvents((batch) => listener(batch as ApiEventBatch));
    },
    onConnection(listener) {
      // The engine lives in the app itself: it is there for as long as this window is.
      listener('open');
      return () => {};
    },
  };
}
