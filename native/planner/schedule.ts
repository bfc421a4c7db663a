/**
 * Pipeline schedules as data: for each stage, the ordered list of actions it performs in one
 * training step (one mini-batch of `microbatches` micro-batches, then one optimizer step). The
 * simulator and the training runtime execute these same lists, so a prediction and a run can be
 * compared action by action.
 *
 * Semantics both executors follow:
 * - F(mb)/B(mb): forward / backward of micro-batch mb through the stage's layers. F stashes what
 *   B(mb) needs; B releases it. Gradients accumulate over micro-batches.
 * - W(mb) (zero-bubble schedules only): B(mb) then computes only the input gradient, which the
 *   previous stage waits for, and keeps what the weight gradient needs; W(mb) computes and
 *   accumulates the weight gradient and releases it. A stage that cannot split its backward (one
 *   that recomputes its forward inside B) does all of it in B, and its W is nothing.
 * - SEND_*: hand a tensor to the neighbour stage and carry on (asynchronous); RECV_*: wait until the
 *   neighbour's tensor for that micro-batch has arrived.
 * - ALLREDUCE (a stage run as several replicas): sum the gradients the replicas accumulated over
 *   their micro-batches, on every replica, before STEP (ring all-reduce between them).
 * - STEP: apply the accumulated gradients once (synchronous flush), so a step equals ordinary
 *   training on the whole mini-batch.
 */
import type { ScheduleKind } from '../common/schemas.js';

export { SCHEDULE_KINDS } from '../common/names.js';
export type { ScheduleKind };

/**
 * Where a tensor or an action belongs in a plan's topology (plan v2): stage, the stage's chunk (its
 * layer ranges), the stage's replica (its places) and the micro-batch. Today's runtime runs chunk 0
 * and replica 0 of every stage; an action without `chunk` is chunk 0's.
 */
export interface Address {
  stage: number;
  chunk: number;
  replica: number;
  mb: number;
}

/** An action's address, as stage `stage`'s replica `replica` runs it (STEP has no micro-batch: -1). */
export function addressOf(stage: number, a: Action, replica = 0): Address {
  // STEP and ALLREDUCE have no micro-batch: -1.
  return { stage, chunk: a.chunk ?? 0, replica, mb: 'mb' in a ? a.mb : -1 };
}

export type Action = (
  | { op: 'F'; mb: number }
  | { op: 'B'; mb: number }
  | { op: 'W'; mb: number }
  | { op: 'SEND_ACT'; mb: number; peer: number }
  | { op: 'RECV_ACT'; mb: number; peer: number }
  | { op: 'SEND_GRAD'; mb: number; peer: number }
  | { op: 'RECV_GRAD'; mb: number; peer: number }
  | { op: 'ALLREDUCE' }
  | { op: 'STEP' }
) & {
  /** The chunk of the stage the action works on; absent: chunk 0 (one chunk per stage). */
  chunk?: number;
};

export type ActionOp = Action['op'];

/** Every schedule the simulator and the runtime run (the shared list's kinds). */
export type SimulatedScheduleKind = ScheduleKind;

export interface Schedule {
  kind: SimulatedScheduleKind;
  stages: number;
  microbatches: number;
  /**
   * Chunks per stage (virtual stages: chunk c of stage k is virtual stage c·p + k, layers in that
   * order); absent: 1.
   */
  chunks?: number;
  /** actions[k] is stage k's list, in execution order. */
  actions: Action[][];
}

/** Chunks per stage of a schedule (1 unless it interleaves). */
export const chunksOf = (s: Pick<Schedule, 'chunks'>): number => s.chunks ?? 1;

/**
 * Where a tensor goes next in the virtual pipeline: from chunk c of stage k, activations go to the
 * next virtual stage (c·p + k + 1) and gradients to the one before; null past either end.
 */
export function neighbourOf(
  dir: 'next' | 'previous',
  k: number,
  c: number,
  p: number,
  v: number,
): { stage: number; chunk: number } | null {
  const s = c * p + k + (dir === 'next' ? 1 : -1);
  if (s < 0 || s >= p * v) return null;
  return { stage: s % p, chunk: Math.floor(s / p) };
}

/**
 * The stage that stage k of p takes activations from (`previous`) or sends its own to (`next`): its
 * neighbour in the pipeline, and round the ends where the stages hold several chunks (the last
 * stage's chunk c feeds the first stage's chunk c + 1); null past an end.
 */
export function neighbourStage(
  dir: 'next' | 'previous',
  k: number,
  p: number,
  v: number,
): number | null {
  const s = k + (dir === 'next' ? 1 : -1);
  if (s >= 0 && s < p) return s;
  return v > 1 ? (s + p) % p : null;
}

