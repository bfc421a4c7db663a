import { z } from 'zod';
import { SpeedReportSchema } from '../protocol/inventorySchemas.js';
import { JoinInfoSchema, MachineAddressSchema, NodeViewSchema, SettingsSchema } from './schemas.js';
import type { OperationName } from './operationNames.js';

const Empty = z.object({}).strict();

/**
 * The whole API the UI uses, one row per operation: request schema → response schema. Handlers live in
 * service.ts; transports (Electron IPC, WebSocket) and the preload are generated from this table, so a
 * new operation is one row here, one name in operationNames.ts and one handler.
 */
export const operations = {
  listNodes: {
    request: Empty,
    response: z.object({ nodes: z.array(NodeViewSchema), serverTime: z.number() }),
  },
  addMachine: {
    request: z.object({ address: MachineAddressSchema }).strict(),
    response: z.object({ node: NodeViewSchema }),
  },
  benchmarkNode: {
    request: z.object({ id: z.string().min(1).max(128) }).strict(),
    response: z.object({ speed: SpeedReportSchema }),
  },
  joinInfo: {
    request: Empty,
    response: JoinInfoSchema,
  },
  getSettings: {
    request: Empty,
    response: SettingsSchema,
  },
  setSettings: {
    request: SettingsSchema.partial().strict(),
    response: SettingsSchema,
  },
} satisfies Record<OperationName, { request: z.ZodType; response: z.ZodType }>;

export type Operations = typeof operations;
