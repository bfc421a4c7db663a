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
 */
export const WS_MAX_MESSAGE_BYTES = 1 << 20;
