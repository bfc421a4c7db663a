/**
 * The designer's document as plain data, and every edit as a pure function, so undo/redo is a stack of
 * snapshots and the UI, the tests and the keyboard all go through the same few functions.
 */
import type { LayoutSettings } from '../../native/api/designerSchemas.js';
import {
  DEFAULT_OPTIMIZER,
  DEFAULT_PRESET,
  DEFAULT_SCHEDULE,
} from '../../native/common/defaults.js';
import type { PlanFile } from '../../native/api/designerSchemas.js';
import { chunksPerStage } from '../../native/common/defaults.js';

export interface Placement {
  id: string;
  /** Kept so a plan can still name a machine that is no longer on the network. */
  name: string;
}

export interface DesignDoc {
  /** Layers in the model (0 until a model is chosen). */
  layerCount: number;
  /** Stage k is layers [bounds[k], bounds[k+1]); bounds[0] = 0, last = layerCount. */
  bounds: number[];
  /** One entry per stage: the machine of its first replica (what the stage's Machine list edits). */
  machines: (Placement | null)[];
  /**
   * One entry per stage: the machines of its further replicas (data parallelism), [] for a stage run
   * once. Kept apart from `machines` so everything that moves or checks a stage's machine reads one
   * place; `stageMachines` gives a stage's whole list.
   */
  replicas: Placement[][];
  settings: LayoutSettings;
  /**
   * Under the interleaved schedule, the chunks' bounds in pipeline order (p·v + 1 of them) as a plan
   * opened here gave them; absent, or for another stage or chunk count, the engine splits the chunks
   * by cost for the stages' machines. `bounds` then only counts the stages.
   */
  chunkBounds?: number[];
}

export const DEFAULT_SETTINGS: LayoutSettings = {
  batch: 64,
  microbatches: 4,
  schedule: DEFAULT_SCHEDULE,
  optimizer: DEFAULT_OPTIMIZER,
  preset: DEFAULT_PRESET,
};

export function newDoc(layerCount: number, settings: LayoutSettings = DEFAULT_SETTINGS): DesignDoc {
  return { layerCount, bounds: [0, layerCount], machines: [null], replicas: [[]], settings };
}

export const stageCount = (d: DesignDoc) => d.machines.length;

/** Every machine stage k runs on, its first replica first; [] while it is on none. */
export function stageMachines(d: DesignDoc, k: number): Placement[] {
  const m = d.machines[k];
  return m ? [m, ...(d.replicas[k] ?? [])] : [];
}

/** The stages that run (a replica) on machine `id`. */
export function stagesOn(d: DesignDoc, id: string): number[] {
  return d.machines.flatMap((_, k) => (stageMachines(d, k).some((m) => m.id === id) ? [k] : []));
}

/** Cuts the stage that holds layer `at` so a new stage starts there; the new stage is unplaced. */
export function splitAt(d: DesignDoc, at: number): DesignDoc {
  if (at <= 0 || at >= d.layerCount || d.bounds.includes(at)) return d;
  const k = d.bounds.findIndex((b) => b > at) - 1;
  const bounds = [...d.bounds.slice(0, k + 1), at, ...d.bounds.slice(k + 1)];
  const machines = [...d.machines.slice(0, k + 1), null, ...d.machines.slice(k + 1)];
  const replicas = [...d.replicas.slice(0, k + 1), [], ...d.replicas.slice(k + 1)];
  return { ...d, bounds, machines, replicas };
}

/**
 * Moves boundary `k` (the start of stage k) to layer gap `to`, keeping at least one layer on each side.
 * Boundary `stages` is the model's end: dragging it up splits off a new last stage there.
 */
export function moveBoundary(d: DesignDoc, k: number, to: number): DesignDoc {
  const p = stageCount(d);
  if (k === p) return splitAt(d, to);
  if (k <= 0 || k > p) return d;
  const clamped = Math.max(d.bounds[k - 1]! + 1, Math.min(d.bounds[k + 1]! - 1, to));
  if (clamped === d.bounds[k]) return d;
  const bounds = d.bounds.slice();
  bounds[k] = clamped;
  return { ...d, bounds };
}

/** Merges stage k into its neighbour (the previous one; the next for the first stage). */
export function removeStage(d: DesignDoc, k: number): DesignDoc {
  const p = stageCount(d);
  if (p <= 1 || k < 0 || k >= p) return d;
  const cut = k === 0 ? 1 : k;
  const bounds = d.bounds.filter((_, i) => i !== cut);
  const machines = d.machines.filter((_, i) => i !== k);
  const replicas = d.replicas.filter((_, i) => i !== k);
  return { ...d, bounds, machines, replicas };
}

