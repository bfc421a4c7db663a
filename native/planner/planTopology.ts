import { planStage, type Placement, type Plan } from './planSchema.js';

/** One stage as today's runtime runs it: one layer range, in one process per replica. */
export interface RunnableStage {
  index: number;
  /** Layers [start, end). */
  start: number;
  end: number;
  /** Where replica 0 runs. */
  placement: Placement;
  /** Where every replica runs (replica 0 first); one entry for a stage without data parallelism. */
  replicas: Placement[];
  /** The replicas' shares of the micro-batches; absent: round robin. */
  shares?: number[];
}

/**
 * The plan's stages as the runtime can run them, or an error saying what it cannot run yet: a plan
 * whose stage holds several chunks (interleaved schedules) is refused here, before anything starts,
 * rather than run as something else.
 */
export function runnableStages(plan: Plan): RunnableStage[] {
  return plan.stages.map((s, k) => {
    if (s.chunks.length > 1)
      throw new Error(
        `stage ${k} has ${s.chunks.length} chunks: interleaved schedules are not built yet`,
      );
    const [start, end] = s.chunks[0]!.layers;
    return {
      index: k,
      start,
      end,
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
