import { isGpuBackend } from '../common/names.js';
import type { NodeRecord } from './nodeRecord.js';
import type { SpeedOverhead } from '../protocol/inventorySchemas.js';
import { unorderedPairs } from '../util/pairs.js';
import {
  DEFAULT_LINK,
  pairKey,
  type Cluster,
  type Link,
  type Machine,
} from '../planner/cluster.js';

/**
 * Machines from discovered agents: measured speed on the backend the agent will train with, and the
 * memory that backend uses (free VRAM of GPU 0 for a GPU backend, else available RAM). Agents that
 * cannot be planned on (offline, no speed yet) are left out with the reason, for the CLI to print.
 */
export function machineFromNode(
  n: NodeRecord,
  assumeGflops: number | null = null,
): Machine | { skipped: string } {
  if (n.state !== 'online')
    return { skipped: `${n.name}: ${n.state}${n.stateReason ? ` (${n.stateReason})` : ''}` };
  const speed =
    speedOfNode(n) ??
    (assumeGflops === null ? null : { gflops: assumeGflops, backend: 'cpu', curve: undefined });
  if (!speed) return { skipped: `${n.name}: no measured speed yet (backends still probing?)` };
  let memory: number | null = null;
  if (isGpuBackend(speed.backend)) {
    const g = n.telemetry?.gpus[0];
    if (g && g.memTotalBytes !== null && g.memUsedBytes !== null)
      memory = g.memTotalBytes - g.memUsedBytes;
    else memory = n.inventory?.static.gpus[0]?.vramBytes ?? null;
  } else {
    memory = n.telemetry?.memAvailableBytes ?? n.inventory?.static.memory.totalBytes ?? null;
  }
  if (!memory) return { skipped: `${n.name}: memory unknown` };
  // What the simulator shares between stages on one machine (its GPUs, or its cores) comes from the
  // inventory; without one the machine is planned as one compute resource.
  const inv = n.inventory?.static;
  const cores = inv ? inv.cpu.physicalCores || inv.cpu.cores : 0;
  return {
    id: n.id,
    name: n.name,
    gflops: speed.gflops,
    memoryBytes: memory,
    ...(speed.curve ? { speedCurve: speed.curve } : {}),
    ...('overhead' in speed && speed.overhead ? { overhead: speed.overhead } : {}),
    ...(inv
      ? {
          backend: speed.backend,
          ...(isGpuBackend(speed.backend) ? { gpus: Math.max(1, inv.gpus.length) } : {}),
          ...(cores > 0 ? { cores } : {}),
          ...(inv.hostname ? { host: hostOf(inv) } : {}),
        }
      : {}),
  };
}

/** An agent's latest measured speed: its own report, else its inventory's; undefined while probing. */
export function speedOfNode(n: NodeRecord) {
  return n.speed ?? n.inventory?.speed;
}

/**
 * The link between two agents on one computer: loopback, which each one's speed probe measured; the
 * slower of the two figures holds. Null where either probe lacks it.
 */
export function sameComputerLink(
  a: SpeedOverhead | undefined,
  b: SpeedOverhead | undefined,
): Link | null {
  const [la, lb] = [a?.loopback, b?.loopback];
  if (!la || !lb) return null;
  return {
    bytesPerSecond: Math.min(la.bytesPerSecond, lb.bytesPerSecond),
    latencySeconds: Math.max(la.latencySeconds, lb.latencySeconds),
  };
}

/**
 * Which computer an agent runs on: its hostname and its network cards' MACs (two lab machines may
 * share a default hostname, never a MAC). Agents started side by side on one computer share it.
 */
function hostOf(inv: NonNullable<NodeRecord['inventory']>['static']): string {
  const macs = (inv.network ?? [])
    .filter((n) => !n.internal && n.mac && n.mac !== '00:00:00:00:00:00')
    .map((n) => n.mac);
  return [inv.hostname, ...[...new Set(macs)].sort()].join(' ');
}

/** The computer an agent runs on, where its inventory says (see hostOf). */
export function hostOfNode(n: NodeRecord): string | undefined {
  const inv = n.inventory?.static;
  return inv?.hostname ? hostOf(inv) : undefined;
}

/**
 * Agents on one computer talk over loopback (sameComputerLink). Pairs on different computers take the link measured between them (`measured`,
 * keyed by pairKey), else the default link.
 */
function machineLinks(machines: Machine[], measured: ReadonlyMap<string, Link>): Map<string, Link> {
  const links = new Map<string, Link>();
  for (const [a, b] of unorderedPairs(machines)) {
    const key = pairKey(a.id, b.id);
    if (a.host === undefined || a.host !== b.host) {
      const m = measured.get(key);
      if (m) links.set(key, m);
      continue;
    }
    const loop = sameComputerLink(a.overhead, b.overhead);
    if (loop) links.set(key, loop);
  }
  return links;
}

/**
 * `links`: links measured between agents (Coordinator.measuredLinks), keyed by pairKey; used for
 * pairs on different computers only, where nothing else measured them.
 */
export function clusterFromNodes(
  nodes: NodeRecord[],
  opts: { assumeUnmeasured?: boolean; links?: ReadonlyMap<string, Link> } = {},
): { cluster: Cluster; skipped: string[]; assumed: string[] } {
  const machines: Machine[] = [];
  const skipped: string[] = [];
  for (const n of nodes) {
    const m = machineFromNode(n);
    if ('skipped' in m) skipped.push(m.skipped);
    else machines.push(m);
  }
  // A run that must go on now (a re-plan after a loss) plans machines whose speed is not measured
  // yet as fast as the median measured one (or all alike), rather than not at all.
  const assumed: string[] = [];
  if (opts.assumeUnmeasured) {
    const measured = machines.map((m) => m.gflops).sort((a, b) => a - b);
    const median = measured.length ? measured[Math.floor(measured.length / 2)]! : 1;
    for (const n of nodes) {
      if (machines.some((m) => m.id === n.id)) continue;
      const m = machineFromNode(n, median);
      if ('skipped' in m) continue;
      machines.push(m);
      assumed.push(n.name);
      skipped.splice(
        skipped.findIndex((x) => x.startsWith(`${n.name}:`)),
        1,
      );
    }
  }
  return {
    cluster: {
      machines,
      defaultLink: DEFAULT_LINK,
      links: machineLinks(machines, opts.links ?? new Map()),
    },
    skipped,
    assumed,
  };
}
