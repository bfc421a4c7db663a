import { chunksPerStage } from '../common/defaults.js';
import { formatBytes } from '../common/format.js';
import type { PlanPreset } from '../common/schemas.js';
import { modelCost, type OptimizerName } from '../model/cost.js';
import { isDenseStack } from '../model/denseStack.js';
import { checkLossFits } from '../model/losses.js';
import { ModelError } from '../model/modelError.js';
import type { ModelSpec } from '../model/spec.js';
import {
  linkBetween,
  linksUniform,
  pinnableGpus,
  atRows,
  type Cluster,
  type Link,
} from './cluster.js';
import {
  ChunkCoster,
  chunkOverflows,
  chunkScore,
  explainChunkOverflow,
  interleavingProblem,
  repeatOrder,
  stageCountsFor,
} from './chunks.js';
import {
  EXHAUSTIVE_MAX_MACHINES,
  balancedBounds,
  memoryOverflows,
  scoreSplit,
  searchBalanced,
  splitForOrder,
  uniformBounds,
  type SearchResult,
  type Split,
} from './partitioner.js';
import { PLAN_VERSION, planStage, type Plan } from './planSchema.js';
import {
  allReduceSeconds,
  groupLink,
  groupMachine,
  groupPlacements,
  placeCount,
  placementsPerMachine,
  replicaGroups,
  stepOnGroup,
  type ReplicaMachine,
  type Slot,
} from './replicas.js';
import {
  buildSchedule,
  inFlightMicrobatches,
  replicaActions,
  SCHEDULE_KINDS,
  splitsBackward,
  type Schedule,
  type ScheduleKind,
} from './schedule.js';
import { simulate, type SimulationResult, type StageTimes } from './simulator.js';
import { StageCoster, type PartitionProblem } from './stageCost.js';

export type Preset = PlanPreset;

export interface PlanRequest {
  model: ModelSpec;
  source: 'catalogue' | 'file';
  path: string | null;
  cluster: Cluster;
  /** Stage count; omitted: the planner tries every count and keeps the fastest simulated plan. */
  stages?: number;
  batch: number;
  microbatches: number;
  schedule: ScheduleKind;
  optimizer: OptimizerName;
  preset: Preset;
  /**
   * Replicas of every stage (data parallelism: each takes a share of a step's micro-batches, and
   * they sum their gradients before the optimizer step); absent: 1.
   */
  replicas?: number;
  /**
   * Try every replica count from 1 to this for every stage count and keep the fastest predicted
   * plan (PipeDream's search); absent: `replicas`. Not with `replicas`.
   */
  maxReplicas?: number;
  /**
   * Local SGD: the replicas average their weights every this many steps instead of summing gradients
   * every step, so a step carries 1/H of the ring's time (weights and gradients are the same size).
   */
  syncEvery?: number;
  /**
   * Chunks (virtual stages) a stage holds under `interleaved-1f1b`, 1 to MAX_CHUNKS; absent:
   * DEFAULT_CHUNKS. Other schedules hold one chunk a stage and ignore it.
   */
  chunks?: number;
}

export type PlanOutcome =
  { ok: true; plan: Plan; simulation: SimulationResult } | { ok: false; reason: string };

/** A request the planner cannot honour as asked, said in words (the CLI prints it as is). */
export class PlanError extends Error {
  override name = 'PlanError';
}

function problemOf(req: PlanRequest): PartitionProblem {
  const cost = modelCost(req.model);
  // Each machine's speed at this plan's micro-batch size: small micro-batches multiply slower.
  const rows = req.batch / req.microbatches;
  const ms = req.cluster.machines.map((m) => atRows(m, rows));
  return {
    layers: cost.layers.map((l, i) => ({
      ...l,
      keepsActivations: isDenseStack([req.model.layers[i]!]),
    })),
    inputBytes: cost.inputBytes,
    machines: ms,
    link: (i, j) => linkBetween(req.cluster, ms[i]!.id, ms[j]!.id),
    batch: req.batch,
    microbatches: req.microbatches,
    schedule: req.schedule,
    optimizer: req.optimizer,
  };
}

/** The model's loss must fit its output (a plan for a model that cannot train helps nobody). */
function checkLoss(model: ModelSpec): void {
  try {
    checkLossFits(model);
  } catch (err) {
    if (err instanceof ModelError) throw new PlanError(err.message);
    throw err;
  }
}

