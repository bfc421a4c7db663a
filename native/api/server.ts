import type { z } from 'zod';
import type { operations } from './operations.js';
import type { OperationName } from './operationNames.js';
import { ApiEventSchema, type ApiEvent, type ApiEventBatch, type ApiResult } from './schemas.js';
import {
  ApiError,
  checkOperation,
  describeIssues,
  parseRequest,
  parseResponse,
} from './validate.js';

type Ops = typeof operations;

/** One handler per operation: receives a request already validated, answers what the schema accepts. */
export type ApiHandlers = {
  [K in OperationName]: (
    request: z.output<Ops[K]['request']>,
  ) => Promise<z.input<Ops[K]['response']>>;
};

/** What serves the API: handlers plus an event source. The cluster backend and test fakes both fit. */
export interface ApiBackend {
  handlers: ApiHandlers;
  subscribe(listener: (event: ApiEvent) => void): () => void;
}

/** Part of the API (the cluster's operations, the runs'): backends are combined into one. */
export interface ApiBackendPart<K extends OperationName> {
  handlers: Pick<ApiHandlers, K>;
  subscribe(listener: (event: ApiEvent) => void): () => void;
}

/** One backend from parts whose handlers together cover every operation. */
export function combineBackends(
  handlers: ApiHandlers,
  ...parts: { subscribe(listener: (event: ApiEvent) => void): () => void }[]
): ApiBackend {
  return {
    handlers,
    subscribe(listener) {
      const offs = parts.map((p) => p.subscribe(listener));
      return () => offs.forEach((off) => off());
    },
  };
}

export interface ApiServerOptions {
  /** Events are coalesced for this long (latest state per node wins) so a burst is one message. */
  batchMs?: number;
  onLog?: (line: string) => void;
}

/** Events with one key coalesce (latest wins); run records never do, each has its own key. */
function eventKey(e: ApiEvent): string {
  switch (e.type) {
    case 'localAgent':
      return 'localAgent';
    case 'strangers':
      return 'strangers';
    case 'nodeChanged':
      return e.node.id;
    case 'runRecord':
      return `run:${e.runId}:${e.record.seq}`;
    case 'runSummary':
      return `runSummary:${e.run.id}`;
    case 'runRemoved':
      return `runRemoved:${e.id}`;
    default:
      return e.id;
  }
}

/**
 * The transport-agnostic API endpoint. Electron IPC and the WebSocket server both hand it raw, untrusted
 * (operation, payload) pairs and get back a result envelope; it never throws at them.
 */
export class ApiServer {
  private readonly listeners = new Set<(batch: ApiEventBatch) => void>();
  private pending = new Map<string, ApiEvent>();
  private timer: NodeJS.Timeout | null = null;
  private readonly unsubscribe: () => void;
  private readonly batchMs: number;

  constructor(
    private readonly backend: ApiBackend,
    private readonly opts: ApiServerOptions = {},
  ) {
    this.batchMs = opts.batchMs ?? 100;
    this.unsubscribe = backend.subscribe((e) => this.enqueue(e));
  }

  async call(op: unknown, payload: unknown): Promise<ApiResult> {
    try {
      const name = checkOperation(op);
      const request = parseRequest(name, payload);
      const handler = this.backend.handlers[name] as (r: unknown) => Promise<unknown>;
      let value: unknown;
      try {
        value = await handler(request);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        throw new ApiError('failed', (err as Error).message);
      }
      return { ok: true, value: parseResponse(name, value) };
    } catch (err) {
      if (err instanceof ApiError) {
        if (err.code === 'bad-response') this.opts.onLog?.(err.message);
        return { ok: false, error: { code: err.code, message: err.message } };
      }
      this.opts.onLog?.(`internal error: ${(err as Error).stack ?? String(err)}`);
      return { ok: false, error: { code: 'failed', message: (err as Error).message } };
    }
  }

  subscribe(listener: (batch: ApiEventBatch) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private enqueue(event: ApiEvent): void {
    const parsed = ApiEventSchema.safeParse(event);
    if (!parsed.success) {
      this.opts.onLog?.(`dropped an invalid ${event.type} event: ${describeIssues(parsed.error)}`);
      return;
    }
    const e = parsed.data;
    const key = eventKey(e);
    const prev = this.pending.get(key);
    // A sample after a full change folds into it: replacing it would lose the change.
    const merged: ApiEvent =
      prev?.type === 'nodeChanged' && e.type === 'nodeTelemetry'
        ? {
            type: 'nodeChanged',
            node: { ...prev.node, telemetry: e.telemetry, lastSeen: e.lastSeen, rttMs: e.rttMs },
          }
        : e;
    // Delete first so the key moves to the end: events keep the order of their latest occurrence.
    this.pending.delete(key);
    this.pending.set(key, merged);
    this.timer ??= setTimeout(() => this.flush(), this.batchMs);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.size === 0) return;
    const batch: ApiEventBatch = { serverTime: Date.now(), events: [...this.pending.values()] };
    this.pending = new Map();
    for (const l of this.listeners) l(batch);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.unsubscribe();
    this.listeners.clear();
  }
}
