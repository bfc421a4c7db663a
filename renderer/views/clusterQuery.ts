import type { NodeView } from '../../native/api/types.js';
import { nodeFacts } from '../components/nodeFacts.js';

export type SortKey = 'name' | 'state' | 'load' | 'gpus' | 'speed';

export const SORT_LABELS: Record<SortKey, string> = {
  name: 'Name',
  state: 'State (online first)',
  load: 'CPU load (busiest first)',
  gpus: 'GPU count (most first)',
  speed: 'Measured speed (fastest first)',
};

const STATE_ORDER: Record<NodeView['state'], number> = {
  online: 0,
  connecting: 1,
  unreachable: 2,
  refused: 3,
  offline: 4,
};

function haystack(n: NodeView): string {
  const f = nodeFacts(n);
  return [
    n.name,
    f.address,
    ...n.addresses,
    n.state,
    f.os,
    f.cpu,
    f.backend,
    ...f.gpus.map((g) => g.model),
  ]
    .filter(Boolean)
    .join(' ')
    .toLowerCase();
}

/** Filter (every word must match somewhere) and sort; ties fall back to name so the order is stable. */
export function queryNodes(
  nodes: Record<string, NodeView>,
  filter: string,
  sort: SortKey,
): string[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const list = Object.values(nodes).filter((n) => {
    if (!words.length) return true;
    const h = haystack(n);
    return words.every((w) => h.includes(w));
  });
  const byName = (a: NodeView, b: NodeView) =>
    a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
  const key: Record<SortKey, (n: NodeView) => number> = {
    name: () => 0,
    state: (n) => STATE_ORDER[n.state],
    load: (n) => -(n.telemetry?.cpuLoad ?? -1),
    gpus: (n) => -(n.inventory?.static.gpus.length ?? 0),
    speed: (n) => -(n.speed?.gflops ?? n.inventory?.speed?.gflops ?? -1),
  };
  const k = key[sort];
  return list.sort((a, b) => k(a) - k(b) || byName(a, b)).map((n) => n.id);
}