function checkRequest(req: PlanRequest): void {
  checkLoss(req.model);
  const n = req.model.layers.length;
  const M = req.cluster.machines.length;
  if (req.batch % req.microbatches !== 0)
    throw new PlanError(
      `the batch (${req.batch}) must split into ${req.microbatches} equal micro-batches: ` +
        'choose a batch that is a multiple of --microbatches',
    );
  checkReplicas(req);
  if (req.schedule === 'interleaved-1f1b') checkInterleaving(req);
  // One stage per machine holds where only one replica a stage is tried; replicas count places.
  if (req.stages !== undefined) {
    if (req.stages > M && replicaCounts(req).every((R) => R === 1))
      throw new PlanError(
        `asked for ${req.stages} stages but only ${M} machine${M === 1 ? ' is' : 's are'} available ` +
          `(one stage per machine): use --stages ${M} or fewer, or add machines`,
      );
    if (req.stages > n)
      throw new PlanError(
        `asked for ${req.stages} stages but model "${req.model.id}" has only ${n} layers ` +
          `(each stage needs at least one): use --stages ${n} or fewer`,
      );
  }
}

function checkInterleaving(req: PlanRequest): void {
  const problem = interleavingProblem({ ...req, layers: req.model.layers.length });
  if (problem) throw new PlanError(problem);
  const v = chunksPerStage(req.schedule, req.chunks);
  const M = req.cluster.machines.length;
  if (req.stages !== undefined || interleavedCounts(req, v).length > 0) return;
  if (M < 2)
    throw new PlanError(
      'interleaving needs at least 2 stages, one a machine, but the cluster has 1 machine: ' +
        'add a machine, or choose another --schedule',
    );
  const most = Math.min(M, Math.floor(req.model.layers.length / v));
  throw new PlanError(
    `no stage count from 2 to ${most} (one stage a machine, a layer for each of a stage's ${v} ` +
      `chunks) divides the ${req.microbatches} micro-batches: use --microbatches a multiple of ` +
      `one of them, or choose another --schedule`,
  );
}

/** The stage counts an interleaved plan of v chunks a stage may have on this cluster. */
const interleavedCounts = (req: PlanRequest, v: number) =>
  stageCountsFor(req.model.layers.length, req.microbatches, v, req.cluster.machines.length);

/** The replica counts a request has the planner try: 1 to maxReplicas, or `replicas` (default 1). */
function replicaCounts(req: PlanRequest): number[] {
  if (req.maxReplicas !== undefined) return [...Array(req.maxReplicas).keys()].map((i) => i + 1);
  return [req.replicas ?? 1];
}

function checkReplicas(req: PlanRequest): void {
  for (const [name, v] of [
    ['replicas', req.replicas],
    ['maxReplicas', req.maxReplicas],
  ] as const)
    if (v !== undefined && !(Number.isInteger(v) && v >= 1))
      throw new PlanError(`${name} must be a whole number of at least 1, got ${v}`);
  if (req.replicas !== undefined && req.maxReplicas !== undefined)
    throw new PlanError(
      'give --replicas (every stage that many) or --max-replicas (the planner tries 1 to that many), not both',
    );
  const R = req.replicas ?? 1;
  if (R === 1) return;
  if (R > req.microbatches)
    throw new PlanError(
      `${R} replicas of a stage need at least ${R} micro-batches a step (each replica takes a share): ` +
        `use --microbatches ${R} or more, or fewer --replicas`,
    );
  const S = req.stages ?? 1;
  const places = placeCount(req.cluster.machines);
  if (S * R > places)
    throw new PlanError(
      `${S === 1 ? `1 stage of ${R} replicas needs` : `${S} stages of ${R} replicas need`} ` +
        `${S * R} places, but the machines offer ${places} ` +
        "(a place is a GPU, a core of a single-threaded backend, or a machine on tensorflow's CPU " +
        `backend): use fewer --replicas${req.stages !== undefined ? ' or --stages' : ''}, or add machines`,
    );
}

/**
 * The stage counts to try with R replicas a stage: one stage per machine with one replica (as ever),
 * else as many stages as the places hold R each; none when R replicas would lack micro-batches.
 */
function stageCounts(req: PlanRequest, R: number): number[] {
  const n = req.model.layers.length;
  if (R > req.microbatches) return [];
  if (req.schedule === 'interleaved-1f1b') {
    const counts = interleavedCounts(req, chunksPerStage(req.schedule, req.chunks));
    return req.stages === undefined ? counts : counts.filter((p) => p === req.stages);
  }
  const most = Math.min(
    n,
    R === 1 ? req.cluster.machines.length : Math.floor(placeCount(req.cluster.machines) / R),
  );
  if (req.stages !== undefined) return req.stages <= most ? [req.stages] : [];
  return [...Array(most).keys()].map((i) => i + 1);
}

