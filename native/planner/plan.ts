import { formatBytes } from '../common/format.js';
import type { PlanPreset } from '../common/schemas.js';
import { modelCost, type OptimizerName } from '../model/cost.js';
import { isDenseStack } from '../model/denseStack.js';
import { checkLossFits } from '../model/losses.js';
import { ModelError } from '../model/modelError.js';
import type { ModelSpec } from '../model/spec.js';
import {
  computeResource,
  linkBetween,
  linksUniform,
  pinnableGpus,
  speedAt,
  type Cluster,
} from './cluster.js';
import {
  EXHAUSTIVE_MAX_MACHINES,
  balancedBounds,
  memoryOverflows,
  scoreSplit,
  searchBalanced,
  uniformBounds,
  type SearchResult,
  type Split,
} from './partitioner.js';
import { PLAN_VERSION, planStage, type Plan } from './planSchema.js';
import {
  buildSchedule,
  inFlightMicrobatches,
  SCHEDULE_KINDS,
  splitsBackward,
  type ScheduleKind,
} from './schedule.js';
import { simulate, type SimulationResult } from './simulator.js';
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
  const ms = req.cluster.machines.map((m) => ({ ...m, gflops: speedAt(m, rows) }));
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
  if (req.stages !== undefined) {
    if (req.stages > M)
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

/**
 * The GPU each stage is pinned to: on a machine with several GPUs, its stages take them in turn, in
 * stage order; elsewhere none is pinned (one GPU, or a CPU backend: the stage sees what its agent sees).
 */
function gpuPins(split: Split, req: PlanRequest): (number | null)[] {
  const seen = new Map<number, number>();
  return split.machines.map((m) => {
    const gpus = pinnableGpus(req.cluster.machines[m]!);
    const i = seen.get(m) ?? 0;
    seen.set(m, i + 1);
    return gpus > 1 ? i % gpus : null;
  });
}

/** Stage times, link times and the resources the stages share, as the simulator takes them. */
function simulateSplit(c: StageCoster, split: Split, req: PlanRequest): SimulationResult {
  const p = split.machines.length;
  const pins = gpuPins(split, req);
  const placement = split.machines.map((m, k) => {
    const machine = req.cluster.machines[m]!;
    const r = computeResource(machine, pins[k]!);
    return { machine: machine.id, compute: r.id, capacity: r.capacity };
  });
  const stages = split.machines.map((m, k) => {
    const [s, e] = [split.bounds[k]!, split.bounds[k + 1]!];
    const weight = splitsBackward(req.schedule) ? c.weightGradSeconds(s, e, m) : 0;
    return {
      forward: c.forwardSeconds(s, e, m),
      backward: c.backwardSeconds(s, e, m) - weight,
      weight,
      step: c.stepSeconds(s, e, m),
    };
  });
  const boundaries = Array.from({ length: p - 1 }, (_, k) => {
    const [a, b] = [split.machines[k]!, split.machines[k + 1]!];
    const t = c.transferSeconds(split.bounds[k + 1]!, a, b);
    return { activationSeconds: t, gradientSeconds: t, latency: c.latency(a, b) };
  });
  return simulate({
    schedule: buildSchedule(req.schedule, p, req.microbatches),
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

function searchNote(result: SearchResult | null, M: number, preset: Preset): string {
  if (preset !== 'balanced')
    return `preset "${preset}": split fixed by the preset, machines in cluster order`;
  if (!result) return '';
  return result.method === 'exhaustive'
    ? `exhaustive search over machine orders (${M} machines ≤ ${EXHAUSTIVE_MAX_MACHINES})`
    : `heuristic search over machine orders (${M} machines > ${EXHAUSTIVE_MAX_MACHINES}: local search ` +
        'from speed- and memory-sorted orders; the split for each order is exact)';
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
  const c = new StageCoster(problemOf(req));
  const M = req.cluster.machines.length;
  const counts =
    req.stages !== undefined ? [req.stages] : [...Array(Math.min(M, c.n)).keys()].map((i) => i + 1);

  let best: { result: SearchResult; sim: SimulationResult } | null = null;
  let evaluations = 0;
  for (const p of counts) {
    const result = splitFor(c, p, req);
    if (!result) continue;
    evaluations += result.evaluations;
    const sim = simulateSplit(c, result.split, req);
    // More stages must buy real throughput, not a rounding error.
    if (!best || sim.samplesPerSecond > best.sim.samplesPerSecond * (1 + 1e-9))
      best = { result, sim };
  }

  if (!best) {
    const p = req.stages ?? Math.min(M, c.n);
    const unfit = splitFor(c, p, req, true);
    const why = unfit ? explainOverflow(c, unfit.split, req) : '';
    return {
      ok: false,
      reason:
        `no ${req.stages !== undefined ? `${p}-stage ` : ''}plan fits in memory` +
        (req.stages === undefined ? ` with any number of stages (1–${counts.length})` : '') +
        `. The fastest ${p}-stage plan would need:\n${why}\n` +
        'Try --schedule 1f1b (stashes fewer micro-batches), more --microbatches, a smaller --batch, ' +
        'optimizer sgd, or more machines.',
    };
  }

  const { result, sim } = best;
  const plan = planFile(req, c, result.split, sim, result.score.max, {
    method: req.preset === 'balanced' ? result.method : 'preset',
    evaluations,
    stagesChosen: req.stages !== undefined ? 'requested' : 'auto',
    note: searchNote(result, M, req.preset),
  });
  return { ok: true, plan, simulation: sim };
}

/** One schedule's outcome when the planner compares them: its predicted rate, or why none fits. */
export interface ScheduleComparison {
  schedule: ScheduleKind;
  samplesPerSecond: number | null;
  reason?: string;
}

/**
 * The plan for each schedule, and the fastest predicted one that fits (ties: the earlier in
 * SCHEDULE_KINDS, which lists the simpler first). When none fits, the outcome is 1F1B's, whose
 * explanation names what to change.
 */
export function makeFastestSchedulePlan(req: Omit<PlanRequest, 'schedule'>): {
  outcome: PlanOutcome;
  compared: ScheduleComparison[];
} {
  let best: { outcome: PlanOutcome & { ok: true }; rate: number } | null = null;
  let fallback: PlanOutcome | null = null;
  const compared: ScheduleComparison[] = [];
  for (const schedule of SCHEDULE_KINDS) {
    const outcome = makePlan({ ...req, schedule });
    if (!outcome.ok) {
      compared.push({ schedule, samplesPerSecond: null, reason: outcome.reason });
      if (schedule === '1f1b') fallback = outcome;
      continue;
    }
    const rate = outcome.plan.prediction.samplesPerSecond;
    compared.push({ schedule, samplesPerSecond: rate });
    if (!best || rate > best.rate * (1 + 1e-9)) best = { outcome, rate };
  }
  return { outcome: best?.outcome ?? fallback ?? makePlan({ ...req, schedule: '1f1b' }), compared };
}

/** The plan file for a split that has been simulated: the decision, and what the planner expects of it. */
function planFile(
  req: PlanRequest,
  c: StageCoster,
  split: Split,
  sim: SimulationResult,
  bottleneckSeconds: number,
  search: Plan['search'],
): Plan {
  const p = split.machines.length;
  const cost = modelCost(req.model);
  const names = cost.layers.map((l) => l.name);
  const machines = req.cluster.machines;
  const pins = gpuPins(split, req);
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
    stages: split.machines.map((m, k) =>
      planStage(
        [
          {
            layers: [split.bounds[k]!, split.bounds[k + 1]!],
            layerNames: [names[split.bounds[k]!]!, names[split.bounds[k + 1]! - 1]!],
          },
        ],
        [{ machineId: machines[m]!.id, machineName: machines[m]!.name, gpu: pins[k]! }],
      ),
    ),
    prediction: {
      stepSeconds: sim.stepSeconds,
      samplesPerSecond: sim.samplesPerSecond,
      bubble: Math.max(0, Math.min(1, sim.bubble)),
      bottleneckSeconds,
      stages: split.machines.map((m, k) => {
        const [s, e] = [split.bounds[k]!, split.bounds[k + 1]!];
        const mem = c.memory(s, e, k, p);
        const next = split.machines[k + 1];
        const prev = split.machines[k - 1];
        return {
          forwardSeconds: c.forwardSeconds(s, e, m),
          backwardSeconds: c.backwardSeconds(s, e, m),
          optimizerStepSeconds: c.stepSeconds(s, e, m),
          sendActivationSeconds: next === undefined ? 0 : c.transferSeconds(e, m, next),
          sendGradientSeconds: prev === undefined ? 0 : c.transferSeconds(s, m, prev),
          memoryBytes: mem.total,
          memoryFreeBytes: machines[m]!.memoryBytes,
          memory: {
            weights: mem.weights,
            gradients: mem.gradients,
            optimizer: mem.optimizer,
            activations: mem.activations,
          },
          inFlightMicrobatches: inFlightMicrobatches(req.schedule, k, p, req.microbatches),
          busySeconds: sim.stages[k]!.busy,
          idleSeconds: sim.stages[k]!.idle,
          commSeconds: sim.stages[k]!.comm,
          flopsPerMicrobatch: c.stageFlops(s, e),
          params: c.paramCount(s, e),
        };
      }),
    },
    search,
    createdAt: new Date().toISOString(),
  };
}

/**
 * A layout a person chose (the designer): stages [bounds[k], bounds[k+1]) on the machines named by id,
 * one per stage (a machine may host several). Simulated exactly as the planner's own splits are, so a
 * user's layout and Auto-partition's are compared on the same footing. Stages that share a machine
 * share its GPUs or cores in the simulation (`computeResource`); on a machine with several GPUs they are
 * pinned to them in turn. Memory is not checked here: the caller shows per-machine totals against free
 * memory.
 */
export function evaluateLayout(
  req: PlanRequest,
  bounds: number[],
  machineIds: string[],
): { plan: Plan; simulation: SimulationResult } {
  checkLoss(req.model);
  const n = req.model.layers.length;
  if (req.batch % req.microbatches !== 0)
    throw new PlanError(
      `the batch (${req.batch}) must split into ${req.microbatches} equal micro-batches`,
    );
  if (bounds.length !== machineIds.length + 1 || bounds[0] !== 0 || bounds.at(-1) !== n)
    throw new PlanError(`the stages must cover layers 0–${n - 1}, one machine per stage`);
  for (let k = 1; k < bounds.length; k++)
    if (!(bounds[k]! > bounds[k - 1]!)) throw new PlanError(`stage ${k} has no layers`);
  const index = new Map(req.cluster.machines.map((m, i) => [m.id, i]));
  const machines = machineIds.map((id) => {
    const i = index.get(id);
    if (i === undefined) throw new PlanError(`machine ${id} is not in the cluster`);
    return i;
  });
  const c = new StageCoster(problemOf(req));
  const split: Split = { bounds, machines };
  const sim = simulateSplit(c, split, req);
  const plan = planFile(req, c, split, sim, scoreSplit(c, split).max, {
    method: 'preset',
    evaluations: 1,
    stagesChosen: 'requested',
    note: 'laid out by hand in the designer',
  });
  return { plan, simulation: sim };
}
