import type { ApiResult, OperationName, PipefitterApi } from '../../native/api/types.js';

/** An API call that failed, with the boundary's error code ("bad-request", "failed", …) and its words. */
export class HostError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HostError';
  }
}

export function unwrap<T>(result: ApiResult): T {
  if (result.ok) return result.value as T;
  throw new HostError(result.error.code, result.error.message);
}

/**
 * Builds the typed API over any transport that moves (operation, request) → result envelope. A Proxy,
 * because the renderer may import only types from native/api, not the list of operation names.
 */
export function makeApi(
  call: (op: OperationName, request: unknown) => Promise<ApiResult>,
): PipefitterApi {
  return new Proxy({} as PipefitterApi, {
    get(_target, op) {
      if (typeof op !== 'string') return undefined;
      return async (request: unknown) => unwrap(await call(op as OperationName, request ?? {}));
    },
  });
}
