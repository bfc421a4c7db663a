import { z } from 'zod';
import { SpeedReportSchema } from '../protocol/inventorySchemas.js';
import {
  JoinInfoSchema,
  MachineAddressSchema,
  NodeViewSchema,
  SettingsSchema,
  StrangerListSchema,
} from './schemas.js';
import type { OperationName } from './operationNames.js';
import { runOperations } from './runOperations.js';
import {
  DesignerModelSchema,
  LayoutSettingsSchema,
  ModelRefSchema,
  PlanNameSchema,
  PredictionSchema,
  SavedPlanSchema,
} from './designerSchemas.js';
import { PlanSchema } from '../planner/planSchema.js';
import { MAX_FILE_BYTES } from './fileOperations.js';
import { LinkRowSchema, MAX_LINK_ROWS } from '../coordinator/linkRows.js';

const Empty = z.object({}).strict();
/** A file the person chose (see fileOperations.ts): its text and its name, for messages. */
const FileRequest = z
  .object({ text: z.string().max(MAX_FILE_BYTES), fileName: z.string().max(260) })
  .strict();

/**
 * The whole API the UI uses, one row per operation: request schema → response schema. Handlers live in
 * clusterBackend.ts, designerBackend.ts and runBackend.ts; transports (Electron IPC, WebSocket) and the preload are generated from this table, so a
 * new operation is one row here, one name in operationNames.ts and one handler.
 */
export const operations = {
  listNodes: {
    request: Empty,
    response: z.object({
      nodes: z.array(NodeViewSchema),
      serverTime: z.number(),
      /** Senders of unauthenticated beacons (absent from hosts that cannot tell). */
      strangers: StrangerListSchema.optional(),
    }),
  },
  /** Every pair of known nodes and the link the planner gives it (measured, loopback or default). */
  listLinks: {
    request: Empty,
    response: z.object({
      links: z.array(LinkRowSchema).max(MAX_LINK_ROWS),
      /** Every pair, where more than MAX_LINK_ROWS were left out. */
      total: z.number().int().nonnegative(),
    }),
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
  // The designer (see designerBackend.ts).
  designerModels: {
    request: Empty,
    response: z.object({ models: z.array(DesignerModelSchema) }),
  },
  importModel: {
    request: FileRequest,
    response: z.object({ model: DesignerModelSchema }),
  },
  predictLayout: {
    request: z
      .object({
        model: ModelRefSchema,
        settings: LayoutSettingsSchema,
        bounds: z.array(z.number().int().nonnegative()).min(2).max(4097),
        // A stage's machine, or its replicas' machines (data parallelism).
        machineIds: z
          .array(
            z.union([
              z.string().min(1).max(128),
              z.array(z.string().min(1).max(128)).min(1).max(64),
            ]),
          )
          .min(1)
          .max(4096),
      })
      .strict(),
    response: PredictionSchema,
  },
  autoPartition: {
    request: z
      .object({
        model: ModelRefSchema,
        settings: LayoutSettingsSchema,
        machineIds: z.array(z.string().min(1).max(128)).min(1).max(4096),
      })
      .strict(),
    response: PredictionSchema,
  },
  savePlan: {
    request: z.object({ name: PlanNameSchema, plan: PlanSchema }).strict(),
    response: z.object({ name: z.string(), path: z.string() }),
  },
  listPlans: {
    request: Empty,
    response: z.object({ plans: z.array(SavedPlanSchema) }),
  },
  openPlan: {
    request: z.union([z.object({ name: PlanNameSchema }).strict(), FileRequest]),
    response: z.object({ plan: PlanSchema }),
  },
  // Runs (see runOperations.ts, runBackend.ts).
  ...runOperations,
} satisfies Record<OperationName, { request: z.ZodType; response: z.ZodType }>;

export type Operations = typeof operations;
