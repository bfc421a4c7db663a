import type { OptimizerName, PlanPreset, ScheduleKind } from './schemas.js';

/** Defaults the CLI, the designer and the run dialog share, so each starts from the same settings. */
export const DEFAULT_SCHEDULE: ScheduleKind = '1f1b';
export const DEFAULT_OPTIMIZER: OptimizerName = 'adam';
export const DEFAULT_PRESET: PlanPreset = 'balanced';

/** Adam's steps are already normalised, so it wants a far smaller rate than plain gradient descent. */
export function defaultLearningRate(optimizer: OptimizerName): number {
  return optimizer === 'adam' ? 0.001 : 0.05;
}
