import type { OnFailure, OptimizerName, PlanPreset, ScheduleKind } from './schemas.js';

/** Defaults the CLI, the designer and the run dialog share, so each starts from the same settings. */
export const DEFAULT_SCHEDULE: ScheduleKind = '1f1b';
export const DEFAULT_OPTIMIZER: OptimizerName = 'adam';
export const DEFAULT_PRESET: PlanPreset = 'balanced';

/**
 * Runs save a checkpoint every this many steps, and a lost stage resumes from the last one. A save
 * holds a stage's step loop only while its tensors are read back (the file is written in the
 * background); each `checkpoint` event says what it cost.
 */
export const DEFAULT_CHECKPOINT_EVERY = 100;
export const DEFAULT_ON_FAILURE: OnFailure = 'resume';

/** Adam's steps are already normalised, so it wants a far smaller rate than plain gradient descent. */
export function defaultLearningRate(optimizer: OptimizerName): number {
  return optimizer === 'adam' ? 0.001 : 0.05;
}