/**
 * What a search plans on: the coster's machines (the cluster's own, or groups of replicas each costed
 * as one machine) and, for a split over them, where each stage's replicas run.
 */
interface Layout {
  c: StageCoster;
  /** Where each stage's replicas run (one entry a stage, whatever its chunks). */
  replicasOf(split: Split): Slot[][];
  /** Chunks a stage (virtual stages: the split has p·v of them); absent: 1. */
  chunks?: number;
}

/**
 * The places of each stage's replicas, machine indices given: on a machine with several GPUs, its
 * replicas take them in turn, in stage order; elsewhere none is pinned (one GPU, or a CPU backend: the
 * stage sees what its agent sees).
 */
function pinInTurn(stages: number[][], req: PlanRequest): Slot[][] {
  const seen = new Map<number, number>();
  return stages.map((machines) =>
    machines.map((m) => {
      const gpus = pinnableGpus(req.cluster.machines[m]!);
      const i = seen.get(m) ?? 0;
      seen.set(m, i + 1);
      return { machine: m, gpu: gpus > 1 ? i % gpus : null };
    }),
  );
}

/** The cluster's machines, one replica a stage. */
function machineLayout(req: PlanRequest): Layout {
  return {
    c: new StageCoster(problemOf(req)),
    replicasOf: (split) =>
      pinInTurn(
        split.machines.map((m) => [m]),
        req,
      ),
  };
}

/**
 * The cluster's machines for p stages of v chunks: the split is over p·v virtual stages, whose
 * machines repeat the stages' (chunks.ts).
 */
function chunkLayout(req: PlanRequest, p: number, v: number): Layout {
  return {
    c: new ChunkCoster(problemOf(req), p, v),
    chunks: v,
    replicasOf: (split) =>
      pinInTurn(
        split.machines.slice(0, split.machines.length / v).map((m) => [m]),
        req,
      ),
  };
}

/**
 * Groups of replicas, each costed as one machine (replicas.ts), so the partitioner splits layers over
 * groups as it does over machines. A machine's memory is shared by the replicas `share` says it runs.
 */
function groupLayout(req: PlanRequest, groups: Slot[][], share: (m: number) => number): Layout {
  const base = problemOf(req);
  const m = req.microbatches;
  const links = new Map<string, Link>();
  const link = (i: number, j: number) => {
    const key = `${i},${j}`;
    let l = links.get(key);
    if (!l) links.set(key, (l = groupLink(groups[i]!, groups[j]!, req.cluster, m)));
    return l;
  };
  return {
    c: new StageCoster({
      ...base,
      machines: groups.map((g) => groupMachine(g, base.machines, m, share)),
      link,
    }),
    replicasOf: (split) => split.machines.map((g) => groups[g]!),
  };
}

/** S stages of R replicas on the cluster's fastest places (null: too few places). */
function replicaLayout(req: PlanRequest, S: number, R: number): Layout | null {
  const groups = replicaGroups(problemOf(req).machines, S, R);
  if (!groups) return null;
  const per = placementsPerMachine(groups);
  return groupLayout(req, groups, (m) => per.get(m) ?? 1);
}

/** The optimizer step: every replica steps on its own copy, so a group waits for its slowest. */
function stepSeconds(c: StageCoster, s: number, e: number, m: number): number {
  return stepOnGroup(c.problem.machines[m] as ReplicaMachine, c.stepSeconds(s, e, m));
}

/** Stage k's ring all-reduce of its gradients over its replicas (0 for one replica). */
function stageAllReduce(
  c: StageCoster,
  split: Split,
  k: number,
  replicas: Slot[],
  req: PlanRequest,
) {
  const [s, e] = [split.bounds[k]!, split.bounds[k + 1]!];
  const gradients = c.memory(s, e, k, split.machines.length).gradients;
  return allReduceSeconds(replicas, gradients, req.cluster) / (req.syncEvery ?? 1);
}

/**
 * A replicated stage simulated as one: it runs all the stage's micro-batches (at its group's speed)
 * and sums its replicas' gradients before STEP, as each of its replicas does (`replicaActions`).
 */
function withAllReduce(schedule: Schedule, replicas: Slot[][]): Schedule {
  if (replicas.every((r) => r.length === 1)) return schedule;
  return {
    ...schedule,
    actions: schedule.actions.map((list, k) =>
      replicaActions(list, 0, replicas[k]!.length, () => 0),
    ),
  };
}

