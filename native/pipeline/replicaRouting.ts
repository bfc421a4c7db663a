import { ownerOf } from '../planner/schedule.js';
import type { Configure } from './stageProtocol.js';

/**
 * Who holds what in a run whose stages may have replicas: every process reads the same `replicas` of
 * its configuration, so a neighbour sends micro-batch mb to the very replica whose schedule has it.
 */
export class ReplicaRouting {
  constructor(private readonly cfg: Pick<Configure, 'replicas' | 'microbatches' | 'stages'>) {}

  /** How many replicas stage k runs as (1 past either end of the pipeline, or where none are given). */
  count(k: number): number {
    return this.cfg.replicas?.[k]?.count ?? 1;
  }

  /** The replica of stage k that owns micro-batch mb of a step. */
  owner(k: number, mb: number): number {
    const r = this.cfg.replicas?.[k];
    if (!r || r.count <= 1) return 0;
    return ownerOf(mb, r.count, this.cfg.microbatches, r.shares);
  }
}
