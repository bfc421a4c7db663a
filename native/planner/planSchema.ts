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
 * guessing, and reads every older version it knows through `migratePlan`. Only `model`, `stages`,
 * `batch`, `microbatches`, `schedule` and `optimizer` are the decision; `prediction` and `search`
 * record what the planner expected, for comparison with a run.
 *
 * Version 2 makes the topology data: stages → chunks (the layer ranges a stage holds; several,
 * non-contiguous, for interleaved schedules) → replicas (the places a stage runs; several for data
 * parallelism) → placement (machine, GPU). Version 1 had one range and one machine per stage.
 */
export const PLAN_VERSION = 2;
/** Every version this Pipefitter reads (the older ones migrated on read). */
export const PLAN_VERSIONS_READ = [1, 2] as const;

const seconds = z.number().nonnegative();
const bytes = z.number().nonnegative();
/** Layers [start, end) of the model, 0-based. */
const LayerRangeSchema = z.tuple([z.number().int().nonnegative(), z.number().int().positive()]);
/** Names of the first and last layer, for people reading the file. */
const LayerNamesSchema = z.tuple([z.string(), z.string()]);

/** One contiguous layer range of a stage. */
export const PlanChunkSchema = z.object({
  layers: LayerRangeSchema,
  layerNames: LayerNamesSchema,
});
export type PlanChunk = z.infer<typeof PlanChunkSchema>;

/**
 * Where one replica of a stage runs. `gpu` pins the stage's process to that GPU of the machine (the
 * inventory's index); null leaves it unpinned: it sees what its agent sees (on a GPU machine,
 * TensorFlow then uses GPU 0).
 */
export const PlacementSchema = z.object({
  machineId: z.string(),
  machineName: z.string(),
  gpu: z.number().int().nonnegative().nullable(),
});
export type Placement = z.infer<typeof PlacementSchema>;

/**
 * A stage as written: its chunks and replicas, and, repeated for people and for scripts that read
 * version 1 files, the first chunk's `layers`/`layerNames` and the first replica's
 * `machineId`/`machineName`. The repeated fields are optional on read and must agree when present;
 * code that runs a plan reads the chunks and replicas (`runnableStages`), never them.
 */
const PlanStageFileSchema = z.object({
  chunks: z.array(PlanChunkSchema).min(1),
  replicas: z.array(PlacementSchema).min(1),
  /**
   * Each replica's share of a step's micro-batches, from measured speed, where they differ (absent:
   * round robin). The runtime gives replica r contiguous micro-batches in proportion to shares[r].
   */
  shares: z.array(z.number().positive().max(1e9)).min(1).optional(),
  layers: LayerRangeSchema.optional(),
  layerNames: LayerNamesSchema.optional(),
  machineId: z.string().optional(),
  machineName: z.string().optional(),
});

export const PlanStageSchema = PlanStageFileSchema.required({
  chunks: true,
  replicas: true,
  layers: true,
  layerNames: true,
  machineId: true,
  machineName: true,
});
export type PlanStage = z.infer<typeof PlanStageSchema>;

const PlanStageV1Schema = z.object({
  layers: LayerRangeSchema,
  layerNames: LayerNamesSchema,
  machineId: z.string(),
  machineName: z.string(),
});
export type PlanStageV1 = z.infer<typeof PlanStageV1Schema>;