/** A forward with its receive before and send after, as stage k of p does it. */
function forward(k: number, p: number, mb: number): Action[] {
  return [
    ...(k > 0 ? [{ op: 'RECV_ACT', mb, peer: k - 1 } as const] : []),
    { op: 'F', mb } as const,
    ...(k < p - 1 ? [{ op: 'SEND_ACT', mb, peer: k + 1 } as const] : []),
  ];
}

function backward(k: number, p: number, mb: number): Action[] {
  return [
    ...(k < p - 1 ? [{ op: 'RECV_GRAD', mb, peer: k + 1 } as const] : []),
    { op: 'B', mb } as const,
    ...(k > 0 ? [{ op: 'SEND_GRAD', mb, peer: k - 1 } as const] : []),
  ];
}

function check(p: number, m: number): void {
  if (!Number.isInteger(p) || p < 1) throw new Error(`a pipeline needs at least 1 stage, got ${p}`);
  if (!Number.isInteger(m) || m < 1)
    throw new Error(`a step needs at least 1 micro-batch, got ${m}`);
}

/** GPipe (fill-drain): all forwards, then all backwards; every stage stashes all m micro-batches. */
export function gpipeSchedule(p: number, m: number): Schedule {
  check(p, m);
  const actions = Array.from({ length: p }, (_, k) => {
    const list: Action[] = [];
    for (let mb = 0; mb < m; mb++) list.push(...forward(k, p, mb));
    for (let mb = 0; mb < m; mb++) list.push(...backward(k, p, mb));
    list.push({ op: 'STEP' });
    return list;
  });
  return { kind: 'gpipe', stages: p, microbatches: m, actions };
}

/**
 * 1F1B (PipeDream-Flush): stage k runs min(p-k-1, m) warm-up forwards, then alternates one forward
 * and one backward, then drains. The same bubble as GPipe, but stage k holds at most min(p-k, m)
 * micro-batches of activations instead of m.
 */
export function oneFOneBSchedule(p: number, m: number): Schedule {
  check(p, m);
  const actions = Array.from({ length: p }, (_, k) => {
    const warmup = Math.min(p - k - 1, m);
    const list: Action[] = [];
    for (let mb = 0; mb < warmup; mb++) list.push(...forward(k, p, mb));
    for (let i = 0; i < m - warmup; i++) {
      list.push(...forward(k, p, warmup + i));
      list.push(...backward(k, p, i));
    }
    for (let mb = m - warmup; mb < m; mb++) list.push(...backward(k, p, mb));
    list.push({ op: 'STEP' });
    return list;
  });
  return { kind: '1f1b', stages: p, microbatches: m, actions };
}

/**
 * Zero bubble, ZB-H1 (Qi et al., 2024): each backward is split into B (the input gradient, which the
 * previous stage waits for) and W (the weight gradient, which nothing waits for). Stage k runs 1F1B's
 * order of F and B and puts W(j) right after B(j + k): the later a stage, the longer it holds its W's
 * back, and they fill the gaps where 1F1B waits for gradients. Every stage then holds at most p
 * micro-batches from F to W, 1F1B's peak (stage 0's), and with F = B = W and free communication the
 * bubble is p − 1 units a stage against 1F1B's 3(p − 1) (m ≥ p).
 */
export function zbH1Schedule(p: number, m: number): Schedule {
  check(p, m);
  const actions = oneFOneBSchedule(p, m).actions.map((list, k) => {
    const delay = Math.min(k, m - 1);
    const out: Action[] = [];
    let w = 0;
    for (const a of list) {
      if (a.op === 'STEP') break;
      out.push(a);
      // After B's gradient has left (its SEND_GRAD), so that W never holds up the previous stage.
      const done = (a.op === 'B' && k === 0) || a.op === 'SEND_GRAD';
      if (done && a.mb >= delay) out.push({ op: 'W', mb: w++ });
    }
    while (w < m) out.push({ op: 'W', mb: w++ });
    out.push({ op: 'STEP' });
    return out;
  });
  return { kind: 'zb-h1', stages: p, microbatches: m, actions };
}

/**
 * Interleaved 1F1B (Megatron-LM, Narayanan et al. 2021): each stage holds v chunks of non-adjacent
 * layers (chunk c of stage k is virtual stage c·p + k), so a micro-batch passes every stage v times.
 * Forwards go in rounds of p micro-batches: chunk 0 for p of them, then chunk 1 for the same p, and so
 * on; backwards mirror it from the last chunk. Stage k warms up with 2(p − k − 1) + (v − 1)·p
 * forwards, then alternates one forward and one backward, then drains. Each chunk's F and B take 1/v
 * of the stage's, so the bubble is 1F1B's divided by v, for v times the messages. Needs m a multiple
 * of p, as Megatron's does.
 */