/** Adds a stage by halving the stage with the most layers. */
export function addStage(d: DesignDoc): DesignDoc {
  let best = -1;
  let size = 1;
  for (let k = 0; k < stageCount(d); k++) {
    const s = d.bounds[k + 1]! - d.bounds[k]!;
    if (s > size) [best, size] = [k, s];
  }
  if (best < 0) return d;
  return splitAt(d, d.bounds[best]! + Math.floor(size / 2));
}

/**
 * Puts stage k on `machine` (its first replica; further replicas stay). A machine runs a stage once,
 * so a replica already there is dropped; a stage put on no machine keeps no replicas either.
 */
export function placeStage(d: DesignDoc, k: number, machine: Placement | null): DesignDoc {
  if (k < 0 || k >= stageCount(d)) return d;
  const cur = d.machines[k];
  if (cur?.id === machine?.id) return d;
  const machines = d.machines.slice();
  machines[k] = machine;
  const replicas = d.replicas.slice();
  replicas[k] = machine ? (d.replicas[k] ?? []).filter((r) => r.id !== machine.id) : [];
  return { ...d, machines, replicas };
}

/**
 * Runs stage k on `machine` as well (one more replica); on a stage that is on no machine yet it is
 * placing the stage. A machine that already runs the stage changes nothing.
 */
export function addReplica(d: DesignDoc, k: number, machine: Placement): DesignDoc {
  if (k < 0 || k >= stageCount(d)) return d;
  if (!d.machines[k]) return placeStage(d, k, machine);
  if (stageMachines(d, k).some((m) => m.id === machine.id)) return d;
  const replicas = d.replicas.slice();
  replicas[k] = [...(d.replicas[k] ?? []), machine];
  return { ...d, replicas };
}

/**
 * Removes replica r of stage k (0 is the first: the next one takes its place). The stage's last
 * machine is not removed here: that is "none" in its Machine list.
 */
export function removeReplica(d: DesignDoc, k: number, r: number): DesignDoc {
  const list = stageMachines(d, k);
  if (list.length < 2 || r < 0 || r >= list.length) return d;
  const rest = list.filter((_, i) => i !== r);
  const machines = d.machines.slice();
  machines[k] = rest[0]!;
  const replicas = d.replicas.slice();
  replicas[k] = rest.slice(1);
  return { ...d, machines, replicas };
}

/** What the prediction API takes for stage k: its machine's id, or its replicas' ids; null if none. */
export function stageMachineIds(d: DesignDoc, k: number): string | string[] | null {
  const ids = stageMachines(d, k).map((m) => m.id);
  if (ids.length === 0) return null;
  return ids.length === 1 ? ids[0]! : ids;
}

/** Chunks a stage holds under the document's schedule: 1 unless it interleaves. */
export function chunkCount(settings: LayoutSettings): number {
  return chunksPerStage(settings.schedule, settings.chunks);
}

/**
 * The bounds the prediction takes: the stages' (one chunk a stage, or chunks the engine splits), or
 * the chunks' a plan gave, while they still fit the stage and chunk counts.
 */
export function boundsToPredict(d: DesignDoc): number[] {
  const v = chunkCount(d.settings);
  const c = d.chunkBounds;
  return v > 1 && c?.length === stageCount(d) * v + 1 ? c : d.bounds;
}

/**
 * Each layer's stage in a plan (interleaved: the stage of the chunk that holds it), or null where the
 * plan does not cover the model once.
 */
export function stageOfLayers(plan: PlanFile): number[] | null {
  const out = new Array<number>(plan.model.layers).fill(-1);
  plan.stages.forEach((st, k) =>
    st.chunks.forEach(({ layers: [s, e] }) => {
      for (let i = s; i < e && i < out.length; i++) out[i] = k;
    }),
  );
  return out.includes(-1) ? null : out;
}

export function setSettings(d: DesignDoc, patch: Partial<LayoutSettings>): DesignDoc {
  const settings = { ...d.settings, ...patch };
  if (JSON.stringify(settings) === JSON.stringify(d.settings)) return d;
  return { ...d, settings };
}

export interface Layout {
  bounds: number[];
  machines: (Placement | null)[];
  /** Each stage's further replicas; absent: none. */
  replicas?: Placement[][];
  /** Interleaved: the chunks' bounds in pipeline order (see DesignDoc); absent: none given. */
  chunkBounds?: number[];
}

