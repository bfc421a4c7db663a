import type { RunEvent } from '../common/runEvents.js';
import type { StageEvent } from '../pipeline/stageProtocol.js';

type StageStep = Extract<StageEvent, { event: 'step' }>;
type RunStep = Extract<RunEvent, { type: 'step' }>;

/**
 * Turns the stages' step reports into one run step each: a step is complete once every stage has
 * reported it; its loss is the last stage's, its rate the batch over the time since the last step.
 */
export class StepAggregator {
  private readonly reports = new Map<number, StageStep[]>();
  private startedAt = 0;
  private lastStepAt = 0;

  constructor(
    private readonly stages: number,
    private readonly batch: number,
    private readonly stepsPerEpoch: number,
  ) {}

  /** The clock starts when the stages are told to train. */
  start(): void {
    this.startedAt = performance.now();
    this.lastStepAt = this.startedAt;
  }

  /** Milliseconds since start(). */
  elapsedMs(): number {
    return performance.now() - this.startedAt;
  }

  /** Adds a stage's report; returns the run step once every stage has reported it, else null. */
  add(e: StageStep): RunStep | null {
    const list = this.reports.get(e.step) ?? [];
    list.push(e);
    this.reports.set(e.step, list);
    if (list.length < this.stages) return null;
    this.reports.delete(e.step);
    const now = performance.now();
    const dt = now - this.lastStepAt;
    this.lastStepAt = now;
    list.sort((a, b) => a.stage - b.stage);
    return {
      type: 'step',
      step: e.step,
      epoch: Math.floor(e.step / this.stepsPerEpoch),
      loss: list.at(-1)!.loss ?? NaN,
      samplesPerSecond: dt > 0 ? (this.batch * 1000) / dt : 0,
      elapsedMs: now - this.startedAt,
      stages: list.map((r) => ({
        index: r.stage,
        busyMs: r.busyMs,
        commMs: r.commMs,
        totalMs: r.totalMs,
      })),
      timings: list.flatMap((r) => r.timings.map((t) => ({ stage: r.stage, ...t }))),
    };
  }
}
