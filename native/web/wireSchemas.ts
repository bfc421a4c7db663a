import { z } from 'zod';

/** Browser → server: one call. The payload itself is checked against the operation's own schema. */
export const WsCallSchema = z
  .object({
    t: z.literal('call'),
    id: z.number().int().nonnegative(),
    op: z.string().max(64),
    req: z.unknown(),
  })
  .strict();

/**
 * Server → browser: a call's result, or a batch of events (shapes in native/api/schemas.ts).
 *   { t: 'result', id, result: ApiResult }   { t: 'events', batch: ApiEventBatch }
 * Files do not travel here: they are uploaded (POST /api/upload/<op>, see fileOperations.ts).
 */
export const WS_MAX_MESSAGE_BYTES = 1 << 20;

/** Calls one connection may have in flight; more are answered `busy` at once. */
export const WS_MAX_CALLS_IN_FLIGHT = 256;

/** Replies queued for a client that does not read them, before it is disconnected. */
export const WS_MAX_BUFFERED_BYTES = 64 << 20;

/**
 * Close codes (RFC 6455 §7.4.1) and the reason sent with each. `ws` closes by itself on a frame it
 * refuses (too big, not UTF-8, broken framing) but sends the code alone; these are the words for it.
 */
export const WS_CLOSE = {
  protocolError: 1002,
  unsupportedData: 1003,
  invalidPayload: 1007,
  policyViolation: 1008,
  tooBig: 1009,
} as const;

export const WS_CLOSE_REASONS: Record<number, string> = {
  [WS_CLOSE.protocolError]: 'not a valid WebSocket frame',
  [WS_CLOSE.unsupportedData]: 'binary messages are not accepted: the API speaks JSON text',
  [WS_CLOSE.invalidPayload]: 'a text message that is not valid UTF-8',
  [WS_CLOSE.policyViolation]: 'replies are not being read',
  [WS_CLOSE.tooBig]: 'message over 1 MiB: send files with POST /api/upload/<operation>',
};