/** Stage times, link times and the resources the stages share, as the simulator takes them. */
function simulateSplit(layout: Layout, split: Split, req: PlanRequest): SimulationResult {
  const { c } = layout;
  const v = layout.chunks ?? 1;
  // Times and boundaries per virtual stage (j = c·p + k); places per stage.
  const P = split.machines.length;
  const p = P / v;
  const replicas = layout.replicasOf(split);
  const placement = groupPlacements(replicas, req.cluster.machines);
  const stages = split.machines.map((m, j): StageTimes => {
    const k = j % p;
    const [s, e] = [split.bounds[j]!, split.bounds[j + 1]!];
    const weight = splitsBackward(req.schedule) ? c.weightGradSeconds(s, e, m) : 0;
    const times = {
      forward: c.forwardSeconds(s, e, m),
      backward: c.backwardSeconds(s, e, m) - weight,
      weight,
      step: stepSeconds(c, s, e, m),
      prepare: c.prepareSeconds(s, e, m),
    };
    return replicas[k]!.length > 1
      ? { ...times, allReduce: stageAllReduce(c, split, k, replicas[k]!, req) }
      : times;
  });
  const boundaries = Array.from({ length: P - 1 }, (_, j) => {
    const [a, b] = [split.machines[j]!, split.machines[j + 1]!];
    const t = c.transferSeconds(split.bounds[j + 1]!, a, b);
    return { activationSeconds: t, gradientSeconds: t, latency: c.latency(a, b) };
  });
  return simulate({
    schedule: withAllReduce(buildSchedule(req.schedule, p, req.microbatches, v), replicas),
    stages,
    boundaries,
    batchSize: req.batch,
    placement,
  });
}

function explainOverflow(c: StageCoster, split: Split, req: PlanRequest): string {
  const names = req.model.layers.map(
    (l, i) => (l.config.name as string | undefined) ?? `layer ${i}`,
  );
  const lines = memoryOverflows(c, split).map(({ stage, needed, free }) => {
    const [s, e] = [split.bounds[stage]!, split.bounds[stage + 1]!];
    const m = c.problem.machines[split.machines[stage]!]!;
    return (
      `stage ${stage + 1} (layers ${s}–${e - 1}, ${names[s]}…${names[e - 1]}) needs ${formatBytes(needed)} ` +
      `on ${m.name}, which has ${formatBytes(free)} free`
    );
  });
  return lines.join('\n');
}

/**
 * The best split of p stages of v chunks under the request's preset, or null when nothing fits. The
 * machine order is the one a split of one chunk a stage would take (costed with 1F1B's stash, the
 * nearest to interleaving's); for that order the DP splits the p·v virtual stages exactly.
 */
function chunkSplitFor(
  layout: Layout,
  p: number,
  req: PlanRequest,
  ignoreMemory = false,
): SearchResult | null {
  const c = layout.c as ChunkCoster;
  const v = layout.chunks!;
  const P = p * v;
  const fits = (split: Split) =>
    ignoreMemory || chunkOverflows(c, split, p, req.cluster.machines).length === 0;
  if (req.preset !== 'balanced') {
    const bounds =
      req.preset === 'uniform'
        ? uniformBounds(c.n, P)
        : balancedBounds(
            c.problem.layers.map((l) => l.params),
            P,
          );
    const split = { bounds, machines: repeatOrder([...Array(p).keys()], v) };
    if (!fits(split)) return null;
    return { split, score: chunkScore(c, split, p), method: 'heuristic', evaluations: 1 };
  }
  const proxyReq = { ...req, schedule: '1f1b' as const };
  const proxy = new StageCoster(problemOf(proxyReq));
  const order = splitFor(proxy, p, proxyReq) ?? splitFor(proxy, p, proxyReq, true);
  if (!order) return null;
  const r = splitForOrder(c, repeatOrder(order.split.machines, v), { ignoreMemory });
  if (!r || !fits(r.split)) return null;
  return {
    split: r.split,
    score: chunkScore(c, r.split, p),
    method: order.method,
    evaluations: order.evaluations + 1,
  };
}