export function interleaved1F1BSchedule(p: number, m: number, v: number): Schedule {
  check(p, m);
  if (!Number.isInteger(v) || v < 1) throw new Error(`chunks per stage must be ≥ 1, got ${v}`);
  if (m % p !== 0)
    throw new Error(
      `interleaved 1F1B needs the micro-batches (${m}) to be a multiple of the stages (${p})`,
    );
  const total = m * v;
  /** The i-th forward (or backward) of a stage: which chunk, which micro-batch. */
  const nth = (i: number, backward: boolean) => {
    const group = Math.floor(i / (p * v));
    const within = i % (p * v);
    const c = Math.floor(within / p);
    return { chunk: backward ? v - 1 - c : c, mb: group * p + (within % p) };
  };
  // With one chunk a stage, the actions are 1F1B's exactly (no chunk field).
  const tag = (chunk: number) => (v === 1 ? {} : { chunk });
  const fwd = (k: number, i: number): Action[] => {
    const { chunk, mb } = nth(i, false);
    const prev = neighbourOf('previous', k, chunk, p, v);
    const next = neighbourOf('next', k, chunk, p, v);
    return [
      ...(prev ? [{ op: 'RECV_ACT', mb, peer: prev.stage, ...tag(chunk) } as const] : []),
      { op: 'F', mb, ...tag(chunk) } as const,
      ...(next ? [{ op: 'SEND_ACT', mb, peer: next.stage, ...tag(chunk) } as const] : []),
    ];
  };
  const bwd = (k: number, i: number): Action[] => {
    const { chunk, mb } = nth(i, true);
    const prev = neighbourOf('previous', k, chunk, p, v);
    const next = neighbourOf('next', k, chunk, p, v);
    return [
      ...(next ? [{ op: 'RECV_GRAD', mb, peer: next.stage, ...tag(chunk) } as const] : []),
      { op: 'B', mb, ...tag(chunk) } as const,
      ...(prev ? [{ op: 'SEND_GRAD', mb, peer: prev.stage, ...tag(chunk) } as const] : []),
    ];
  };
  const actions = Array.from({ length: p }, (_, k) => {
    const warmup = Math.min(v === 1 ? p - k - 1 : 2 * (p - k - 1) + (v - 1) * p, total);
    const list: Action[] = [];
    for (let i = 0; i < warmup; i++) list.push(...fwd(k, i));
    for (let i = 0; i < total - warmup; i++) list.push(...fwd(k, warmup + i), ...bwd(k, i));
    for (let i = total - warmup; i < total; i++) list.push(...bwd(k, i));
    list.push({ op: 'STEP' });
    return list;
  });
  return { kind: 'interleaved-1f1b', stages: p, microbatches: m, chunks: v, actions };
}

/** A schedule's action lists; `chunks` is the chunks per stage of an interleaved one. */
export function buildSchedule(kind: ScheduleKind, p: number, m: number, chunks = 1): Schedule {
  switch (kind) {
    case 'interleaved-1f1b':
      return interleaved1F1BSchedule(p, m, chunks);
    case 'gpipe':
      return gpipeSchedule(p, m);
    case '1f1b':
      return oneFOneBSchedule(p, m);
    case 'zb-h1':
      return zbH1Schedule(p, m);
  }
}

/** Whether a schedule computes weight gradients apart from B (it has W actions). */
export function splitsBackward(kind: SimulatedScheduleKind): boolean {
  return kind === 'zb-h1';
}

/**
 * The most micro-batches stage k holds at once under a schedule: from its F until the action that
 * releases the micro-batch (W where the schedule has W, else B). For an interleaved schedule it counts
 * (micro-batch, chunk) pairs: each holds one chunk's activations.
 */
export function peakHeld(schedule: Schedule, k: number): number {
  return peakHeldBy(schedule, k, () => 1);
}

/**
 * The most stage k holds at once when a micro-batch held by chunk c weighs `weight(c)` (its chunk's
 * activation bytes, say): chunks of one stage peak at different times, so the stage's peak is less
 * than the sum of its chunks' peaks. A weight of 1 for one chunk and 0 for the others gives that
 * chunk's own peak.
 */
