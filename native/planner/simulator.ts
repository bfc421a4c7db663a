import { actionLabel, type Action, type Schedule } from './schedule.js';

/** Per-stage durations for one micro-batch (seconds); `step` is the optimizer update, once a step. */
export interface StageTimes {
  forward: number;
  backward: number;
  step: number;
}

/**
 * The link between stage k and k+1. Each direction is its own resource (full duplex): activations
 * flow forward, gradients backward. A transfer occupies its direction for `*Seconds` and arrives
 * `latency` later; senders do not wait for it (sends are asynchronous, so comm overlaps compute).
 */
export interface BoundaryTimes {
  activationSeconds: number;
  gradientSeconds: number;
  latency: number;
}

export interface SimulationInput {
  schedule: Schedule;
  stages: StageTimes[];
  /** boundaries[k] joins stage k and k+1 (length stages - 1). */
  boundaries: BoundaryTimes[];
  /** Samples per step, for throughput. */
  batchSize: number;
}

export type TimelineKind = 'compute' | 'wait' | 'transfer';

export interface TimelineEntry {
  stage: number;
  action: Action;
  label: string;
  kind: TimelineKind;
  /** For compute: the stage ran it. For wait: the stage blocked on a receive. For transfer: the link
   *  carried it (start = leaves the sender's link queue, end = arrives at the peer). */
  start: number;
  end: number;
}

export interface StageStats {
  /** Seconds computing (F, B, STEP). */
  busy: number;
  /** Seconds not computing within the step. */
  idle: number;
  /** Seconds its outgoing transfers occupied links. */
  comm: number;
  /** Seconds blocked in receives. */
  waiting: number;
  /** Most micro-batches' activations held at once. */
  peakStash: number;
}

export interface SimulationResult {
  stepSeconds: number;
  samplesPerSecond: number;
  /** Fraction of stage-time not spent computing: 1 - Σ busy / (stages × step). */
  bubble: number;
  stages: StageStats[];
  timeline: TimelineEntry[];
}

type Channel = 'act' | 'grad';
const key = (ch: Channel, from: number, to: number, mb: number) => `${ch}:${from}>${to}:${mb}`;

/**
 * Runs a schedule. Each stage executes its list in order; the only cross-stage dependencies are a
 * receive on the matching send, and each link direction carries only one stage's sends, in that
 * stage's order. So advancing every stage as far as it can, round after round, gives the exact
 * times a discrete-event simulation would, with no event queue. A schedule whose receives can never
 * be satisfied is reported as a deadlock, naming the stuck actions.
 */
export function simulate(input: SimulationInput): SimulationResult {
  const { schedule, stages, boundaries } = input;
  const p = schedule.stages;
  if (stages.length !== p) throw new Error(`need times for ${p} stages, got ${stages.length}`);
  if (boundaries.length < p - 1)
    throw new Error(`need ${p - 1} boundaries between ${p} stages, got ${boundaries.length}`);

  const clock = new Array<number>(p).fill(0);
  const pc = new Array<number>(p).fill(0);
  const stash = new Array<number>(p).fill(0);
  const stats: StageStats[] = Array.from({ length: p }, () => ({
    busy: 0,
    idle: 0,
    comm: 0,
    waiting: 0,
    peakStash: 0,
  }));
  // When each link direction is next free, and when each sent tensor arrives.
  const linkFree = new Map<string, number>();
  const arrivals = new Map<string, number>();
  const timeline: TimelineEntry[] = [];

  const transfer = (k: number, a: Action & { peer: number; mb: number }, ch: Channel) => {
    const b = boundaries[Math.min(k, a.peer)]!;
    const seconds = ch === 'act' ? b.activationSeconds : b.gradientSeconds;
    const link = `${ch}:${k}>${a.peer}`;
    const start = Math.max(clock[k]!, linkFree.get(link) ?? 0);
    linkFree.set(link, start + seconds);
    const end = start + seconds + b.latency;
    arrivals.set(key(ch, k, a.peer, a.mb), end);
    stats[k]!.comm += seconds;
    timeline.push({ stage: k, action: a, label: actionLabel(a), kind: 'transfer', start, end });
  };

  const compute = (k: number, a: Action, seconds: number) => {
    const start = clock[k]!;
    clock[k] = start + seconds;
    stats[k]!.busy += seconds;
    timeline.push({
      stage: k,
      action: a,
      label: actionLabel(a),
      kind: 'compute',
      start,
      end: start + seconds,
    });
  };

  /** Runs stage k's next action if it can; false when it must wait for a message not yet sent. */
  const step = (k: number): boolean => {
    const a = schedule.actions[k]![pc[k]!]!;
    const t = stages[k]!;
    switch (a.op) {
      case 'F':
        compute(k, a, t.forward);
        stash[k]!++;
        stats[k]!.peakStash = Math.max(stats[k]!.peakStash, stash[k]!);
        break;
      case 'B':
        compute(k, a, t.backward);
        stash[k]!--;
        break;
      case 'STEP':
        compute(k, a, t.step);
        break;
      case 'SEND_ACT':
        transfer(k, a, 'act');
        break;
      case 'SEND_GRAD':
        transfer(k, a, 'grad');
        break;
      case 'RECV_ACT':
      case 'RECV_GRAD': {
        const at = arrivals.get(key(a.op === 'RECV_ACT' ? 'act' : 'grad', a.peer, k, a.mb));
        if (at === undefined) return false;
        const start = clock[k]!;
        if (at > start) {
          clock[k] = at;
          stats[k]!.waiting += at - start;
          timeline.push({
            stage: k,
            action: a,
            label: actionLabel(a),
            kind: 'wait',
            start,
            end: at,
          });
        }
        break;
      }
    }
    pc[k]!++;
    return true;
  };

  let remaining = schedule.actions.reduce((n, l) => n + l.length, 0);
  while (remaining > 0) {
    let progressed = false;
    for (let k = 0; k < p; k++) {
      while (pc[k]! < schedule.actions[k]!.length && step(k)) {
        remaining--;
        progressed = true;
      }
    }
    if (!progressed) {
      const stuck = schedule.actions
        .map((l, k) => (pc[k]! < l.length ? `stage ${k} at ${actionLabel(l[pc[k]!]!)}` : null))
        .filter(Boolean);
      throw new Error(`the schedule deadlocks: ${stuck.join(', ')}`);
    }
  }

  const stepSeconds = Math.max(...clock, ...timeline.map((e) => e.end));
  for (const s of stats) s.idle = stepSeconds - s.busy;
  const busy = stats.reduce((a, s) => a + s.busy, 0);
  timeline.sort((a, b) => a.start - b.start || a.stage - b.stage);
  return {
    stepSeconds,
    samplesPerSecond: stepSeconds > 0 ? input.batchSize / stepSeconds : Infinity,
    bubble: stepSeconds > 0 ? 1 - busy / (p * stepSeconds) : 0,
    stages: stats,
    timeline,
  };
}
