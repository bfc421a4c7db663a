import { z } from 'zod';
import {
  ModelSourceSchema,
  OptimizerNameSchema,
  PlanPresetSchema,
  ScheduleKindSchema,
  SyncSchema,
} from '../common/schemas.js';
import { MAX_CHUNKS } from '../common/names.js';
import { ModelSpecSchema } from '../model/spec.js';
import { PlanSchema } from '../planner/planSchema.js';

/**
 * A model the designer works on: a catalogue id; a model.json the engine imported and keeps, named by
 * the hash of its spec (a big model's spec is megabytes: every prediction would carry it); or a spec
 * sent whole.
 */
export const ModelRefSchema = z.union([
  z.object({ catalogue: z.string().min(1).max(128) }).strict(),
  z
    .object({
      imported: z.string().regex(/^[0-9a-f]{32}$/, 'not an imported model id'),
      path: z.string().max(1024).nullable(),
    })
    .strict(),
  z.object({ spec: ModelSpecSchema, path: z.string().max(1024).nullable() }).strict(),
]);
export type ModelRef = z.infer<typeof ModelRefSchema>;

export const LayerRowSchema = z.object({
  name: z.string(),
  className: z.string(),
  outputShape: z.array(z.number()),
  params: z.number(),
  /** Forward + backward FLOPs per sample. */
  flops: z.number(),
  weightBytes: z.number(),
  /** Kept per sample until the backward pass. */
  stashBytes: z.number(),
});
export type LayerRow = z.infer<typeof LayerRowSchema>;

export const DesignerModelSchema = z.object({
  ref: ModelRefSchema,
  id: z.string(),
  name: z.string(),
  description: z.string(),
  source: ModelSourceSchema,
  layers: z.array(LayerRowSchema),
  notes: z.array(z.string()),
});
export type DesignerModel = z.infer<typeof DesignerModelSchema>;

export const LayoutSettingsSchema = z.object({
  batch: z
    .number()
    .int()
    .positive()
    .max(1 << 20),
  microbatches: z.number().int().positive().max(4096),
  schedule: ScheduleKindSchema,
  optimizer: OptimizerNameSchema,
  preset: PlanPresetSchema,
  /**
   * How the replicas synchronise, as a run is told (`RunSettings.sync`); absent: every step, so
   * settings saved before this choice read as they did.
   */
  sync: SyncSchema.optional(),
  /**
   * Chunks a stage holds under the interleaved schedule (ignored by the others); absent: the default
   * (`DEFAULT_CHUNKS`), as `pipefitter plan` takes it.
   */
  chunks: z.number().int().min(1).max(MAX_CHUNKS).optional(),
});
export type LayoutSettings = z.infer<typeof LayoutSettingsSchema>;

export const MachineLoadSchema = z.object({
  id: z.string(),
  name: z.string(),
  usedBytes: z.number(),
  freeBytes: z.number(),
  stages: z.array(z.number().int()),
});
export type MachineLoad = z.infer<typeof MachineLoadSchema>;

export const TimelineBarSchema = z.object({
  stage: z.number().int(),
  kind: z.enum(['compute', 'wait', 'transfer']),
  label: z.string(),
  start: z.number(),
  end: z.number(),
});
export type TimelineBar = z.infer<typeof TimelineBarSchema>;

/** A plan with what the designer draws from it: memory per machine and one simulated step. */
export const PredictionSchema = z.object({
  plan: PlanSchema,
  machines: z.array(MachineLoadSchema),
  timeline: z.array(TimelineBarSchema),
  /**
   * Local SGD: the replicas average every this many steps, so the plan's all-reduce figures are per
   * step, 1/syncEvery of one ring all-reduce (absent: every step).
   */
  syncEvery: z.number().int().positive().optional(),
});
export type Prediction = z.infer<typeof PredictionSchema>;

export const PlanNameSchema = z
  .string()
  .trim()
  .regex(/^[\w.\- ]{1,80}$/, 'use letters, digits, spaces, dots, dashes or underscores (≤ 80)');

export const SavedPlanSchema = z.object({
  name: z.string(),
  savedAt: z.number(),
  modelId: z.string(),
  stages: z.number().int(),
  samplesPerSecond: z.number(),
});
export type SavedPlan = z.infer<typeof SavedPlanSchema>;

export type { Plan as PlanFile } from '../planner/planSchema.js';
