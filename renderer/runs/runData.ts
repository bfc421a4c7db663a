import type { PlanFile, RunRecord, RunSettings, Timing } from '../../native/api/types.js';

/** A growable column of numbers: a run of 100,000 steps is a few typed arrays, not 100,000 objects. */
export class Column {
  data = new Float64Array(256);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  /** Forgets the values from index n on (a resumed run trains those steps again). */
  truncate(n: number): void {
    this.length = Math.min(this.length, Math.max(0, n));
  }
}

/** A run that lost a stage and went on from a checkpoint: where, and why. */
export interface Resumption {
  /** The steps from here on were trained again. */
  fromStep: number;
  reason: string;
  t: number;
}

export interface StageInfo {
  index: number;
  /** Which replica of a stage run as several; null: the stage's only process. */
  replica: number | null;
  node: string;
  nodeId: string | null;
  backend: string;
  layers: [number, number];
}

export interface LogLine {
  t: number;
  /** The machine the line is about, when it names one. */
  machine: string | null;
  level: 'info' | 'error';
  message: string;
}

export interface Validation {
  epoch: number;
  /** The step count when it ran, so it lines up with training loss on a step axis. */
  step: number;
  elapsedMs: number;
  t: number;
  loss: number;
  accuracy: number;
  samples: number;
}

/**
 * Everything the run page draws, folded from the run's records and kept outside React: charts read
 * its columns and draw a downsampled copy; `version` changes when anything was added.
 */
export class RunData {
  plan: PlanFile | null = null;
  settings: RunSettings | null = null;
  stages: StageInfo[] = [];
  totalSteps: number | null = null;
  stepsPerEpoch: number | null = null;
  readonly step = new Column();
  readonly epoch = new Column();
  readonly loss = new Column();
  readonly elapsedMs = new Column();
  readonly wallT = new Column();
  readonly samplesPerSecond = new Column();
  readonly validations: Validation[] = [];
  /** The most recent step that carried action timings: the timeline draws it. */
  timeline: {
    step: number;
    timings: Timing[];
    stages: { index: number; busyMs: number; totalMs: number }[];
  } | null = null;
  readonly logs: LogLine[] = [];
  readonly resumptions: Resumption[] = [];
  /** Local SGD: the steps after which the replicas averaged their weights (outer steps). */
  readonly outerSteps: { step: number; t: number; ms: number }[] = [];
  /**
   * Each stage's work (busy ms, replicas averaged) in the newest steps, oldest first, at most
   * BUSY_WINDOW of them: what the Runs view holds against the plan's per-stage prediction.
   */
  private readonly recentBusy: (number | undefined)[][] = [];
  /** The newest step every stage has a checkpoint of. */
  lastCheckpoint: number | null = null;
  /** Counts the times columns were cut back (a resumption): caches of derived series start over. */
  rewrites = 0;
  startedAt: number | null = null;
  endedAt: number | null = null;
  hasModel = false;
  nextSeq = 0;
  version = 0;

  /**
   * Each stage's mean busy ms a step over the newest steps (null before any): stage k at index k.
   * Steps that lack a stage (a restart in between) are left out of its mean.
   */
  recentBusyMs(): number[] | null {
    if (!this.recentBusy.length) return null;
    const stages = Math.max(...this.recentBusy.map((b) => b.length));
    return Array.from({ length: stages }, (_, k) => {
      const xs = this.recentBusy.map((b) => b[k]).filter((x): x is number => x !== undefined);
      return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    });
  }

  /** Adds records in order; answers false when a record is missing (the caller reloads the run). */
  add(records: RunRecord[]): boolean {
    for (const r of records) {
      if (r.seq < this.nextSeq) continue;
      if (r.seq > this.nextSeq) return false;
      this.nextSeq++;
      this.apply(r);
    }
    this.version++;
    return true;
  }

