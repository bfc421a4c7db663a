import { z } from 'zod';
import {
  ModelSourceSchema,
  OptimizerNameSchema,
  PlanPresetSchema,
  ScheduleKindSchema,
} from '../common/schemas.js';

/**
 * The plan file: what `pipefitter plan --json` prints, what the designer UI saves, and what
 * `pipefitter train --plan` reads. Versioned: a reader refuses a version it does not know rather than
 * guessing. Only `model`, `stages`, `batch`, `microbatches`, `schedule` and `optimizer` are the
 * decision; `prediction` and `search` record what the planner expected, for comparison with a run.
 */
export const PLAN_VERSION = 1;

const seconds = z.number().nonnegative();
const bytes = z.number().nonnegative();

export const PlanStageSchema = z.object({
  /** Layers [start, end) of the model, 0-based. */
  layers: z.tuple([z.number().int().nonnegative(), z.number().int().positive()]),
  /** Names of the first and last layer, for people reading the file. */
  layerNames: z.tuple([z.string(), z.string()]),
  machineId: z.string(),
  machineName: z.string(),
});
export type PlanStage = z.infer<typeof PlanStageSchema>;

export const StagePredictionSchema = z.object({
  forwardSeconds: seconds,
  backwardSeconds: seconds,
  optimizerStepSeconds: seconds,
  /** One micro-batch's activations to the next stage (0 for the last). */
  sendActivationSeconds: seconds,
  /** One micro-batch's gradients to the previous stage (0 for the first). */
  sendGradientSeconds: seconds,
  memoryBytes: bytes,
  memoryFreeBytes: bytes,
  memory: z.object({ weights: bytes, gradients: bytes, optimizer: bytes, activations: bytes }),
  inFlightMicrobatches: z.number().int().nonnegative(),
  busySeconds: seconds,
  idleSeconds: seconds,
  commSeconds: seconds,
  flopsPerMicrobatch: z.number().nonnegative(),
  params: z.number().int().nonnegative(),
});

export const PlanSchema = z.object({
  version: z.literal(PLAN_VERSION),
  model: z.object({
    id: z.string(),
    name: z.string(),
    source: ModelSourceSchema,
    path: z.string().nullable(),
    layers: z.number().int().positive(),
    params: z.number().int().nonnegative(),
  }),
  batch: z.number().int().positive(),
  microbatches: z.number().int().positive(),
  schedule: ScheduleKindSchema,
  optimizer: OptimizerNameSchema,
  preset: PlanPresetSchema,
  stages: z.array(PlanStageSchema).min(1),
  prediction: z.object({
    stepSeconds: seconds,
    samplesPerSecond: z.number().nonnegative(),
    bubble: z.number().min(0).max(1),
    bottleneckSeconds: seconds,
    stages: z.array(StagePredictionSchema),
  }),
  search: z.object({
    method: z.enum(['exhaustive', 'heuristic', 'preset']),
    evaluations: z.number().int().nonnegative(),
    stagesChosen: z.enum(['requested', 'auto']),
    note: z.string(),
  }),
  createdAt: z.string(),
});
export type Plan = z.infer<typeof PlanSchema>;

/** Parses a plan file's JSON, with errors that name the field; refuses unknown versions plainly. */
export function parsePlan(value: unknown, source = 'plan'): Plan {
  const v = (value as { version?: unknown } | null)?.version;
  if (v !== PLAN_VERSION)
    throw new Error(
      `${source}: plan version ${JSON.stringify(v)} is not supported (this Pipefitter reads version ${PLAN_VERSION})`,
    );
  const r = PlanSchema.safeParse(value);
  if (!r.success)
    throw new Error(
      `${source}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  for (let k = 1; k < r.data.stages.length; k++)
    if (r.data.stages[k]!.layers[0] !== r.data.stages[k - 1]!.layers[1])
      throw new Error(`${source}: stage ${k} does not start where stage ${k - 1} ends`);
  const last = r.data.stages.at(-1)!;
  if (r.data.stages[0]!.layers[0] !== 0 || last.layers[1] !== r.data.model.layers)
    throw new Error(`${source}: the stages do not cover the model's ${r.data.model.layers} layers`);
  return r.data;
}