function searchNote(
  result: SearchResult | null,
  M: number,
  preset: Preset,
  replicated = false,
): string {
  // With replicas the search orders groups of replicas, not machines.
  const [orders, units, fixed] = replicated
    ? [
        'orders of the replica groups',
        M === 1 ? 'group' : 'groups',
        'replica groups in speed order',
      ]
    : ['machine orders', 'machines', 'machines in cluster order'];
  if (preset !== 'balanced') return `preset "${preset}": split fixed by the preset, ${fixed}`;
  if (!result) return '';
  return result.method === 'exhaustive'
    ? `exhaustive search over ${orders} (${M} ${units} ≤ ${EXHAUSTIVE_MAX_MACHINES})`
    : `heuristic search over ${orders} (${M} ${units} > ${EXHAUSTIVE_MAX_MACHINES}: local search ` +
        'from speed- and memory-sorted orders; the split for each order is exact)';
}

/**
 * What the note says of replicas: how many, how the search chose them, and where replicas had to
 * share a machine (fewer machines than places wanted). Nothing for one replica a stage, unasked.
 */
function replicaNote(req: PlanRequest, replicas: Slot[][]): string {
  const R = replicas[0]!.length;
  const tried = req.maxReplicas !== undefined ? `, the fastest of 1–${req.maxReplicas}` : '';
  if (R === 1) return tried && `; 1 replica a stage${tried}`;
  const name = (m: number) => req.cluster.machines[m]!.name;
  const doubled = [...placementsPerMachine(replicas)].filter(([, n]) => n > 1);
  const within = replicas.some((g) => new Set(g.map((s) => s.machine)).size < g.length);
  const shared = doubled.length
    ? `; fewer machines than ${within ? 'replicas of a stage' : 'stages × replicas'}: ` +
      `${doubled.map(([m, n]) => `${name(m)} runs ${n}`).join(', ')}, ` +
      `on ${doubled.length > 1 ? 'their' : 'its'} GPUs or cores`
    : '';
  return (
    `; ${R} replicas of each stage${tried} (data parallelism: a step's micro-batches are split ` +
    `round robin among them, their gradients summed by ring all-reduce before the optimizer step)${shared}`
  );
}

/** Best split for p stages under the request's preset, or null when nothing fits. */
function splitFor(
  c: StageCoster,
  p: number,
  req: PlanRequest,
  ignoreMemory = false,
): SearchResult | null {
  if (req.preset === 'balanced') {
    const uniform = linksUniform(req.cluster);
    const ms = c.problem.machines;
    return searchBalanced(c, p, {
      ignoreMemory,
      machineKey: uniform ? (m) => `${ms[m]!.gflops}|${ms[m]!.memoryBytes}` : undefined,
    });
  }
  const bounds =
    req.preset === 'uniform'
      ? uniformBounds(c.n, p)
      : balancedBounds(
          c.problem.layers.map((l) => l.params),
          p,
        );
  const split = { bounds, machines: [...Array(p).keys()] };
  if (!ignoreMemory && memoryOverflows(c, split).length) return null;
  return { split, score: scoreSplit(c, split), method: 'heuristic', evaluations: 1 };
}

/** Plans a model on a cluster: the split, the machines, and the predicted step, memory and throughput. */
export function makePlan(req: PlanRequest): PlanOutcome {
  checkRequest(req);
  const tries = replicaCounts(req)
    .map((R) => ({ R, counts: stageCounts(req, R) }))
    .filter((t) => t.counts.length > 0);
  if (tries.length === 0)
    throw new PlanError(
      `no replica count from 1 to ${req.maxReplicas} fits ${req.stages} stages on ` +
        `${req.cluster.machines.length} machines with ${placeCount(req.cluster.machines)} places ` +
        `and ${req.microbatches} micro-batches: use fewer --stages`,
    );
  const machines = machineLayout(req);
  const v = chunksPerStage(req.schedule, req.chunks);
  const layoutFor = (p: number, R: number) =>
    v > 1 ? chunkLayout(req, p, v) : R === 1 ? machines : replicaLayout(req, p, R)!;
  const search = (layout: Layout, p: number, ignoreMemory = false) =>
    v > 1 ? chunkSplitFor(layout, p, req, ignoreMemory) : splitFor(layout.c, p, req, ignoreMemory);

  let best: { result: SearchResult; sim: SimulationResult; layout: Layout } | null = null;
  let evaluations = 0;
  for (const { R, counts } of tries)
    for (const p of counts) {
      const layout = layoutFor(p, R);
      const result = search(layout, p);
      if (!result) continue;
      evaluations += result.evaluations;
      const sim = simulateSplit(layout, result.split, req);
      // More stages or replicas must buy real throughput, not a rounding error.
      if (!best || sim.samplesPerSecond > best.sim.samplesPerSecond * (1 + 1e-9))
        best = { result, sim, layout };
    }

  if (!best) {
    // Explained for the fewest replicas tried (one, unless asked for more).
    const { R, counts } = tries[0]!;
    const p = req.stages ?? counts.at(-1)!;
    const layout = layoutFor(p, R);
    const c = layout.c;
    const unfit = search(layout, p, true);
    const why = !unfit
      ? ''
      : v > 1
        ? explainChunkOverflow(c as ChunkCoster, unfit.split, p, req.cluster.machines)
        : explainOverflow(c, unfit.split, req);
    const each = R > 1 ? ` of ${R} replicas each` : '';
    return {
      ok: false,
      reason:
        `no ${req.stages !== undefined ? `${p}-stage plan${each}` : 'plan'} fits in memory` +
        (req.stages === undefined ? ` with any number of stages (1–${counts.length})${each}` : '') +
        `. The fastest ${p}-stage plan would need:\n${why}\n` +
        'Try --schedule 1f1b (stashes fewer micro-batches), more --microbatches, a smaller --batch, ' +
        'optimizer sgd, or more machines.',
    };
  }

  const { result, sim, layout } = best;
  const replicated = layout !== machines && v === 1;
  const plan = planFile(req, layout, result.split, sim, result.score.max, {
    method: req.preset === 'balanced' ? result.method : 'preset',
    evaluations,
    stagesChosen: req.stages !== undefined ? 'requested' : 'auto',
    note:
      searchNote(result, layout.c.problem.machines.length, req.preset, replicated) +
      replicaNote(req, layout.replicasOf(result.split)) +
      chunkNote(v, req.preset),
  });
  return { ok: true, plan, simulation: sim };
}

