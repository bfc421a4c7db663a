import type { BackendPreference, OnFailure, ScheduleKind, Sync } from '../common/schemas.js';
import type { ModelSpec } from '../model/spec.js';
import type { NamedArray } from '../pipeline/checkpointFile.js';
import { chunkSlices } from '../pipeline/stageProtocol.js';
import type { OptimizerSpec } from '../pipeline/optimizer.js';

/** One more place a stage runs (data parallelism): a machine, and a GPU of it. */
export interface RunReplicaPlacement {
  nodeId: string;
  gpu?: number;
}

/** A stage's layer range and machine, as a run places it. */
export interface RunStagePlacement {
  /** Layers [start, end). */
  start: number;
  end: number;
  /** Where the stage (its replica 0) runs. */
  nodeId: string;
  gpu?: number;
  /** Its further replicas (1, 2, …), each a process of its own; absent: the stage runs once. */
  replicas?: RunReplicaPlacement[];
  /** Each replica's share of the micro-batches (replica 0 first), from measured speed; absent: equal. */
  shares?: number[];
  /**
   * An interleaved schedule's chunks: every chunk's layers [start, end), chunk 0 (= start, end)
   * first; chunk c of stage k is virtual stage c·p + k. Absent: the one chunk [start, end).
   */
  chunks?: { start: number; end: number }[];
}

/** Chunks per stage of a run (the same for every stage; 1 unless interleaved). */
export const chunksOfRun = (stages: RunStagePlacement[]): number =>
  Math.max(...stages.map((s) => chunkSlices(s).length));

/** One process of a run: replica `replica` of stage `stage`, and where it runs. */
export interface StageWorker {
  stage: number;
  replica: number;
  nodeId: string;
  gpu?: number;
}

/** Every process a run starts, stage by stage, replica 0 first. */
export function workersOf(stages: RunStagePlacement[]): StageWorker[] {
  return stages.flatMap((s, k) =>
    [{ nodeId: s.nodeId, gpu: s.gpu }, ...(s.replicas ?? [])].map((p, replica) => ({
      stage: k,
      replica,
      nodeId: p.nodeId,
      ...(p.gpu === undefined ? {} : { gpu: p.gpu }),
    })),
  );
}

/** How many processes a stage runs as: replica 0 and its further replicas. */
export const replicaCount = (s: RunStagePlacement): number => 1 + (s.replicas?.length ?? 0);

/** Whether any stage of the run has more than one replica. */
export const hasReplicas = (stages: RunStagePlacement[]): boolean =>
  stages.some((s) => replicaCount(s) > 1);

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
  /** Each stage saves a checkpoint after every this many steps (absent or 0: none). */
  checkpointEvery?: number;
  /**
   * After the first checkpoint (which measures what a save costs), change the interval to this many
   * seconds' worth of steps, or Young's formula's (`young`); absent: keep `checkpointEvery`.
   */
  checkpointSeconds?: number | 'young';
  /**
   * What a lost stage does to the run: `resume` restarts the stages from the last complete
   * checkpoint (when there is one and its machines are online); `stop` (the default here) fails it.
   */
  onFailure?: OnFailure;
  /** How replicas synchronise; absent: every step. */
  sync?: Sync;
  /** Start from this complete checkpoint (each stage reads its own file) instead of initial weights. */
  resume?: RunCheckpoint;
  /**
   * Start from this state, sent to the stages (a run resumed on another layout: the weights and
   * optimizer state of the lost layout's checkpoint, re-sliced for this one).
   */
  resumeState?: RunState;
}

/** A whole model's training state at a step: what a checkpoint holds, across every stage. */
export interface RunState {
  step: number;
  /** Every weight of the model, in model order. */
  weights: NamedArray[];
  /** Each trainable variable's optimizer state, in model order, and what all stages share. */
  optimizer: { head: NamedArray[]; perVariable: NamedArray[][]; tail: NamedArray[] };
}

/** A checkpoint every stage has written for the same step: where each stage's file is. */
export interface RunCheckpoint {
  /** Steps done: the run goes on from this step. */
  step: number;
  stages: { file: string; sha256: string; bytes: number }[];
}