export function peakHeldBy(
  schedule: Schedule,
  k: number,
  weight: (chunk: number) => number,
): number {
  const release = splitsBackward(schedule.kind) ? 'W' : 'B';
  let held = 0;
  let peak = 0;
  for (const a of schedule.actions[k]!) {
    if (a.op === 'F') peak = Math.max(peak, (held += weight(a.chunk ?? 0)));
    else if (a.op === release) held -= weight(a.chunk ?? 0);
  }
  return peak;
}

const heldCache = new Map<string, number[]>();

/**
 * How many micro-batches' activations stage k of p holds at most under a schedule (its stash); with
 * `chunks` > 1 (interleaved), how many (micro-batch, chunk) pairs, each a chunk's activations.
 */
export function inFlightMicrobatches(
  kind: ScheduleKind,
  k: number,
  p: number,
  m: number,
  chunks = 1,
): number {
  if (kind === 'gpipe') return m;
  if (kind === '1f1b') return Math.min(p - k, m);
  // The planner asks for every stage of many splits: build each schedule once.
  const key = `${kind}:${p}:${m}:${chunks}`;
  let held = heldCache.get(key);
  if (!held) {
    const s = buildSchedule(kind, p, m, chunks);
    held = Array.from({ length: p }, (_, j) => peakHeld(s, j));
    if (heldCache.size > 256) heldCache.clear();
    heldCache.set(key, held);
  }
  return held[k]!;
}

/**
 * Which replica of a stage run as `replicas` replicas owns micro-batch mb: round robin, or, with
 * `shares` (each replica's share of the work, from measured speed), contiguous runs of micro-batches
 * in proportion to them, so a slower machine gets fewer. Every stage's replicas split the same
 * micro-batches this way, and a neighbour sends micro-batch mb to its owner.
 */
export function ownerOf(mb: number, replicas: number, m: number, shares?: number[]): number {
  if (replicas <= 1) return 0;
  if (!shares) return mb % replicas;
  return microbatchSplit(m, shares).findIndex(([from, to]) => mb >= from && mb < to);
}

/**
 * Micro-batches [from, to) of each replica, in proportion to `shares` (largest remainders; every
 * replica gets at least one when there are enough micro-batches).
 */
export function microbatchSplit(m: number, shares: number[]): [number, number][] {
  const total = shares.reduce((a, b) => a + Math.max(0, b), 0);
  const r = shares.length;
  const exact = shares.map((s) => (total > 0 ? (Math.max(0, s) / total) * m : m / r));
  const counts = exact.map(Math.floor);
  const order = exact
    .map((e, i) => ({ i, rest: e - Math.floor(e) }))
    .sort((a, b) => b.rest - a.rest);
  for (let j = 0; counts.reduce((a, b) => a + b, 0) < m; j++) counts[order[j % r]!.i]!++;
  // A replica with none would only wait on the all-reduce: give it one from the largest.
  if (m >= r)
    for (let i = 0; i < r; i++)
      if (counts[i] === 0) {
        counts[counts.indexOf(Math.max(...counts))]!--;
        counts[i] = 1;
      }
  let from = 0;
  return counts.map((c) => [from, (from += c)] as [number, number]);
}

/**
 * What replica `replica` of stage k runs: the stage's list kept to the micro-batches it owns (in the
 * same order, so replicas together do what the stage did alone, and a schedule that cannot deadlock
 * still cannot), with ALLREDUCE before STEP when the stage has several replicas. The ownership
 * (`owner`) is the one the neighbours route by.
 */
export function replicaActions(
  list: Action[],
  replica: number,
  replicas: number,
  owner: (mb: number) => number,
  /** False for local SGD: the replicas step apart and average their weights every few steps. */
  allReduce = true,
): Action[] {
  if (replicas <= 1) return list;
  return list.flatMap((a): Action[] => {
    if (a.op === 'STEP') return allReduce ? [{ op: 'ALLREDUCE' }, a] : [a];
    if (a.op === 'ALLREDUCE') return [a];
    return owner(a.mb) === replica ? [a] : [];
  });
}

/** Short text for an action ("F3", "SEND_ACT3→2"), for logs and timelines. */
export function actionLabel(a: Action): string {
  if (a.op === 'STEP' || a.op === 'ALLREDUCE') return a.op;
  // Chunk c of an interleaved stage: "F3.1" is micro-batch 3 through chunk 1.
  const c = a.chunk ? `.${a.chunk}` : '';
  if (a.op === 'F' || a.op === 'B' || a.op === 'W') return `${a.op}${a.mb}${c}`;
  return `${a.op}${a.mb}${c}${a.op.startsWith('SEND') ? '→' : '←'}${a.peer}`;
}
