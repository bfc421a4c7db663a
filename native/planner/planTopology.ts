import { planStage, type Placement, type Plan } from './planSchema.js';

/** One stage as the runtime runs it: its chunks' layer ranges, in one process per replica. */
export interface RunnableStage {
  index: number;
  /** Layers [start, end) of chunk 0 (the stage's only chunk unless the schedule interleaves). */
  start: number;
  end: number;
  /** Every chunk's layers, chunk 0 first. */
  chunks: { start: number; end: number }[];
  /** Where replica 0 runs. */
  placement: Placement;
  /** Where every replica runs (replica 0 first); one entry for a stage without data parallelism. */
  replicas: Placement[];
  /** The replicas' shares of the micro-batches; absent: round robin. */
  shares?: number[];
}

/**
 * The plan's stages as the runtime can run them, or an error saying what it cannot run: stages of
 * several chunks under a schedule that does not interleave, or with replicas, are refused here,
 * before anything starts, rather than run as something else.
 */
export function runnableStages(plan: Plan): RunnableStage[] {
  return plan.stages.map((s, k) => {
    if (s.chunks.length > 1 && plan.schedule !== 'interleaved-1f1b')
      throw new Error(
        `stage ${k} has ${s.chunks.length} chunks, which only the interleaved-1f1b schedule runs (the plan says ${plan.schedule})`,
      );
    if (s.chunks.length > 1 && s.replicas.length > 1)
      throw new Error(
        `stage ${k} has ${s.chunks.length} chunks and ${s.replicas.length} replicas: interleaved schedules with replicas are not built`,
      );
    const [start, end] = s.chunks[0]!.layers;
    return {
      index: k,
      start,
      end,
      chunks: s.chunks.map((c) => ({ start: c.layers[0], end: c.layers[1] })),
      placement: s.replicas[0]!,
      replicas: s.replicas,
      ...(s.shares ? { shares: s.shares } : {}),
    };
  });
}

/** Every place the plan runs something (each replica of each stage), for "machines online" checks. */
export function planPlacements(
  plan: Plan,
): { stage: number; replica: number; placement: Placement }[] {
  return plan.stages.flatMap((s, k) =>
    s.replicas.map((placement, replica) => ({ stage: k, replica, placement })),
  );
}

/** The machines' names, each once, in stage order. */
export function planMachineNames(plan: Plan): string[] {
  return [...new Set(planPlacements(plan).map((p) => p.placement.machineName))];
}

/**
 * The plan with every replica of every stage moved to `placementOf(i)`, i counting the plan's places
 * stage by stage (replica 0 first); splits and replica counts kept.
 */
export function withMachines(plan: Plan, placementOf: (place: number) => Placement): Plan {
  let i = 0;
  return {
    ...plan,
    stages: plan.stages.map((s) =>
      planStage(
        s.chunks,
        s.replicas.map(() => placementOf(i++)),
      ),
    ),
  };
}
