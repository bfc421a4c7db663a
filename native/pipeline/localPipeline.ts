import type { Tf } from '../backend/tfTypes.js';
import type { ModelSpec } from '../model/spec.js';
import { buildSchedule, type ScheduleKind } from '../planner/schedule.js';
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
  readonly executors: StageExecutor[];
  private readonly runners: ScheduleRunner[];

  constructor(
    tf: Tf,
    spec: ModelSpec,
    slices: StageSlice[],
    schedule: ScheduleKind,
    microbatches: number,
    optimizer: OptimizerSpec,
    data: StageData,
  ) {
    const p = slices.length;
    const boxes = slices.map(() => new Mailbox());
    const transport = (k: number): StageTransport => ({
      async send(kind: TensorKind, step: number, mb: number, t: WireTensor) {
        boxes[kind === 'act' ? k + 1 : k - 1]!.deliver(kind, step, mb, copy(t));
      },
      recv: (kind, step, mb) => boxes[k]!.take(kind, step, mb),
    });
    const plan = buildSchedule(schedule, p, microbatches);
    this.executors = slices.map((s) => new StageExecutor(tf, spec, s, optimizer));
    this.runners = this.executors.map(
      (e, k) => new ScheduleRunner(tf, e, plan.actions[k]!, transport(k), data),
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
