/**
 * Pipeline schedules as data: for each stage, the ordered list of actions it performs in one
 * training step (one mini-batch of `microbatches` micro-batches, then one optimizer step). The
 * simulator and the training runtime execute these same lists, so a prediction and a run can be
 * compared action by action.
 *
 * Semantics both executors follow:
 * - F(mb)/B(mb): forward / backward of micro-batch mb through the stage's layers. F stashes what
 *   B(mb) needs; B releases it. Gradients accumulate over micro-batches.
 * - SEND_*: hand a tensor to the neighbour stage and carry on (asynchronous); RECV_*: wait until the
 *   neighbour's tensor for that micro-batch has arrived.
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
  return { stage, chunk: a.chunk ?? 0, replica, mb: 'mb' in a ? a.mb : -1 };
}

export type Action = (
  | { op: 'F'; mb: number }
  | { op: 'B'; mb: number }
  | { op: 'SEND_ACT'; mb: number; peer: number }
  | { op: 'RECV_ACT'; mb: number; peer: number }
  | { op: 'SEND_GRAD'; mb: number; peer: number }
  | { op: 'RECV_GRAD'; mb: number; peer: number }
  | { op: 'STEP' }
) & {
  /** The chunk of the stage the action works on; absent: chunk 0 (one chunk per stage). */
  chunk?: number;
};

export type ActionOp = Action['op'];

export interface Schedule {
  kind: ScheduleKind;
  stages: number;
  microbatches: number;
  /** actions[k] is stage k's list, in execution order. */
  actions: Action[][];
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

export function buildSchedule(kind: ScheduleKind, p: number, m: number): Schedule {
  return kind === 'gpipe' ? gpipeSchedule(p, m) : oneFOneBSchedule(p, m);
}

/** How many micro-batches' activations stage k of p holds at most under a schedule (its stash). */
export function inFlightMicrobatches(kind: ScheduleKind, k: number, p: number, m: number): number {
  return kind === 'gpipe' ? m : Math.min(p - k, m);
}

/** Short text for an action ("F3", "SEND_ACT3→2"), for logs and timelines. */
export function actionLabel(a: Action): string {
  if (a.op === 'STEP') return 'STEP';
  if (a.op === 'F' || a.op === 'B') return `${a.op}${a.mb}`;
  return `${a.op}${a.mb}${a.op.startsWith('SEND') ? '→' : '←'}${a.peer}`;
}
