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
  /** One entry per stage. */
  machines: (Placement | null)[];
  settings: LayoutSettings;
}

export const DEFAULT_SETTINGS: LayoutSettings = {
  batch: 64,
  microbatches: 4,
  schedule: DEFAULT_SCHEDULE,
  optimizer: DEFAULT_OPTIMIZER,
  preset: DEFAULT_PRESET,
};

export function newDoc(layerCount: number, settings: LayoutSettings = DEFAULT_SETTINGS): DesignDoc {
  return { layerCount, bounds: [0, layerCount], machines: [null], settings };
}

export const stageCount = (d: DesignDoc) => d.machines.length;

/** Cuts the stage that holds layer `at` so a new stage starts there; the new stage is unplaced. */
export function splitAt(d: DesignDoc, at: number): DesignDoc {
  if (at <= 0 || at >= d.layerCount || d.bounds.includes(at)) return d;
  const k = d.bounds.findIndex((b) => b > at) - 1;
  const bounds = [...d.bounds.slice(0, k + 1), at, ...d.bounds.slice(k + 1)];
  const machines = [...d.machines.slice(0, k + 1), null, ...d.machines.slice(k + 1)];
  return { ...d, bounds, machines };
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
  return { ...d, bounds, machines };
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

export function placeStage(d: DesignDoc, k: number, machine: Placement | null): DesignDoc {
  if (k < 0 || k >= stageCount(d)) return d;
  const cur = d.machines[k];
  if (cur?.id === machine?.id) return d;
  const machines = d.machines.slice();
  machines[k] = machine;
  return { ...d, machines };
}

export function setSettings(d: DesignDoc, patch: Partial<LayoutSettings>): DesignDoc {
  const settings = { ...d.settings, ...patch };
  if (JSON.stringify(settings) === JSON.stringify(d.settings)) return d;
  return { ...d, settings };
}

/** A whole layout at once (Auto-partition, a loaded plan). */
export function setLayout(
  d: DesignDoc,
  bounds: number[],
  machines: (Placement | null)[],
): DesignDoc {
  return { ...d, bounds: bounds.slice(), machines: machines.slice() };
}

/**
 * A plan's layout as the designer edits it: one layer range and one machine per stage, read from the
 * plan's chunks and replicas. A plan with more (several chunks or replicas in a stage) cannot be shown
 * as stage rows yet, and says so instead of losing them.
 */
export function layoutOfPlan(
  plan: PlanFile,
): { bounds: number[]; machines: Placement[] } | { problem: string } {
  for (const [k, st] of plan.stages.entries()) {
    if (st.chunks.length > 1)
      return {
        problem: `Stage ${k} of this plan holds ${st.chunks.length} layer ranges, which the designer cannot show yet.`,
      };
    if (st.replicas.length > 1)
      return {
        problem: `Stage ${k} of this plan runs on ${st.replicas.length} machines, which the designer cannot show yet.`,
      };
  }
  return {
    bounds: [0, ...plan.stages.map((st) => st.chunks[0]!.layers[1])],
    machines: plan.stages.map((st) => ({
      id: st.replicas[0]!.machineId,
      name: st.replicas[0]!.machineName,
    })),
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
