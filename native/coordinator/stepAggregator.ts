import type { RunEvent } from '../common/runEvents.js';
import type { StageEvent } from '../pipeline/stageProtocol.js';

type StageStep = Extract<StageEvent, { event: 'step' }>;
type RunStep = Extract<RunEvent, { type: 'step' }>;

type Report = StageStep & { replica: number };

/**
 * Turns the stages' step reports into one run step each: a step is complete once every process (each
 * replica of each stage) has reported it; its loss is the last stage's (summed over its replicas, each
 * of which reports its micro-batches' share), its rate the batch over the time since the last step.
 */
export class StepAggregator {
  private readonly reports = new Map<number, Report[]>();
  private startedAt = 0;
  private lastStepAt = 0;

  constructor(
    private readonly processes: number,
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
  add(e: StageStep, replica = 0): RunStep | null {
    const list = this.reports.get(e.step) ?? [];
    list.push({ ...e, replica });
    this.reports.set(e.step, list);
    if (list.length < this.processes) return null;
    this.reports.delete(e.step);
    const now = performance.now();
    const dt = now - this.lastStepAt;
    this.lastStepAt = now;
    list.sort((a, b) => a.stage - b.stage || a.replica - b.replica);
    const replicated = list.some((r) => r.replica > 0);
    const tag = (r: Report) => (replicated ? { replica: r.replica } : {});
    const last = list.filter((r) => r.stage === this.stages - 1);
    return {
      type: 'step',
      step: e.step,
      epoch: Math.floor(e.step / this.stepsPerEpoch),
      loss: last.some((r) => r.loss === null) ? NaN : last.reduce((sum, r) => sum + r.loss!, 0),
      samplesPerSecond: dt > 0 ? (this.batch * 1000) / dt : 0,
      elapsedMs: now - this.startedAt,
      stages: list.map((r) => ({
        index: r.stage,
        ...tag(r),
        busyMs: r.busyMs,
        commMs: r.commMs,
        totalMs: r.totalMs,
      })),
      timings: list.flatMap((r) => r.timings.map((t) => ({ stage: r.stage, ...tag(r), ...t }))),
    };
  }
}
