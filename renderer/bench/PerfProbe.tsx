import { useDeferredValue, useLayoutEffect } from 'react';
import { useCluster } from '../store/clusterStore.js';
import { batchArrivedAt } from '../store/perfMarks.js';

/**
 * The UI bench's probe (`?perf=1`). Renders nothing; commits together with the cards (the same
 * deferred render), so the time from a batch's arrival to this layout effect is the time until the
 * update is on screen, background render included.
 */
export function PerfProbe() {
  const nodes = useDeferredValue(useCluster((s) => s.nodes));
  useLayoutEffect(() => {
    const t0 = batchArrivedAt(nodes);
    if (t0 !== undefined) performance.measure('pf:commit', { start: t0, end: performance.now() });
  }, [nodes]);
  return null;
}