/** What the note says of chunks: how an interleaved plan's layers were split (nothing for one). */
function chunkNote(v: number, preset: Preset): string {
  if (v === 1) return '';
  return (
    `; ${v} chunks a stage (interleaved: virtual stage c·p + k is chunk c of stage k, on its machine), ` +
    (preset === 'balanced'
      ? 'machines ordered as for one chunk a stage, the chunks split exactly for that order'
      : `the ${preset} preset's split into virtual stages`)
  );
}

/** One schedule's outcome when the planner compares them: its predicted rate, or why none fits. */
export interface ScheduleComparison {
  schedule: ScheduleKind;
  /** Chunks a stage the schedule was planned with (interleaved only). */
  chunks?: number;
  samplesPerSecond: number | null;
  /** Why it has no rate: nothing fits, or (with `skipped`) the request rules the schedule out. */
  reason?: string;
  /** True where the schedule was not planned at all (the reason says why), not planned and unfit. */
  skipped?: boolean;
}

/**
 * The plan for each schedule, and the fastest predicted one that fits (ties: the earlier in
 * SCHEDULE_KINDS, which lists the simpler first). Interleaving is planned with the request's chunks
 * (or the default), and listed as skipped, with the reason, where the request rules it out (stage
 * counts that do not divide the micro-batches, too few layers, replicas). When none fits, the outcome
 * is 1F1B's, whose explanation names what to change.
 */
export function makeFastestSchedulePlan(req: Omit<PlanRequest, 'schedule'>): {
  outcome: PlanOutcome;
  compared: ScheduleComparison[];
} {
  let best: { outcome: PlanOutcome & { ok: true }; rate: number } | null = null;
  let fallback: PlanOutcome | null = null;
  const compared: ScheduleComparison[] = [];
  for (const schedule of SCHEDULE_KINDS) {
    const v = chunksPerStage(schedule, req.chunks);
    const chunks = schedule === 'interleaved-1f1b' ? { chunks: v } : {};
    if (schedule === 'interleaved-1f1b') {
      // What rules interleaving out rules out only it: the other schedules still compete.
      let skip: string | null = null;
      try {
        checkInterleaving({ ...req, schedule });
      } catch (err) {
        if (!(err instanceof PlanError)) throw err;
        skip = err.message;
      }
      if (skip) {
        compared.push({ schedule, ...chunks, samplesPerSecond: null, reason: skip, skipped: true });
        continue;
      }
    }
    const outcome = makePlan({ ...req, schedule });
    if (!outcome.ok) {
      compared.push({ schedule, ...chunks, samplesPerSecond: null, reason: outcome.reason });
      if (schedule === '1f1b') fallback = outcome;
      continue;
    }
    const rate = outcome.plan.prediction.samplesPerSecond;
    compared.push({ schedule, ...chunks, samplesPerSecond: rate });
    if (!best || rate > best.rate * (1 + 1e-9)) best = { outcome, rate };
  }
  return { outcome: best?.outcome ?? fallback ?? makePlan({ ...req, schedule: '1f1b' }), compared };
}

