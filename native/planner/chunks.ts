import { formatBytes } from '../common/format.js';
import { DEFAULT_CHUNKS, MAX_CHUNKS } from '../common/names.js';
import type { Machine } from './cluster.js';
import type { Score, Split } from './partitioner.js';
import { buildSchedule, peakHeldBy, type Schedule } from './schedule.js';
import { StageCoster, type MemoryBreakdown, type PartitionProblem } from './stageCost.js';

/**
 * Chunks (virtual stages) as the planner costs them: an interleaved plan of p stages and v chunks a
 * stage splits the layers into p·v contiguous virtual stages, virtual stage c·p + k being chunk c of
 * stage k, on stage k's machine. A split over virtual stages is a `Split` whose machines repeat the
 * stages' order v times, so the partitioner's exact DP splits it as it splits stages.
 */

/**
 * Why an interleaved request cannot be planned, in words with what to change, or null. `stages`
 * checked only when the request fixes it (otherwise the stage counts that fit are tried).
 */
export function interleavingProblem(req: {
  chunks?: number;
  stages?: number;
  microbatches: number;
  /** Samples a step, so a suggested micro-batch count can divide it. */
  batch?: number;
  layers: number;
  replicas?: number;
  maxReplicas?: number;
}): string | null {
  const v = req.chunks ?? DEFAULT_CHUNKS;
  if (!(Number.isInteger(v) && v >= 1 && v <= MAX_CHUNKS))
    return `chunks must be a whole number from 1 to ${MAX_CHUNKS}, got ${v}`;
  if ((req.replicas ?? 1) > 1 || (req.maxReplicas ?? 1) > 1)
    return (
      'interleaved schedules with replicas are not built: drop --replicas/--max-replicas, ' +
      'or choose another --schedule'
    );
  const m = req.microbatches;
  if (req.stages === undefined) {
    if (req.layers < 2 * v)
      return (
        `2 stages of ${v} chunks need ${2 * v} layers (one a chunk at least), but the model has ` +
        `${req.layers}: use --chunks ${Math.max(1, Math.floor(req.layers / 2))} or fewer`
      );
    if (stageCountsFor(req.layers, m, v, Infinity).length === 0)
      return (
        `no stage count from 2 to ${Math.floor(req.layers / v)} (a layer for each of a stage's ${v} ` +
        `chunks) divides the ${m} micro-batches: use --microbatches a multiple of 2, or fewer --chunks`
      );
    return null;
  }
  const p = req.stages;
  if (p < 2)
    return 'interleaving needs at least 2 stages (a stage passes a micro-batch between its chunks only by way of the others): use --stages 2 or more, or another --schedule';
  if (m % p !== 0)
    return (
      `interleaved 1F1B needs the micro-batches (${m}) to be a multiple of the stages (${p}): ` +
      `use --microbatches ${microbatchesFor(m, p, req.batch)}, or a stage count that divides ${m}`
    );
  if (req.layers < p * v)
    return (
      `${p} stages of ${v} chunks need ${p * v} layers (one a chunk at least), but the model has ` +
      `${req.layers}: ` +
      fewerChunksOrStages(req.layers, p, v)
    );
  return null;
}

/**
 * What to change when p stages of v chunks want more layers than the model has. Fewer than 2 chunks a
 * stage is no interleaving, so past that only fewer stages help, and a model of fewer than 4 layers
 * (2 stages of 2 chunks) cannot interleave at all.
 */
function fewerChunksOrStages(layers: number, p: number, v: number): string {
  if (layers >= 2 * p) return `use --chunks ${Math.floor(layers / p)} or fewer, or fewer --stages`;
  if (Math.floor(layers / v) >= 2) return `use --stages ${Math.floor(layers / v)} or fewer`;
  if (layers >= 4) return `use --stages 2 with --chunks ${Math.floor(layers / 2)}`;
  return 'too few layers to interleave (2 stages of 2 chunks need 4): choose another --schedule';
}

/**
 * The micro-batch count to suggest for p stages: the first multiple of p from m up that divides the
 * batch, or else the next multiple of p, saying the batch must follow.
 */
function microbatchesFor(m: number, p: number, batch: number | undefined): string {
  const up = Math.ceil(m / p) * p;
  if (batch === undefined) return String(up);
  for (let q = up; q <= batch; q += p) if (batch % q === 0) return String(q);
  return `${up} with a batch that is a multiple of ${up}`;
}

/**
 * The stage counts an interleaved plan may have with at most `most` stages: 2 or more (see above),
 * dividing the micro-batches, with a layer for each of p·v chunks.
 */
export function stageCountsFor(layers: number, m: number, v: number, most: number): number[] {
  const out: number[] = [];
  for (let p = 2; p <= Math.min(most, Math.floor(layers / v)); p++) if (m % p === 0) out.push(p);
  return out;
}

/** The virtual stages' machines: the stages' order, once a chunk. */
export const repeatOrder = (order: number[], v: number): number[] =>
  Array.from({ length: order.length * v }, (_, j) => order[j % order.length]!);

