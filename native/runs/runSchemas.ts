import { z } from 'zod';
import { RunDriverSchema, RunEventRecordSchema } from '../common/runEvents.js';
import {
  BackendPreferenceSchema,
  OnFailureSchema,
  OptimizerNameSchema,
  SyncSchema,
} from '../common/schemas.js';
import { ModelSpecSchema } from '../model/spec.js';
import { PlanSchema } from '../planner/planSchema.js';

export { RunEventRecordSchema, TimingSchema } from '../common/runEvents.js';
export type { RunEventRecord, Timing } from '../common/runEvents.js';

/**
 * What a run is on disk and across the API: the settings a person chose, every event the runtime
 * emitted, and how it ended. One schema set serves the run file, the API and the UI, so a run recorded
 * by one version reads the same everywhere.
 */
export const RunStatusSchema = z.enum([
  'starting',
  'running',
  'completed',
  'failed',
  'stopped',
  'interrupted',
]);
export type RunStatus = z.infer<typeof RunStatusSchema>;

export const RunSettingsSchema = z
  .object({
    name: z.string().trim().min(1, 'give the run a name').max(120),
    dataset: z.string().trim().min(1, 'choose a dataset').max(500),
    /** Whole epochs, or `steps` steps when given (steps wins). */
    epochs: z.number().int().min(1).max(100_000).optional(),
    steps: z.number().int().min(1).max(1e9).optional(),
    learningRate: z.number().positive().max(10),
    optimizer: OptimizerNameSchema,
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional(),
    backend: BackendPreferenceSchema.optional(),
    /** Checkpoint every this many steps (0: never); default: by time, see `checkpointSeconds`. */
    checkpointEvery: z.number().int().min(0).max(1e9).optional(),
    /**
     * Checkpoint about every this many seconds (in steps of the measured step time); default, when
     * neither is given: Young's interval from the measured cost of a save.
     */
    checkpointSeconds: z.number().positive().max(1e7).optional(),
    /** A lost stage resumes the run from its last checkpoint, or ends it (default resume). */
    onFailure: OnFailureSchema.optional(),
    /** How replicas synchronise (default every step: a step equals ordinary training). */
    sync: SyncSchema.optional(),
  })
  .strict();
export type RunSettings = z.infer<typeof RunSettingsSchema>;

export { RunDriverSchema };
export type { RunDriver } from '../common/runEvents.js';

/** One line of a run file. `seq` counts from 0 with no gaps; `t` is wall-clock ms. */
export const RunRecordSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('meta'),
    seq: z.number().int(),
    t: z.number(),
    id: z.string(),
    plan: PlanSchema,
    settings: RunSettingsSchema,
    machines: z.array(z.string()),
    /**
     * The agent that drives the run, when it is not this process: the records here are a copy of
     * the driver's, made as they come (same seq and time).
     */
    driver: RunDriverSchema.optional(),
    /**
     * The model itself, so whoever drives the run later (a standby agent taking it over) has it where
     * the plan's path means nothing.
     */
    model: ModelSpecSchema.optional(),
  }),
  z.object({
    kind: z.literal('event'),
    seq: z.number().int(),
    t: z.number(),
    event: RunEventRecordSchema,
  }),
  z.object({
    kind: z.literal('model'),
    seq: z.number().int(),
    t: z.number(),
    /** model.json of the trained weights, inside the run's directory. */
    path: z.string(),
  }),
  z.object({
    kind: z.literal('end'),
    seq: z.number().int(),
    t: z.number(),
    status: RunStatusSchema,
    message: z.string().nullable(),
  }),
]);
export type RunRecord = z.infer<typeof RunRecordSchema>;

/** What the Runs list shows; derived from the records alone (summarize), never stored separately. */
export const RunSummarySchema = z.object({
  id: z.string(),
  name: z.string(),
  model: z.string(),
  machines: z.array(z.string()),
  /** The agent driving the run when it is not this process (runs outlive the app). */
  driver: RunDriverSchema.nullable().default(null),
  status: RunStatusSchema,
  message: z.string().nullable(),
  startedAt: z.number(),
  endedAt: z.number().nullable(),
  durationMs: z.number(),
  steps: z.number().int(),
  totalSteps: z.number().int().nullable(),
  finalLoss: z.number().nullable(),
  finalAccuracy: z.number().nullable(),
  hasModel: z.boolean(),
});
export type RunSummary = z.infer<typeof RunSummarySchema>;
