import type { BackendPreference, ScheduleKind } from '../common/schemas.js';
import type { ModelSpec } from '../model/spec.js';
import type { OptimizerSpec } from '../pipeline/optimizer.js';

/** A stage's layer range and machine, as a run places it. */
export interface RunStagePlacement {
  /** Layers [start, end). */
  start: number;
  end: number;
  nodeId: string;
  gpu?: number;
}

/** What a run trains, where, and how: everything RunController needs. */
export interface RunSpec {
  runId: string;
  model: ModelSpec;
  dataset: string;
  stages: RunStagePlacement[];
  schedule: ScheduleKind;
  microbatches: number;
  batch: number;
  optimizer: OptimizerSpec;
  /** Train this many epochs, or `steps` steps (steps wins when both are given). */
  epochs?: number;
  steps?: number;
  /** Seeds the sampler's shuffles (the model's own seed sets the initial weights). */
  seed: number;
  backend?: BackendPreference;
  /** Test samples per validation batch (default 1000). */
  valBatch?: number;
}