/** Layers [start, end) of chunk c of stage k in a split over p·v virtual stages. */
export function chunkRange(split: Split, p: number, k: number, c: number): [number, number] {
  return [split.bounds[c * p + k]!, split.bounds[c * p + k + 1]!];
}

/**
 * A coster over virtual stages (the DP's stage j is virtual stage j): each chunk is charged its own
 * weights, gradients and optimizer state, and the activations of as many micro-batches as its stage
 * holds of that chunk at its peak under the interleaved schedule. The DP checks one chunk at a time,
 * so each chunk gets 1/v of its machine's memory: a stage whose chunks all fit their share fits, since
 * the stage never holds more than the sum of its chunks' peaks. `stageMemory` gives the exact peak.
 */
export class ChunkCoster extends StageCoster {
  readonly schedule: Schedule;
  /** Most micro-batches virtual stage j holds at once. */
  private readonly held: number[];

  constructor(problem: PartitionProblem, p: number, v: number) {
    // GPipe holds every micro-batch, so the base memory's activations are m micro-batches' worth.
    super({
      ...problem,
      schedule: 'gpipe',
      machines: problem.machines.map((m) => ({ ...m, memoryBytes: m.memoryBytes / v })),
    });
    this.schedule = buildSchedule('interleaved-1f1b', p, problem.microbatches, v);
    this.held = Array.from({ length: p * v }, (_, j) =>
      peakHeldBy(this.schedule, j % p, (c) => (c === Math.floor(j / p) ? 1 : 0)),
    );
  }

  /** One micro-batch's stashed activations over [start, end). */
  activationsPerMicrobatch(start: number, end: number): number {
    return super.memory(start, end, 0, 1).activations / this.problem.microbatches;
  }

  override memory(start: number, end: number, j: number, _P: number): MemoryBreakdown {
    const b = super.memory(start, end, j, _P);
    const activations = this.activationsPerMicrobatch(start, end) * this.held[j]!;
    return { ...b, activations, total: b.total - b.activations + activations };
  }

  override memoryTotal(start: number, end: number, j: number, P: number): number {
    return this.memory(start, end, j, P).total;
  }

  /**
   * Stage k's peak memory holding its v chunks of `split`: every chunk's weights, gradients and
   * optimizer state, and the most activations the stage holds at once, chunk by chunk as the
   * interleaved schedule runs them.
   */
  stageMemory(split: Split, p: number, k: number): MemoryBreakdown {
    const v = split.machines.length / p;
    const sum: MemoryBreakdown = {
      weights: 0,
      gradients: 0,
      optimizer: 0,
      activations: 0,
      total: 0,
    };
    const perChunk: number[] = [];
    for (let c = 0; c < v; c++) {
      const [s, e] = chunkRange(split, p, k, c);
      const b = super.memory(s, e, 0, 1);
      sum.weights += b.weights;
      sum.gradients += b.gradients;
      sum.optimizer += b.optimizer;
      perChunk.push(this.activationsPerMicrobatch(s, e));
    }
    sum.activations = peakHeldBy(this.schedule, k, (c) => perChunk[c]!);
    sum.total = sum.weights + sum.gradients + sum.optimizer + sum.activations;
    return sum;
  }
}

/** The stages of an interleaved split that do not fit their machine, at their exact peak. */
export function chunkOverflows(c: ChunkCoster, split: Split, p: number, machines: Machine[]) {
  return split.machines.slice(0, p).flatMap((m, k) => {
    const needed = c.stageMemory(split, p, k).total;
    const free = machines[m]!.memoryBytes;
    return needed > free ? [{ stage: k, needed, free }] : [];
  });
}

export function explainChunkOverflow(
  c: ChunkCoster,
  split: Split,
  p: number,
  machines: Machine[],
): string {
  const v = split.machines.length / p;
  return chunkOverflows(c, split, p, machines)
    .map(({ stage, needed, free }) => {
      const ranges = Array.from({ length: v }, (_, ch) => chunkRange(split, p, stage, ch))
        .map(([s, e]) => `${s}–${e - 1}`)
        .join(', ');
      return (
        `stage ${stage + 1} (layers ${ranges}) needs ${formatBytes(needed)} ` +
        `on ${machines[split.machines[stage]!]!.name}, which has ${formatBytes(free)} free`
      );
    })
    .join('\n');
}

/**
 * The bottleneck of an interleaved split per micro-batch: a stage's compute is its chunks' together
 * (one machine runs them all), and a link direction carries every chunk's tensors that cross it.
 */
export function chunkScore(c: StageCoster, split: Split, p: number): Score {
  const work = new Array<number>(p).fill(0);
  const links = new Map<string, number>();
  let sum = 0;
  split.machines.forEach((m, j) => {
    const t = c.computeSeconds(split.bounds[j]!, split.bounds[j + 1]!, m);
    work[j % p] = work[j % p]! + t;
    sum += t;
    const next = split.machines[j + 1];
    if (next === undefined) return;
    const x = c.transferSeconds(split.bounds[j + 1]!, m, next);
    const key = `${m}>${next}`;
    links.set(key, (links.get(key) ?? 0) + x);
    sum += x + c.latency(m, next);
  });
  return { max: Math.max(...work, ...links.values()), sum };
}