/** A whole layout at once (Auto-partition, a loaded plan). */
export function setLayout(d: DesignDoc, layout: Layout): DesignDoc {
  // Chunk bounds belong to the layout they came with: another layout drops them.
  const { chunkBounds: _, ...rest } = d;
  return {
    ...rest,
    bounds: layout.bounds.slice(),
    machines: layout.machines.slice(),
    replicas: layout.replicas?.map((r) => r.slice()) ?? layout.machines.map(() => []),
    ...(layout.chunkBounds ? { chunkBounds: layout.chunkBounds.slice() } : {}),
  };
}

/** p stages over n layers, as even as whole layers go (the first ones take the remainder). */
function evenBounds(n: number, p: number): number[] {
  const b = [0];
  for (let k = 0; k < p; k++) b.push(b[k]! + Math.floor(n / p) + (k < n % p ? 1 : 0));
  return b;
}

/**
 * A plan's layout as the designer edits it: one layer range and the replicas' machines per stage,
 * read from the plan's chunks and replicas (which GPU of a machine a replica was pinned to is the
 * engine's to choose again). An interleaved plan's stages each hold v chunks: those are kept as
 * `chunkBounds` (pipeline order: chunk 0 of every stage, then chunk 1 …), and the stages' own
 * bounds, which then only count the stages, are spread evenly. A plan whose stages hold different
 * numbers of chunks is no schedule's, and says so instead of losing them.
 */
export function layoutOfPlan(
  plan: PlanFile,
): (Required<Omit<Layout, 'chunkBounds'>> & Pick<Layout, 'chunkBounds'>) | { problem: string } {
  const v = plan.stages[0]!.chunks.length;
  for (const [k, st] of plan.stages.entries())
    if (st.chunks.length !== v)
      return {
        problem: `Stage ${k + 1} of this plan holds ${st.chunks.length} layer ranges and stage 1 holds ${v}: the designer shows stages of equal chunk counts only.`,
      };
  const places = plan.stages.map((st) =>
    st.replicas.map((r) => ({ id: r.machineId, name: r.machineName })),
  );
  const common = {
    machines: places.map((p) => p[0]!),
    replicas: places.map((p) => p.slice(1)),
  };
  if (v === 1)
    return { bounds: [0, ...plan.stages.map((st) => st.chunks[0]!.layers[1])], ...common };
  const chunkBounds = [0];
  for (let c = 0; c < v; c++)
    for (const st of plan.stages) chunkBounds.push(st.chunks[c]!.layers[1]);
  return {
    bounds: evenBounds(plan.model.layers, plan.stages.length),
    chunkBounds,
    ...common,
  };
}

/**
 * Moves a layer into a neighbouring stage, with the layers between it and that stage (stages stay
 * contiguous): dropping dense_5 of stage 1 onto stage 2 moves dense_5…end of stage 1 into stage 2. A
 * stage keeps at least one layer; a stage that is not a neighbour cannot take the layer.
 */
export function moveLayerToStage(d: DesignDoc, layer: number, k: number): DesignDoc {
  const j = stageOf(d, layer);
  if (k === j + 1) return moveBoundary(d, k, layer);
  if (k === j - 1) return moveBoundary(d, j, layer + 1);
  return d;
}

/** The stage that holds layer i. */
export function stageOf(d: DesignDoc, layer: number): number {
  let k = 0;
  while (k + 1 < d.bounds.length - 1 && d.bounds[k + 1]! <= layer) k++;
  return k;
}

// ---- undo / redo ----

export interface History<T> {
  past: T[];
  present: T;
  future: T[];
}

const HISTORY_LIMIT = 200;

export const historyOf = <T>(present: T): History<T> => ({ past: [], present, future: [] });

/** Records an edit; an edit that changes nothing is not an undo step. */
export function commit<T>(h: History<T>, next: T): History<T> {
  if (next === h.present) return h;
  return { past: [...h.past, h.present].slice(-HISTORY_LIMIT), present: next, future: [] };
}

export function undo<T>(h: History<T>): History<T> {
  const prev = h.past.at(-1);
  if (prev === undefined) return h;
  return { past: h.past.slice(0, -1), present: prev, future: [h.present, ...h.future] };
}

export function redo<T>(h: History<T>): History<T> {
  const next = h.future[0];
  if (next === undefined) return h;
  return { past: [...h.past, h.present], present: next, future: h.future.slice(1) };
}
