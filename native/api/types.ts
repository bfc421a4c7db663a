import type { z } from 'zod';
import type { Operations } from './operations.js';
import type { OperationName } from './operationNames.js';
import type { ApiEventBatch } from './schemas.js';

export type ApiRequest<K extends OperationName> = z.input<Operations[K]['request']>;
export type ApiResponse<K extends OperationName> = z.output<Operations[K]['response']>;

/** The API the UI sees: one async function per operation. Both hosts implement exactly this. */
export type PipefitterApi = {
  [K in OperationName]: (request: ApiRequest<K>) => Promise<ApiResponse<K>>;
};

/** A host: the API plus the event stream. The renderer receives one and cannot tell which it got. */
export interface Host {
  readonly api: PipefitterApi;
  /** Returns a function that unsubscribes. */
  onEvents(listener: (batch: ApiEventBatch) => void): () => void;
  /** Transport state, for a banner when the engine goes away (browser mode: server stopped). */
  onConnection(listener: (state: 'connecting' | 'open' | 'closed') => void): () => void;
}

/**
 * What the Electron preload puts on window.pipefitter: one function per operation answering the result
 * envelope (errors keep their code through contextBridge), plus an event subscription.
 */
export type PreloadBridge = {
  [K in OperationName]: (request: unknown) => Promise<unknown>;
} & {
  onEvents(listener: (batch: unknown) => void): () => void;
};

export type {
  ApiEvent,
  ApiEventBatch,
  ApiResult,
  NodeView,
  JoinInfo,
  Settings,
} from './schemas.js';
export type { OperationName } from './operationNames.js';
export type { Plan as PlanFile } from '../planner/planSchema.js';
export type {
  RunEventRecord,
  RunRecord,
  RunSettings,
  RunStatus,
  RunSummary,
  Timing,
} from '../runs/runSchemas.js';