  private apply(r: RunRecord): void {
    if (r.kind === 'meta') {
      this.plan = r.plan;
      this.settings = r.settings;
      this.startedAt = r.t;
      return;
    }
    if (r.kind === 'model') {
      this.hasModel = true;
      return;
    }
    if (r.kind === 'end') {
      this.endedAt = r.t;
      this.logs.push({
        t: r.t,
        machine: null,
        level: r.status === 'completed' ? 'info' : 'error',
        message: `run ${r.status}${r.message ? `: ${r.message}` : ''}`,
      });
      return;
    }
    const e = r.event;
    switch (e.type) {
      case 'started':
        this.totalSteps = e.totalSteps;
        this.stepsPerEpoch = e.stepsPerEpoch;
        this.stages = e.stages.map((s) => ({
          index: s.index,
          replica: s.replica ?? null,
          node: s.node,
          nodeId: s.nodeId ?? null,
          backend: s.backend,
          layers: s.layers,
        }));
        for (const s of e.stages)
          this.logs.push({
            t: r.t,
            machine: s.node,
            level: 'info',
            message: `stage ${s.index}${s.replica === undefined ? '' : ` replica ${s.replica}`}: layers ${s.layers[0]}–${s.layers[1] - 1}, backend ${s.backend}, pid ${s.pid}`,
          });
        return;
      case 'step':
        this.step.push(e.step);
        this.epoch.push(e.epoch);
        this.loss.push(e.loss ?? NaN);
        this.elapsedMs.push(e.elapsedMs);
        this.wallT.push(r.t);
        this.samplesPerSecond.push(e.samplesPerSecond);
        if (e.timings.length)
          this.timeline = { step: e.step, timings: e.timings, stages: e.stages };
        this.recentBusy.push(busyByStage(e.stages));
        if (this.recentBusy.length > BUSY_WINDOW) this.recentBusy.shift();
        return;
      case 'validation':
        this.validations.push({
          epoch: e.epoch,
          step: this.step.length,
          elapsedMs: this.elapsedMs.length ? this.elapsedMs.data[this.elapsedMs.length - 1]! : 0,
          t: r.t,
          loss: e.loss ?? NaN,
          accuracy: e.accuracy ?? NaN,
          samples: e.samples,
        });
        this.logs.push({
          t: r.t,
          machine: null,
          level: 'info',
          message: `epoch ${e.epoch + 1}: validation loss ${(e.loss ?? NaN).toFixed(4)}, ${e.accuracy === null ? 'no accuracy (regression loss)' : `accuracy ${(e.accuracy * 100).toFixed(2)}%`} on ${e.samples} samples`,
        });
        return;
      case 'log':
        this.logs.push({
          t: r.t,
          machine: this.machineOf(e.message),
          level: 'info',
          message: e.message,
        });
        return;
      case 'failed':
        this.logs.push({
          t: r.t,
          machine: this.machineOf(e.message),
          level: 'error',
          message: e.message,
        });
        return;
      case 'checkpoint': {
        this.lastCheckpoint = e.step;
        const mib = e.stages.reduce((n, st) => n + st.bytes, 0) / 2 ** 20;
        this.logs.push({
          t: r.t,
          machine: null,
          level: 'info',
          message: `checkpoint of step ${e.step}: ${e.stages.length} stages, ${mib.toFixed(1)} MiB; the pipeline paused ${e.copyMs.toFixed(0)} ms, written in ${e.writeMs.toFixed(0)} ms`,
        });
        return;
      }
      case 'resumed': {
        // The steps after the checkpoint are trained again: their first values are no longer the run's.
        let keep = this.step.length;
        while (keep > 0 && this.step.data[keep - 1]! >= e.fromStep) keep--;
        for (const c of [
          this.step,
          this.epoch,
          this.loss,
          this.elapsedMs,
          this.wallT,
          this.samplesPerSecond,
        ])
          c.truncate(keep);
        this.rewrites++;
        this.recentBusy.length = 0;
        this.resumptions.push({ fromStep: e.fromStep, reason: e.reason, t: r.t });
        this.logs.push({
          t: r.t,
          machine: this.machineOf(e.reason),
          level: 'error',
          message: `${e.reason}; resumed from the checkpoint of step ${e.fromStep}`,
        });
        for (const s of e.stages)
          this.logs.push({
            t: r.t,
            machine: s.node,
            level: 'info',
            message: `stage ${s.index}${s.replica === undefined ? '' : ` replica ${s.replica}`} restarted: layers ${s.layers[0]}–${s.layers[1] - 1}, backend ${s.backend}, pid ${s.pid}`,
          });
        return;
      }
      case 'outer':
        this.outerSteps.push({ step: e.step, t: r.t, ms: e.ms });
        return;
      case 'done':
      case 'memory':
        return;
    }
  }

  /**
   * The machine a runtime message names ("stage 1 on ws-07 (…): …", "stage 1 replica 1 on …"), for
   * the log filter.
   */
  private machineOf(message: string): string | null {
    const m = /stage (\d+)(?: replica (\d+))?/.exec(message);
    if (m) {
      const [k, r] = [Number(m[1]), Number(m[2] ?? 0)];
      return this.stages.find((s) => s.index === k && (s.replica ?? 0) === r)?.node ?? null;
    }
    return this.stages.find((s) => message.includes(s.node))?.node ?? null;
  }
}

/** Steps the per-stage busy window holds. */
const BUSY_WINDOW = 10;

/** A step's busy ms by stage index, its replicas averaged. */
function busyByStage(stages: { index: number; busyMs: number }[]): (number | undefined)[] {
  const sum: number[] = [];
  const count: number[] = [];
  for (const s of stages) {
    sum[s.index] = (sum[s.index] ?? 0) + s.busyMs;
    count[s.index] = (count[s.index] ?? 0) + 1;
  }
  return Array.from({ length: sum.length }, (_, k) => (count[k] ? sum[k]! / count[k]! : undefined));
}
