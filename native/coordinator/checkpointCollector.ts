import type { StageEvent } from '../pipeline/stageProtocol.js';

type StageCheckpoint = Extract<StageEvent, { event: 'checkpoint' }>;

/** A checkpoint every stage has on disk for one step: what a run records and can resume from. */
export interface CompleteCheckpoint {
  step: number;
  stages: { index: number; file: string; bytes: number; sha256: string }[];
  /** The slowest stage's pause of its step loop (read-back) and its background write, in ms. */
  copyMs: number;
  writeMs: number;
}

/**
 * Gathers the stages' checkpoint reports by step; a step is complete once every stage has reported
 * it. Steps that can no longer complete (older than a complete one) are dropped, so what it holds
 * is bounded by the stages' lead over each other.
 */
export class CheckpointCollector {
  private readonly pending = new Map<number, Map<number, StageCheckpoint>>();

  constructor(private readonly stageCount: number) {}

  /** Records one stage's report; returns the step's checkpoint when this report completes it. */
  add(e: StageCheckpoint): CompleteCheckpoint | null {
    if (e.stage < 0 || e.stage >= this.stageCount) return null;
    let got = this.pending.get(e.step);
    if (!got) this.pending.set(e.step, (got = new Map()));
    got.set(e.stage, e);
    if (got.size < this.stageCount) return null;
    for (const step of this.pending.keys()) if (step <= e.step) this.pending.delete(step);
    const stages = [...got.values()].sort((a, b) => a.stage - b.stage);
    return {
      step: e.step,
      stages: stages.map((c) => ({
        index: c.stage,
        file: c.file,
        bytes: c.bytes,
        sha256: c.sha256,
      })),
      copyMs: Math.max(...stages.map((c) => c.copyMs)),
      writeMs: Math.max(...stages.map((c) => c.writeMs)),
    };
  }
}
