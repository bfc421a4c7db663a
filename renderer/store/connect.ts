import type { Host } from '../../native/api/types.js';
import { applyBatch, applySnapshot, type ClusterStore } from './clusterStore.js';

/**
 * Feeds the store from a host: a snapshot on every (re)connect, then event batches. Events that arrive
 * before the snapshot are applied on top of it, never lost: the snapshot replaces, events patch.
 */
export function connectStore(host: Host, store: ClusterStore): () => void {
  const perf = new URLSearchParams(location.search).has('perf');
  const offEvents = host.onEvents((batch) => {
    if (!perf) return applyBatch(store, batch);
    // ?perf=1 (the UI bench): the cost of one store update, and of the React commit it causes, which
    // runs in a microtask; a message-channel task runs only after it.
    const t0 = performance.now();
    applyBatch(store, batch);
    performance.measure('pf:apply', { start: t0, end: performance.now() });
    const ch = new MessageChannel();
    ch.port1.onmessage = () =>
      performance.measure('pf:commit', { start: t0, end: performance.now() });
    ch.port2.postMessage(null);
  });
  const load = async () => {
    try {
      const [list, join, settings] = await Promise.all([
        host.api.listNodes({}),
        host.api.joinInfo({}),
        host.api.getSettings({}),
      ]);
      applySnapshot(store, list.nodes, list.serverTime);
      store.setState({ join, settings, localAgent: join.localAgent });
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
