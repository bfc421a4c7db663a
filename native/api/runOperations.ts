import { z } from 'zod';
import { PlanSchema } from '../planner/planSchema.js';
import { RunRecordSchema, RunSettingsSchema, RunSummarySchema } from '../runs/runSchemas.js';

const RunId = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._-]+$/, 'not a run id');

/** The Runs rows of the operation table (spread into operations.ts). Handlers: runBackend.ts. */
export const runOperations = {
  startRun: {
    request: z.object({ plan: PlanSchema, settings: RunSettingsSchema }).strict(),
    response: z.object({ run: RunSummarySchema }),
  },
  stopRun: {
    request: z.object({ id: RunId }).strict(),
    response: z.object({ run: RunSummarySchema }),
  },
  /** Moves a live run onto the layout planned over the machines online now, at its next checkpoint. */
  replanRun: {
    request: z.object({ id: RunId }).strict(),
    response: z.object({ message: z.string() }),
  },
  /** Goes on with a run that failed or was interrupted, or whose driver is lost. */
  resumeRun: {
    request: z.object({ id: RunId }).strict(),
    response: z.object({ run: RunSummarySchema }),
  },
  listRuns: {
    request: z.object({}).strict(),
    response: z.object({ runs: z.array(RunSummarySchema), live: z.string().nullable() }),
  },
  getRun: {
    request: z.object({ id: RunId }).strict(),
    response: z.object({ run: RunSummarySchema, records: z.array(RunRecordSchema) }),
  },
  deleteRun: {
    request: z.object({ id: RunId }).strict(),
    response: z.object({ id: z.string() }),
  },
  restoreRun: {
    request: z.object({ id: RunId }).strict(),
    response: z.object({ run: RunSummarySchema }),
  },
  exportRun: {
    request: z.object({ id: RunId, dir: z.string().trim().min(1).max(1000) }).strict(),
    response: z.object({ modelJson: z.string().nullable(), metricsCsv: z.string() }),
  },
};

export { RUN_OPERATION_NAMES, type RunOperationName } from './operationNames.js';
