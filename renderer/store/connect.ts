import type { Host } from '../../native/api/types.js';
import { batchApplied, PERF } from './perfMarks.js';
import { applyBatch, applySnapshot, type ClusterStore } from './clusterStore.js';

/**
 * Feeds the store from a host: a snapshot on every (re)connect, then event batches. Events that arrive
 * before the snapshot are applied on top of it, never lost: the snapshot replaces, events patch.
 */
export function connectStore(host: Host, store: ClusterStore): () => void {
  const offEvents = host.onEvents((batch) => {
    if (!PERF) return applyBatch(store, batch);
    const t0 = performance.now();
    applyBatch(store, batch);
    batchApplied(store.getState().nodes, t0);
  });
  const load = async () => {
    try {
      const [list, join, settings] = await Promise.all([
        host.api.listNodes({}),
        host.api.joinInfo({}),
        host.api.getSettings({}),
      ]);
      applySnapshot(store, list.nodes, list.serverTime);
      store.setState({
        join,
        settings,
        localAgent: join.localAgent,
        strangers: list.strangers ?? [],
      });
    } catch {
      // Disconnected: the next 'open' loads again.
    }
  };
  const offConn = host.onConnection((connection) => {
    store.setState({ connection });
    if (connection === 'open') void load();
  });
  return () => {
    offEvents();
    offConn();
  };
}
