import { useDeferredValue, useLayoutEffect } from 'react';
import type { NodeView } from '../native/api/types.js';
import { useCluster } from './store/clusterStore.js';

/** `?perf=1` (the UI bench): measure what one event batch costs. Off otherwise, and then free. */
export const PERF = new URLSearchParams(location.search).has('perf');

const appliedAt = new WeakMap<object, number>();

/** Called by connectStore right after a batch is in the store. */
export function batchApplied(nodes: Record<string, NodeView>, startedAt: number): void {
  performance.measure('pf:apply', { start: startedAt, end: performance.now() });
  appliedAt.set(nodes, startedAt);
}

/**
 * Renders nothing; commits together with the cards (the same deferred render), so the time from a
 * batch's arrival to this layout effect is the time until the update is on screen, background render
 * included.
 */
export function PerfProbe() {
  const nodes = useDeferredValue(useCluster((s) => s.nodes));
  useLayoutEffect(() => {
    const t0 = appliedAt.get(nodes);
    if (t0 !== undefined) performance.measure('pf:commit', { start: t0, end: performance.now() });
  }, [nodes]);
  return null;
}