/** The plan file for a split that has been simulated: the decision, and what the planner expects of it. */
function planFile(
  req: PlanRequest,
  layout: Layout,
  split: Split,
  sim: SimulationResult,
  bottleneckSeconds: number,
  search: Plan['search'],
): Plan {
  const { c } = layout;
  const v = layout.chunks ?? 1;
  const p = split.machines.length / v;
  const cost = modelCost(req.model);
  const names = cost.layers.map((l) => l.name);
  const machines = req.cluster.machines;
  const replicas = layout.replicasOf(split);
  // Stage k's virtual stages (its chunks, c·p + k) and the sum of a figure over them.
  const virtual = (k: number) => Array.from({ length: v }, (_, ch) => ch * p + k);
  const total = (k: number, f: (j: number, s: number, e: number, m: number) => number) =>
    virtual(k).reduce(
      (sum, j) => sum + f(j, split.bounds[j]!, split.bounds[j + 1]!, split.machines[j]!),
      0,
    );
  return {
    version: PLAN_VERSION,
    model: {
      id: req.model.id,
      name: req.model.name,
      source: req.source,
      path: req.path,
      layers: c.n,
      params: cost.params,
    },
    batch: req.batch,
    microbatches: req.microbatches,
    schedule: req.schedule,
    optimizer: req.optimizer,
    preset: req.preset,
    stages: split.machines.slice(0, p).map((g, k) =>
      planStage(
        virtual(k).map((j) => ({
          layers: [split.bounds[j]!, split.bounds[j + 1]!] as [number, number],
          layerNames: [names[split.bounds[j]!]!, names[split.bounds[j + 1]! - 1]!] as [
            string,
            string,
          ],
        })),
        replicas[k]!.map((r) => ({
          machineId: machines[r.machine]!.id,
          machineName: machines[r.machine]!.name,
          gpu: r.gpu,
        })),
        // A group of replicas of unequal speeds: the runtime splits by these shares.
        (c.problem.machines[g] as ReplicaMachine | undefined)?.shares,
      ),
    ),
    prediction: {
      stepSeconds: sim.stepSeconds,
      samplesPerSecond: sim.samplesPerSecond,
      bubble: Math.max(0, Math.min(1, sim.bubble)),
      bottleneckSeconds,
      stages: split.machines.slice(0, p).map((_, k) => {
        const mem =
          v > 1
            ? (c as ChunkCoster).stageMemory(split, p, k)
            : c.memory(split.bounds[k]!, split.bounds[k + 1]!, k, p);
        // A replicated stage's figures are its replicas' together (each micro-batch on one of them);
        // an interleaved stage's, its chunks' together (a micro-batch passes each once).
        const group = replicas[k]!;
        const send = (j: number, to: number | undefined, at: number) =>
          to === undefined ? 0 : c.transferSeconds(at, split.machines[j]!, to);
        return {
          forwardSeconds: total(k, (_j, s, e, m) => c.forwardSeconds(s, e, m)),
          backwardSeconds: total(k, (_j, s, e, m) => c.backwardSeconds(s, e, m)),
          optimizerStepSeconds: total(k, (_j, s, e, m) => stepSeconds(c, s, e, m)),
          ...(group.length > 1
            ? { allReduceSeconds: stageAllReduce(c, split, k, group, req) }
            : {}),
          sendActivationSeconds: total(k, (j, _s, e) => send(j, split.machines[j + 1], e)),
          sendGradientSeconds: total(k, (j, s) => send(j, split.machines[j - 1], s)),
          memoryBytes: mem.total,
          memoryFreeBytes: Math.min(...group.map((r) => machines[r.machine]!.memoryBytes)),
          memory: {
            weights: mem.weights,
            gradients: mem.gradients,
            optimizer: mem.optimizer,
            activations: mem.activations,
          },
          inFlightMicrobatches: inFlightMicrobatches(req.schedule, k, p, req.microbatches, v),
          busySeconds: sim.stages[k]!.busy,
          idleSeconds: sim.stages[k]!.idle,
          commSeconds: sim.stages[k]!.comm,
          flopsPerMicrobatch: total(k, (_j, s, e) => c.stageFlops(s, e)),
          params: total(k, (_j, s, e) => c.paramCount(s, e)),
        };
      }),
    },
    search,
    createdAt: new Date().toISOString(),
  };
}

