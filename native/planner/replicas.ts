import {
  computeResource,
  linkBetween,
  pinnableGpus,
  type Cluster,
  type Link,
  type Machine,
} from './cluster.js';
import { microbatchSplit, ownerOf } from './schedule.js';
import type { StagePlacement } from './simulator.js';

/**
 * Data parallelism as the planner costs it (PipeDream's view): a stage run as r replicas is one stage
 * on a faster "machine", the group of its replicas, whose links to the next group are the replicas'
 * links together, and whose optimizer step waits for a ring all-reduce of its gradients. The runtime
 * splits each step's micro-batches among the replicas round robin (schedule.ts `ownerOf`), so the
 * group's speed is set by how long its most loaded replica computes, not by the sum of the speeds.
 */

/** Where one replica runs: a machine (its index in the cluster) and the GPU it is pinned to, if any. */
export interface Slot {
  machine: number;
  gpu: number | null;
}

/**
 * A group of replicas costed as one machine; `stepGflops` is its slowest replica's speed, `shares`
 * the replicas' shares of the micro-batches where their speeds differ (absent: round robin).
 */
export type ReplicaMachine = Machine & { stepGflops?: number; shares?: number[] };

/**
 * Shares of the micro-batches in proportion to the replicas' speeds, where they differ by more than a
 * quarter (a slower machine then gets fewer micro-batches); null where round robin does as well (like
 * machines measure a few percent apart from run to run: that is noise, not a slower machine).
 */
export function speedShares(speeds: number[]): number[] | null {
  if (Math.max(...speeds) <= 1.25 * Math.min(...speeds)) return null;
  const top = Math.max(...speeds);
  return speeds.map((s) => Math.max(0.001, Math.round((s / top) * 1000) / 1000));
}

/**
 * The independent compute units a machine offers replicas: each GPU it trains on, each core of a
 * single-threaded backend, else the machine once (tensorflow's CPU backend already uses every core).
 * On a machine with one GPU the replica is not pinned, as a stage there is not.
 */
function placesOf(machine: Machine, index: number): Slot[] {
  const gpus = pinnableGpus(machine);
  if (gpus > 0)
    return Array.from({ length: gpus }, (_, g) => ({ machine: index, gpu: gpus > 1 ? g : null }));
  const { capacity } = computeResource(machine, null);
  return Array.from({ length: capacity }, () => ({ machine: index, gpu: null }));
}

/** How many replicas (of all stages together) a cluster can run without two sharing a unit. */
export function placeCount(machines: Machine[]): number {
  return machines.reduce((n, m, i) => n + placesOf(m, i).length, 0);
}

/**
 * `stages` groups of `replicas` places each, or null when the cluster has too few places. The fastest
 * machines' places are taken, every machine's first place before any machine's second, so replicas
 * spread over machines before they double up on one machine's GPUs or cores; a group takes places on
 * machines it does not use yet while there are any, and machines of like speed end up together (round
 * robin gives each replica the same share, so a group goes at its slowest member's pace).
 */
export function replicaGroups(
  machines: Machine[],
  stages: number,
  replicas: number,
): Slot[][] | null {
  const bySpeed = machines
    .map((m, i) => placesOf(m, i))
    .sort((a, b) => machines[b[0]!.machine]!.gflops - machines[a[0]!.machine]!.gflops);
  const need = stages * replicas;
  const order: Slot[] = [];
  for (let round = 0; order.length < need && bySpeed.some((p) => p[round]); round++)
    for (const places of bySpeed) if (places[round]) order.push(places[round]!);
  if (order.length < need) return null;
  const pool = order.slice(0, need);
  return Array.from({ length: stages }, () => {
    const group: Slot[] = [];
    while (group.length < replicas) {
      const i = pool.findIndex((s) => !group.some((g) => g.machine === s.machine));
      group.push(pool.splice(Math.max(0, i), 1)[0]!);
    }
    return group;
  });
}

/** Replicas each machine runs, over every group. */
export function placementsPerMachine(groups: Slot[][]): Map<number, number> {
  const n = new Map<number, number>();
  for (const s of groups.flat()) n.set(s.machine, (n.get(s.machine) ?? 0) + 1);
  return n;
}

/** How many of m micro-batches each of r replicas owns (the runtime's split: round robin or shares). */
function ownedCounts(r: number, m: number, shares: number[] | null): number[] {
  if (shares) return microbatchSplit(m, shares).map(([from, to]) => to - from);
  const counts = new Array<number>(r).fill(0);
  for (let mb = 0; mb < m; mb++) counts[ownerOf(mb, r, m)]!++;
  return counts;
}

/**
 * A group of replicas as the partitioner sees it: a machine as fast as the group gets through a step's
 * micro-batches (m over its most loaded replica's time per unit of work), with the least memory any
 * replica may use (a machine's memory divided among the replicas `share` says it runs). Replicas of
 * the group on one GPU, or on more single-threaded replicas than a machine's cores, share that unit.
 * `machines` carry their speed at the plan's micro-batch size.
 */
