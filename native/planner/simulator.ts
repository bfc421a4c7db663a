import { isComputeOp } from '../common/names.js';
import {
  actionLabel,
  chunksOf,
  neighbourOf,
  splitsBackward,
  type Action,
  type Schedule,
} from './schedule.js';

/** Per-stage durations for one micro-batch (seconds); `step` is the optimizer update, once a step. */
export interface StageTimes {
  forward: number;
  /** The whole backward (input and weight gradients), or, where the schedule has W, B's share. */
  backward: number;
  /** W's share of the backward (the weight gradient) where the schedule has W; absent: 0. */
  weight?: number;
  step: number;
  /**
   * The ring all-reduce of the stage's gradients between its replicas (ALLREDUCE), once a step;
   * absent: 0 (one replica).
   */
  allReduce?: number;
  /**
   * Once a step, the first F (or, where F does no work, the first B) re-prepares the weights the
   * last STEP changed (the backend's repack); absent: 0.
   */
  prepare?: number;
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

/**
 * Where a stage runs, for the resources it shares with others. Stages naming the same `compute` (one
 * GPU, or a machine's cores) share its `capacity` units: past that their actions wait for a free unit
 * (two stages on one GPU take turns; two single-threaded stages on a two-core machine run side by
 * side). Transfers between two machines share that direction of their link, whichever stages send.
 */
export interface StagePlacement {
  machine: string;
  compute: string;
  capacity: number;
}

export interface SimulationInput {
  schedule: Schedule;
  /**
   * Times per virtual stage: stages[c·p + k] for chunk c of stage k (with one chunk per stage,
   * stages[k] is stage k's).
   */
  stages: StageTimes[];
  /** boundaries[s] joins virtual stage s and s+1 (length p·v − 1). */
  boundaries: BoundaryTimes[];
  /** Samples per step, for throughput. */
  batchSize: number;
  /** placement[k] for stage k; absent: every stage on a machine and a compute unit of its own. */
  placement?: StagePlacement[];
}

export type TimelineKind = 'compute' | 'wait' | 'transfer';

export interface TimelineEntry {
  stage: number;
  action: Action;
  label: string;
  kind: TimelineKind;
  /** For compute: the stage ran it. For wait: the stage blocked on a receive. For transfer: the link
   *  carried it (start = leaves the sender's link queue, end = arrives at the peer), or, for
   *  ALLREDUCE, the stage's replicas summed their gradients (the stage waits for it). */
  start: number;
  end: number;
}

export interface StageStats {
  /** Seconds computing (F, B, W, STEP). */
  busy: number;
  /** Seconds not computing within the step. */
  idle: number;
  /** Seconds its outgoing transfers occupied links, and its all-reduce took. */
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
/** A tensor in flight: its channel, the stages it goes between, its micro-batch and the chunk it is for. */
const key = (ch: Channel, from: number, to: number, mb: number, chunk: number) =>
  `${ch}:${from}>${to}:${mb}.${chunk}`;

/** The compute pools and link directions of a placement, and which of them each stage uses. */
function resourcesOf(input: SimulationInput, p: number) {
  const placement =
    input.placement ??
    Array.from({ length: p }, (_, k) => ({ machine: `#${k}`, compute: `#${k}`, capacity: 1 }));
  if (placement.length !== p)
    throw new Error(`need a placement for ${p} stages, got ${placement.length}`);
  const pools = new Map<string, number[]>();
  for (const pl of placement) {
    if (!(Number.isInteger(pl.capacity) && pl.capacity >= 1))
      throw new Error(`compute ${pl.compute} needs a capacity of at least 1, got ${pl.capacity}`);
    const pool = pools.get(pl.compute);
    if (pool && pool.length !== pl.capacity)
      throw new Error(
        `compute ${pl.compute} is given capacities ${pool.length} and ${pl.capacity}`,
      );
    if (!pool) pools.set(pl.compute, new Array<number>(pl.capacity).fill(0));
  }
  // A transfer between two machines queues on that direction of their link; between two stages of
  // one machine (loopback) only behind that stage pair's own earlier transfers, per channel.
  const link = (ch: Channel, from: number, to: number) => {
    const [a, b] = [placement[from]!.machine, placement[to]!.machine];
    return a === b ? `${ch}:${from}>${to}` : `${a}>${b}`;
  };
  const units = placement.map((pl) => pools.get(pl.compute)!);
  // The stages whose next compute may move when stage k takes a unit: those sharing its pool.
  const sharers = placement.map((pl, k) =>
    placement.flatMap((o, j) => (j !== k && o.compute === pl.compute ? [j] : [])),
  );
  return { unitsOf: (k: number) => units[k]!, sharers, link };
}

/**
 * Runs a schedule. Each stage executes its list in order; a receive waits for the matching send, a
 * compute action for a free unit of its stage's compute resource, a transfer for its link direction.
 * Of all the actions that can go next, the one that can start earliest goes first (ties: the lower
 * stage), so shared resources serve their users in time order, as a discrete-event simulation
 * would; start times never go backwards, since every action a later one waits for was placed before
 * it. With a resource per stage (no placement) this is exactly "each stage as far as it can". A
 * schedule whose receives can never be satisfied is reported as a deadlock, naming the stuck actions.
 */
export function simulate(input: SimulationInput): SimulationResult {
  const { schedule, stages, boundaries } = input;
  const p = schedule.stages;
  const v = chunksOf(schedule);
  if (stages.length !== p * v)
    throw new Error(`need times for ${p * v} (virtual) stages, got ${stages.length}`);
  if (boundaries.length < p * v - 1)
    throw new Error(
      `need ${p * v - 1} boundaries between ${p * v} (virtual) stages, got ${boundaries.length}`,
    );
  const { unitsOf, sharers, link } = resourcesOf(input, p);
  // Where W releases a micro-batch's activations, B does not.
  const split = splitsBackward(schedule.kind);

  const clock = new Array<number>(p).fill(0);
  // Virtual stages whose weights the step has prepared (StageTimes.prepare).
  const prepared = new Set<number>();
  const withPrepare = (j: number, t: StageTimes, seconds: number, forward: boolean) => {
    if (prepared.has(j) || (forward && t.forward === 0)) return seconds;
    prepared.add(j);
    return seconds + (t.prepare ?? 0);
  };
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
    const c = a.chunk ?? 0;
    const to = neighbourOf(ch === 'act' ? 'next' : 'previous', k, c, p, v);
    if (!to || to.stage !== a.peer)
      throw new Error(`stage ${k} sends ${actionLabel(a)} past the pipeline's ends`);
    // The boundary between the sender's virtual stage and the receiver's.
    const b = boundaries[ch === 'act' ? c * p + k : c * p + k - 1]!;
    const seconds = ch === 'act' ? b.activationSeconds : b.gradientSeconds;
    const l = link(ch, k, a.peer);
    const start = Math.max(clock[k]!, linkFree.get(l) ?? 0);
    linkFree.set(l, start + seconds);
    const end = start + seconds + b.latency;
    arrivals.set(key(ch, k, a.peer, a.mb, to.chunk), end);
    stats[k]!.comm += seconds;
    timeline.push({ stage: k, action: a, label: actionLabel(a), kind: 'transfer', start, end });
  };