export const StagePredictionSchema = z.object({
  forwardSeconds: seconds,
  backwardSeconds: seconds,
  optimizerStepSeconds: seconds,
  /**
   * A stage run as replicas: the ring all-reduce of its gradients before each optimizer step (absent:
   * one replica, or a plan written before replicas).
   */
  allReduceSeconds: seconds.optional(),
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

/** Everything but the version and the stages: the same in every version (the file's order kept). */
const planHead = {
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
};
const planTail = {
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
};

export const PlanV1Schema = z.object({
  version: z.literal(1),
  ...planHead,
  stages: z.array(PlanStageV1Schema).min(1),
  ...planTail,
});
export type PlanV1 = z.infer<typeof PlanV1Schema>;

const PlanV2FileSchema = z.object({
  version: z.literal(2),
  ...planHead,
  stages: z.array(PlanStageFileSchema).min(1),
  ...planTail,
});

/** The plan as every reader sees it: the current version, with each stage's repeated fields filled in. */
export const PlanV2Schema = z.object({
  version: z.literal(PLAN_VERSION),
  ...planHead,
  stages: z.array(PlanStageSchema).min(1),
  ...planTail,
});
export type Plan = z.infer<typeof PlanV2Schema>;
/** A plan file of any version this Pipefitter reads, as written. */
export type PlanInput = PlanV1 | z.input<typeof PlanV2FileSchema>;

/** A version 2 stage from its chunks and replicas, with the repeated fields derived from them. */
export function planStage(
  chunks: PlanChunk[],
  replicas: Placement[],
  shares?: number[],
): PlanStage {
  const [c, r] = [chunks[0]!, replicas[0]!];
  return {
    chunks,
    replicas,
    ...(shares && replicas.length > 1 ? { shares } : {}),
    layers: c.layers,
    layerNames: c.layerNames,
    machineId: r.machineId,
    machineName: r.machineName,
  };
}

/**
 * Any plan this Pipefitter reads, as the current version. Version 1's stage (one layer range on one
 * machine) becomes one chunk and one unpinned replica, which is what version 1 ran.
 */
export function migratePlan(plan: PlanInput): Plan {
  if (plan.version === 1)
    return {
      ...plan,
      version: PLAN_VERSION,
      stages: plan.stages.map((s) =>
        planStage(
          [{ layers: s.layers, layerNames: s.layerNames }],
          [{ machineId: s.machineId, machineName: s.machineName, gpu: null }],
        ),
      ),
    };
  return {
    ...plan,
    stages: plan.stages.map((s) => planStage(s.chunks, s.replicas, s.shares)),
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The plan schema every boundary uses (API, run files, plan files): accepts every version it reads,
 * answers the current one. A version 2 stage whose repeated fields disagree with its chunks or
 * replicas is refused: a hand edit of one and not the other would otherwise be ignored silently.
 */
export const PlanSchema = z
  .discriminatedUnion('version', [PlanV1Schema, PlanV2FileSchema])
  .superRefine((p, ctx) => {
    if (p.version !== 2) return;
    p.stages.forEach((s, k) => {
      if (s.shares && s.shares.length !== s.replicas.length)
        ctx.addIssue({
          code: 'custom',
          path: ['stages', k, 'shares'],
          message: `gives ${s.shares.length} shares for ${s.replicas.length} replicas (one each)`,
        });
      const derived = planStage(s.chunks, s.replicas);
      for (const f of ['layers', 'layerNames', 'machineId', 'machineName'] as const)
        if (s[f] !== undefined && !same(s[f], derived[f]))
          ctx.addIssue({
            code: 'custom',
            path: ['stages', k, f],
            message: `is ${JSON.stringify(s[f])} but the stage's ${f.startsWith('layer') ? 'first chunk' : 'first replica'} says ${JSON.stringify(derived[f])} (the chunks and replicas decide; this field only repeats them)`,
          });
    });
  })
  .transform(migratePlan);

/** "stage 2" for a one-chunk stage, "stage 2 chunk 1" when the stage holds several. */
const chunkLabel = (plan: Plan, k: number, c: number) =>
  plan.stages[k]!.chunks.length > 1 ? `stage ${k} chunk ${c}` : `stage ${k}`;

/**
 * The chunks must cover the model's layers once, in pipeline order: chunk 0 of every stage, then chunk
 * 1 of every stage, and so on (the order an interleaved schedule visits them); for one chunk per stage
 * that is stage 0, 1, 2 … as in version 1.
 */
function checkCoverage(plan: Plan, source: string): void {
  const order: { k: number; c: number; layers: [number, number] }[] = [];
  const most = Math.max(...plan.stages.map((s) => s.chunks.length));
  for (let c = 0; c < most; c++)
    plan.stages.forEach((s, k) => {
      const chunk = s.chunks[c];
      if (chunk) order.push({ k, c, layers: chunk.layers });
    });
  for (const o of order)
    if (o.layers[1] <= o.layers[0])
      throw new Error(`${source}: ${chunkLabel(plan, o.k, o.c)} holds no layers`);
  for (let i = 1; i < order.length; i++) {
    const [a, b] = [order[i - 1]!, order[i]!];
    if (b.layers[0] !== a.layers[1])
      throw new Error(
        `${source}: ${chunkLabel(plan, b.k, b.c)} does not start where ${chunkLabel(plan, a.k, a.c)} ends`,
      );
  }
  if (order[0]!.layers[0] !== 0 || order.at(-1)!.layers[1] !== plan.model.layers)
    throw new Error(`${source}: the stages do not cover the model's ${plan.model.layers} layers`);
}

/**
 * Parses a plan file's JSON (any version it reads; the answer is the current one), with errors that
 * name the field; refuses unknown versions plainly.
 */
export function parsePlan(value: unknown, source = 'plan'): Plan {
  const v = (value as { version?: unknown } | null)?.version;
  if (!(PLAN_VERSIONS_READ as readonly unknown[]).includes(v))
    throw new Error(
      `${source}: plan version ${JSON.stringify(v)} is not supported (this Pipefitter reads versions ${PLAN_VERSIONS_READ.join(' and ')})`,
    );
  const r = PlanSchema.safeParse(value);
  if (!r.success)
    throw new Error(
      `${source}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  checkCoverage(r.data, source);
  return r.data;
}