export function groupMachine(
  group: Slot[],
  machines: Machine[],
  m: number,
  share: (machine: number) => number,
): ReplicaMachine {
  const members = group.map((s) => machines[s.machine]!);
  const memoryBytes = Math.min(...group.map((s, j) => members[j]!.memoryBytes / share(s.machine)));
  if (group.length === 1) return { ...members[0]!, memoryBytes };
  const units = group.map((s, j) => computeResource(members[j]!, s.gpu));
  const sharing = new Map<string, number>();
  for (const u of units) sharing.set(u.id, (sharing.get(u.id) ?? 0) + 1);
  const speeds = units.map((u, j) => {
    const n = sharing.get(u.id)!;
    return (members[j]!.gflops * Math.min(n, u.capacity)) / n;
  });
  const shares = speedShares(speeds);
  const counts = ownedCounts(group.length, m, shares);
  const slowest = Math.max(...counts.map((c, j) => c / speeds[j]!));
  return {
    id: members.map((x) => x.id).join(' + '),
    name: members.map((x) => x.name).join(' + '),
    gflops: m / slowest,
    memoryBytes,
    stepGflops: Math.min(...speeds),
    // The products' shares of one machine's rate: replicas of one lab share a backend.
    ...(members[0]!.productRatios ? { productRatios: members[0]!.productRatios } : {}),
    ...(shares ? { shares } : {}),
  };
}

/** Seconds of the optimizer step on this (group) machine, from `seconds` at its aggregate speed. */
export function stepOnGroup(machine: ReplicaMachine, seconds: number): number {
  return machine.stepGflops === undefined
    ? seconds
    : seconds * (machine.gflops / machine.stepGflops);
}

/**
 * The link from group a to group b as one: micro-batch mb goes from a's owner of mb to b's, so each
 * pair of machines carries its share of the micro-batches side by side with the others; the group
 * link moves a micro-batch in the time the busiest pair needs per micro-batch, and waits out the worst
 * latency. Between single replicas it is the machines' link itself.
 */
export function groupLink(a: Slot[], b: Slot[], cluster: Cluster, m: number): Link {
  const id = (s: Slot) => cluster.machines[s.machine]!.id;
  if (a.length === 1 && b.length === 1) return linkBetween(cluster, id(a[0]!), id(b[0]!));
  const load = new Map<string, { link: Link; count: number }>();
  for (let mb = 0; mb < m; mb++) {
    const [x, y] = [a[ownerOf(mb, a.length, m)]!, b[ownerOf(mb, b.length, m)]!];
    const key = `${x.machine}>${y.machine}`;
    const entry = load.get(key) ?? { link: linkBetween(cluster, id(x), id(y)), count: 0 };
    entry.count++;
    load.set(key, entry);
  }
  const busiest = Math.max(...[...load.values()].map((e) => e.count / e.link.bytesPerSecond));
  return {
    bytesPerSecond: m / busiest,
    latencySeconds: Math.max(...[...load.values()].map((e) => e.link.latencySeconds)),
  };
}

/**
 * A ring all-reduce of `gradientBytes` over the group, replica j sending to j + 1 (the last to the
 * first): each link carries 2(r−1)/r of the bytes in 2(r−1) steps, and every step waits for the
 * ring's slowest link (the least bandwidth, the most latency). Replicas on one machine use the link
 * cluster.ts gives a machine to itself. One replica: 0.
 */
export function allReduceSeconds(group: Slot[], gradientBytes: number, cluster: Cluster): number {
  const r = group.length;
  if (r < 2) return 0;
  let bytesPerSecond = Infinity;
  let latency = 0;
  for (let j = 0; j < r; j++) {
    const [a, b] = [group[j]!, group[(j + 1) % r]!];
    const l = linkBetween(
      cluster,
      cluster.machines[a.machine]!.id,
      cluster.machines[b.machine]!.id,
    );
    bytesPerSecond = Math.min(bytesPerSecond, l.bytesPerSecond);
    latency = Math.max(latency, l.latencySeconds);
  }
  return ((2 * (r - 1)) / r) * (gradientBytes / bytesPerSecond) + 2 * (r - 1) * latency;
}

/**
 * The simulator's placement of stages given as groups of replicas. A one-replica stage is placed as
 * ever. A group is one simulated stage, so it computes on a pool of its own units, which stages on the
 * same units share: as many of them run at once as each unit fits the group's replicas on it. Groups
 * that overlap only in part do not contend here (the planner never makes them: each place is used
 * once). Its transfers leave from the set of its machines.
 */
export function groupPlacements(stages: Slot[][], machines: Machine[]): StagePlacement[] {
  const raw = stages.map((group) => {
    const units = group.map((s) => computeResource(machines[s.machine]!, s.gpu));
    if (group.length === 1)
      return {
        machine: machines[group[0]!.machine]!.id,
        compute: units[0]!.id,
        capacity: units[0]!.capacity,
      };
    const on = new Map<string, { capacity: number; n: number }>();
    for (const u of units) on.set(u.id, { capacity: u.capacity, n: (on.get(u.id)?.n ?? 0) + 1 });
    const ids = [...on.keys()].sort();
    return {
      machine: [...new Set(group.map((s) => machines[s.machine]!.id))].sort().join(' + '),
      compute: ids.join(' + '),
      capacity: Math.min(
        ...ids.map((id) => Math.max(1, Math.floor(on.get(id)!.capacity / on.get(id)!.n))),
      ),
    };
  });
  // Stages naming one pool must agree on its size: the tightest holds.
  const least = new Map<string, number>();
  for (const p of raw) least.set(p.compute, Math.min(least.get(p.compute) ?? Infinity, p.capacity));
  return raw.map((p) => ({ ...p, capacity: least.get(p.compute)! }));
}
