import type { Tf } from '../backend/tfTypes.js';
import type { ModelSpec } from '../model/spec.js';
import { buildSchedule, neighbourOf, type ScheduleKind } from '../planner/schedule.js';
import { ScheduleRunner, type StageData, type StepResult } from './scheduleRunner.js';
import { StageExecutor, type NamedWeight, type StageSlice } from './stageExecutor.js';
import { Mailbox, type StageTransport, type TensorKind, type WireTensor } from './transport.js';
import type { OptimizerSpec } from './optimizer.js';

/** Copies a tensor's bytes, as a network hop would: no stage ever shares memory with another. */
function copy(t: WireTensor): WireTensor {
  return { shape: [...t.shape], dtype: t.dtype, data: t.data.slice() };
}

/**
 * All stages of a pipeline in one process, linked by in-memory mailboxes. It runs the same executor
 * and schedule runner as the distributed runtime; tests use it to check the arithmetic alone.
 */
export class LocalPipeline {
  /** One executor per virtual stage, in model order (chunk c of stage k is c·p + k). */
  readonly executors: StageExecutor[];
  private readonly runners: ScheduleRunner[];

  /**
   * `slices` are the virtual stages' layer ranges in model order: p·chunks of them, stage k holding
   * slices k, p + k, 2p + k, … (one per stage unless the schedule interleaves).
   */
  constructor(
    tf: Tf,
    spec: ModelSpec,
    slices: StageSlice[],
    schedule: ScheduleKind,
    microbatches: number,
    optimizer: OptimizerSpec,
    data: StageData,
    chunks = 1,
  ) {
    const p = slices.length / chunks;
    if (!Number.isInteger(p)) throw new Error(`${slices.length} slices are not ${chunks} a stage`);
    const boxes = Array.from({ length: p }, () => new Mailbox());
    const transport = (k: number): StageTransport => ({
      async send(kind: TensorKind, step: number, mb: number, t: WireTensor, c = 0) {
        const to = neighbourOf(kind === 'grad' ? 'previous' : 'next', k, c, p, chunks);
        if (!to) throw new Error(`stage ${k} chunk ${c} has no neighbour for ${kind}`);
        boxes[to.stage]!.deliver(kind, step, mb, copy(t), to.chunk);
      },
      recv: (kind, step, mb, c = 0) => boxes[k]!.take(kind, step, mb, c),
    });
    const plan = buildSchedule(schedule, p, microbatches, chunks);
    this.executors = slices.map((s) => new StageExecutor(tf, spec, s, optimizer));
    this.runners = Array.from(
      { length: p },
      (_, k) =>
        new ScheduleRunner(
          tf,
          Array.from({ length: chunks }, (_, c) => this.executors[c * p + k]!),
          plan.actions[k]!,
          transport(k),
          data,
        ),
    );
  }

  async step(step: number): Promise<StepResult[]> {
    return Promise.all(this.runners.map((r) => r.runStep(step)));
  }

  weights(): NamedWeight[] {
    return this.executors.flatMap((e) => e.getWeights());
  }

  dispose(): void {
    this.executors.forEach((e) => e.dispose());
  }
}