/**
 * A layout a person chose (the designer): stages [bounds[k], bounds[k+1]) on the machines named by id,
 * one per stage (a machine may host several), or, for a stage run as replicas, the list of its
 * replicas' machines. Simulated exactly as the planner's own splits are, so a user's layout and
 * Auto-partition's are compared on the same footing. Stages that share a machine share its GPUs or
 * cores in the simulation (`computeResource`); on a machine with several GPUs they are pinned to them
 * in turn. Memory is not checked here: the caller shows per-machine totals against free memory.
 */
export function evaluateLayout(
  req: PlanRequest,
  bounds: number[],
  machineIds: (string | string[])[],
): { plan: Plan; simulation: SimulationResult } {
  checkLoss(req.model);
  const n = req.model.layers.length;
  if (req.batch % req.microbatches !== 0)
    throw new PlanError(
      `the batch (${req.batch}) must split into ${req.microbatches} equal micro-batches`,
    );
  // An interleaved layout may give its chunks' bounds (p·v + 1 of them) instead of its stages'.
  const v = chunksPerStage(req.schedule, req.chunks);
  const chunked = v > 1 && bounds.length === machineIds.length * v + 1;
  if (
    (bounds.length !== machineIds.length + 1 && !chunked) ||
    bounds[0] !== 0 ||
    bounds.at(-1) !== n
  )
    throw new PlanError(`the stages must cover layers 0–${n - 1}, one machine per stage`);
  for (let k = 1; k < bounds.length; k++)
    if (!(bounds[k]! > bounds[k - 1]!))
      throw new PlanError(`${chunked ? 'chunk' : 'stage'} ${k} has no layers`);
  const index = new Map(req.cluster.machines.map((m, i) => [m.id, i]));
  const places = machineIds.map((ids, k) => {
    const list = typeof ids === 'string' ? [ids] : ids;
    if (list.length === 0) throw new PlanError(`stage ${k + 1} has no machine`);
    if (list.length > req.microbatches)
      throw new PlanError(
        `stage ${k + 1} has ${list.length} replicas but a step has only ${req.microbatches} micro-batches to share among them`,
      );
    return list.map((id) => {
      const i = index.get(id);
      if (i === undefined) throw new PlanError(`machine ${id} is not in the cluster`);
      return i;
    });
  });
  if (v > 1) return evaluateChunkedLayout(req, bounds, places, v);
  // One replica a stage is costed on the machines themselves, exactly as before replicas existed.
  const replicated = places.some((r) => r.length > 1);
  const layout = replicated
    ? groupLayout(req, pinInTurn(places, req), () => 1)
    : machineLayout(req);
  const split: Split = {
    bounds,
    machines: places.map((r, k) => (replicated ? k : r[0]!)),
  };
  const sim = simulateSplit(layout, split, req);
  const plan = planFile(req, layout, split, sim, scoreSplit(layout.c, split).max, {
    method: 'preset',
    evaluations: 1,
    stagesChosen: 'requested',
    note: 'laid out by hand in the designer',
  });
  return { plan, simulation: sim };
}

/**
 * A designer layout under an interleaved schedule: the stages' machines as chosen, their chunks as
 * given (p·v + 1 bounds, a plan opened in the designer), or else split by cost for those machines
 * (the planner's DP over the virtual stages; the stages' own bounds say nothing of the chunks).
 */
function evaluateChunkedLayout(
  req: PlanRequest,
  bounds: number[],
  places: number[][],
  v: number,
): { plan: Plan; simulation: SimulationResult } {
  const p = places.length;
  const problem = interleavingProblem({
    ...req,
    stages: p,
    layers: req.model.layers.length,
    replicas: Math.max(...places.map((r) => r.length)),
  });
  if (problem) throw new PlanError(problem);
  const layout = chunkLayout(req, p, v);
  const order = repeatOrder(
    places.map((r) => r[0]!),
    v,
  );
  const given = bounds.length === p * v + 1;
  const split: Split = given
    ? { bounds, machines: order }
    : splitForOrder(layout.c, order, { ignoreMemory: true })!.split;
  const sim = simulateSplit(layout, split, req);
  const plan = planFile(req, layout, split, sim, chunkScore(layout.c, split, p).max, {
    method: 'preset',
    evaluations: 1,
    stagesChosen: 'requested',
    note:
      `laid out by hand in the designer; ${v} chunks a stage, ` +
      (given ? 'as the plan gave them' : "split by cost for the stages' machines"),
  });
  return { plan, simulation: sim };
}
