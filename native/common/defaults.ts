import { DEFAULT_CHUNKS } from './names.js';
import type { OnFailure, OptimizerName, PlanPreset, ScheduleKind } from './schemas.js';

/** Defaults the CLI, the designer and the run dialog share, so each starts from the same settings. */
export const DEFAULT_SCHEDULE: ScheduleKind = '1f1b';
export const DEFAULT_OPTIMIZER: OptimizerName = 'adam';
export const DEFAULT_PRESET: PlanPreset = 'balanced';

/**
 * Runs save checkpoints, and a lost stage resumes from the last one. Unless told in steps or seconds,
 * a run saves its first after FIRST_CHECKPOINT_STEPS steps, which measures what a save stalls the
 * pipeline, and then at Young's interval (coordinator/checkpointInterval.ts). A save holds a stage's
 * step loop only while its tensors are read back (the file is written in the background).
 */
export const FIRST_CHECKPOINT_STEPS = 20;
export const DEFAULT_CHECKPOINT_POLICY = `after ${FIRST_CHECKPOINT_STEPS} steps, then at Young's interval`;
export const DEFAULT_ON_FAILURE: OnFailure = 'resume';

/**
 * Chunks a stage holds under a schedule: the ones asked for (or DEFAULT_CHUNKS) where it interleaves,
 * else 1 (planner, designer).
 */
export function chunksPerStage(schedule: ScheduleKind, chunks: number | undefined): number {
  return schedule === 'interleaved-1f1b' ? (chunks ?? DEFAULT_CHUNKS) : 1;
}

/** Adam's steps are already normalised, so it wants a far smaller rate than plain gradient descent. */
export function defaultLearningRate(optimizer: OptimizerName): number {
  return optimizer === 'adam' ? 0.001 : 0.05;
}