  /** The unit of stage k's compute that frees first. */
  const freeUnit = (k: number) => {
    const units = unitsOf(k);
    let u = 0;
    for (let i = 1; i < units.length; i++) if (units[i]! < units[u]!) u = i;
    return { units, u };
  };

  const compute = (k: number, a: Action, seconds: number) => {
    const { units, u } = freeUnit(k);
    const start = Math.max(clock[k]!, units[u]!);
    // Waiting for a shared unit is not idling by choice, but the stage computes nothing meanwhile.
    clock[k] = start + seconds;
    units[u] = clock[k]!;
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

  const arrivalFor = (k: number, a: Action) =>
    a.op === 'RECV_ACT' || a.op === 'RECV_GRAD'
      ? arrivals.get(key(a.op === 'RECV_ACT' ? 'act' : 'grad', a.peer, k, a.mb, a.chunk ?? 0))
      : undefined;

  /** When stage k's next action can start; null when it waits for a message not yet sent. */
  const readyAt = (k: number): number | null => {
    const a = schedule.actions[k]![pc[k]!]!;
    switch (a.op) {
      case 'F':
      case 'B':
      case 'W':
      case 'STEP': {
        const { units, u } = freeUnit(k);
        return Math.max(clock[k]!, units[u]!);
      }
      case 'RECV_ACT':
      case 'RECV_GRAD': {
        const at = arrivalFor(k, a);
        return at === undefined ? null : Math.max(clock[k]!, at);
      }
      default:
        return clock[k]!;
    }
  };

  /** Runs stage k's next action (it is ready). */
  const step = (k: number): void => {
    const a = schedule.actions[k]![pc[k]!]!;
    const j = (a.chunk ?? 0) * p + k;
    const t = stages[j]!;
    switch (a.op) {
      case 'F':
        compute(k, a, withPrepare(j, t, t.forward, true));
        stash[k]!++;
        stats[k]!.peakStash = Math.max(stats[k]!.peakStash, stash[k]!);
        break;
      case 'B':
        compute(k, a, withPrepare(j, t, t.backward, false));
        if (!split) stash[k]!--;
        break;
      case 'W':
        compute(k, a, t.weight ?? 0);
        stash[k]!--;
        break;
      case 'STEP': {
        // One optimizer update over every chunk the stage holds.
        let seconds = 0;
        for (let c = 0; c < v; c++) seconds += stages[c * p + k]!.step;
        compute(k, a, seconds);
        break;
      }
      case 'ALLREDUCE': {
        // Over the links between the stage's replicas, which no pipeline transfer uses: it holds no
        // compute unit and queues behind nothing, but STEP needs the summed gradients, so it blocks.
        let seconds = 0;
        for (let c = 0; c < v; c++) seconds += stages[c * p + k]!.allReduce ?? 0;
        const start = clock[k]!;
        clock[k] = start + seconds;
        stats[k]!.comm += seconds;
        timeline.push({
          stage: k,
          action: a,
          label: actionLabel(a),
          kind: 'transfer',
          start,
          end: clock[k]!,
        });
        break;
      }
      case 'SEND_ACT':
        transfer(k, a, 'act');
        break;
      case 'SEND_GRAD':
        transfer(k, a, 'grad');
        break;
      case 'RECV_ACT':
      case 'RECV_GRAD': {
        const at = arrivalFor(k, a)!;
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
  };

  // Each stage's readyAt, recomputed only when something it depends on moved: its own action, a
  // unit of its pool taken by a sharer, a tensor sent to it (undefined: to recompute).
  const ready: (number | null | undefined)[] = new Array(p).fill(undefined);
  let remaining = schedule.actions.reduce((n, l) => n + l.length, 0);
  while (remaining > 0) {
    let next = -1;
    let nextAt = Infinity;
    for (let k = 0; k < p; k++) {
      if (pc[k]! >= schedule.actions[k]!.length) continue;
      if (ready[k] === undefined) ready[k] = readyAt(k);
      const at = ready[k];
      if (at !== null && at! < nextAt) [next, nextAt] = [k, at!];
    }
    if (next < 0) {
      const stuck = schedule.actions
        .map((l, k) => (pc[k]! < l.length ? `stage ${k} at ${actionLabel(l[pc[k]!]!)}` : null))
        .filter(Boolean);
      throw new Error(`the schedule deadlocks: ${stuck.join(', ')}`);
    }
    const a = schedule.actions[next]![pc[next]!]!;
    step(next);
    remaining--;
    ready[next] = undefined;
    if (isComputeOp(a.op)) for (const j of sharers[next]!) ready[j] = undefined;
    else if (a.op === 'SEND_ACT' || a.op === 'SEND_GRAD') ready[a.peer] = undefined;
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
