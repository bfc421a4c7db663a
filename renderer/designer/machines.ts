import type { NodeView } from '../../native/api/types.js';

/** A machine as the designer offers it: what placing a stage on it needs to show. */
export interface DesignerMachine {
  id: string;
  name: string;
  gpus: string[];
  /** What the planner plans against: free VRAM of GPU 0 on a GPU backend, else available RAM. */
  freeBytes: number | null;
  gflops: number | null;
  backend: string | null;
}

/** Mirrors native/coordinator/nodesToCluster's choice of memory, so the card shows what the prediction uses. */
export function designerMachine(n: NodeView): DesignerMachine {
  const speed = n.speed ?? n.inventory?.speed ?? null;
  let free: number | null;
  if (speed?.backend === 'tensorflow-gpu') {
    const g = n.telemetry?.gpus[0];
    free =
      g && g.memTotalBytes !== null && g.memUsedBytes !== null
        ? g.memTotalBytes - g.memUsedBytes
        : (n.inventory?.static.gpus[0]?.vramBytes ?? null);
  } else free = n.telemetry?.memAvailableBytes ?? n.inventory?.static.memory.totalBytes ?? null;
  return {
    id: n.id,
    name: n.name,
    gpus: (n.inventory?.static.gpus ?? []).map((g) => g.model),
    freeBytes: free,
    gflops: speed?.gflops ?? null,
    backend: speed?.backend ?? null,
  };
}

/** The Cluster view's online machines, by name. */
export function onlineMachines(nodes: Record<string, NodeView>): DesignerMachine[] {
  return Object.values(nodes)
    .filter((n) => n.state === 'online')
    .map(designerMachine)
    .sort((a, b) => a.name.localeCompare(b.name));
}
