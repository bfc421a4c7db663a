import type { NodeView } from '../../native/api/types.js';

/** `?perf=1` (the UI bench): measure what one event batch costs. Off otherwise, and then free. */
export const PERF = new URLSearchParams(location.search).has('perf');

const appliedAt = new WeakMap<object, number>();

/** Called by connectStore right after a batch is in the store. */
export function batchApplied(nodes: Record<string, NodeView>, startedAt: number): void {
  performance.measure('pf:apply', { start: startedAt, end: performance.now() });
  appliedAt.set(nodes, startedAt);
}

/** When the batch that produced this `nodes` object arrived (undefined: not a measured batch). */
export function batchArrivedAt(nodes: Record<string, NodeView>): number | undefined {
  return appliedAt.get(nodes);
}
