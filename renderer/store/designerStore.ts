import { useStore } from 'zustand';
import { createStore } from 'zustand/vanilla';
import type {
  DesignerModel,
  LayoutSettings,
  PlanFile,
  Prediction,
  SavedPlan,
} from '../../native/api/designerSchemas.js';
import type { PipefitterApi, RunSettings } from '../../native/api/types.js';
import type { Sync } from '../../native/common/schemas.js';
import {
  boundsToPredict,
  commit,
  historyOf,
  layoutOfPlan,
  newDoc,
  redo as redoStep,
  setLayout,
  setSettings,
  stageMachineIds,
  stageMachines,
  undo as undoStep,
  type DesignDoc,
  type History,
} from '../designer/planModel.js';
import { validate, type MachineStatus, type Problem } from '../designer/validate.js';
import { readChosenFile } from '../host/files.js';
import { clusterStore } from './clusterStore.js';
import { useNav } from './navStore.js';

export interface AutoResult {
  /** Samples/s of the user's layout before, null when it could not be predicted. */
  before: number | null;
  after: number;
  preset: LayoutSettings['preset'];
}

export interface DesignerState {
  models: DesignerModel[];
  model: DesignerModel | null;
  history: History<DesignDoc>;
  /** The last prediction, and the document it was made for (stale while a newer one is computed). */
  prediction: Prediction | null;
  predictedDoc: DesignDoc | null;
  predictionError: string | null;
  importError: string | null;
  auto: AutoResult | null;
  autoError: string | null;
  /** A note about the last loaded plan ("imported model needed…"). */
  planNote: string | null;
  saved: SavedPlan[];
  problems: Problem[];
  /** The current layout in the plan-file format, or null while it does not validate. */
  plan: PlanFile | null;
}

const initial: DesignerState = {
  models: [],
  model: null,
  history: historyOf(newDoc(0)),
  prediction: null,
  predictedDoc: null,
  predictionError: null,
  importError: null,
  auto: null,
  autoError: null,
  planNote: null,
  saved: [],
  problems: [],
  plan: null,
};

export const designerStore = createStore<DesignerState>(() => ({ ...initial }));

export function useDesigner<T>(selector: (s: DesignerState) => T): T {
  return useStore(designerStore, selector);
}

let api: PipefitterApi | null = null;
let seq = 0;
/** A plan handed over before the catalogue arrived (Run again before the designer was opened). */
let pendingPlan: PlanFile | null = null;

/** The machines as validation sees them, from the Cluster view's store. */
export function machineStatuses(): Map<string, MachineStatus> {
  const out = new Map<string, MachineStatus>();
  for (const n of Object.values(clusterStore.getState().nodes))
    out.set(n.id, {
      name: n.name,
      state: n.state,
      measured: (n.speed ?? n.inventory?.speed) != null,
    });
  return out;
}

/** Re-validates; the plan is exposed only when nothing is wrong and the prediction is current. */
function revalidate(): void {
  const s = designerStore.getState();
  const doc = s.history.present;
  const current = s.predictedDoc === doc ? s.prediction : null;
  const problems = validate(
    doc,
    machineStatuses(),
    current?.machines ?? null,
    current?.plan ?? null,
  );
  const plan = problems.length === 0 && current ? current.plan : null;
  // The same problems keep their array, so panels memoised on them do not render again.
  const same = JSON.stringify(problems) === JSON.stringify(s.problems);
  if (same && plan === s.plan) return;
  designerStore.setState({ problems: same ? s.problems : problems, plan });
}

/** Asks the engine for the prediction of the current document (not debounced: it takes a few ms). */
async function predict(doc = designerStore.getState().history.present): Promise<void> {
  const model = designerStore.getState().model;
  const id = ++seq;
  // Per stage its machine's id, or its replicas' ids (the engine costs those as one faster stage).
  const ids = doc.machines.map((_, k) => stageMachineIds(doc, k));
  const statuses = machineStatuses();
  const ready =
    model &&
    doc.layerCount > 0 &&
    doc.settings.batch % doc.settings.microbatches === 0 &&
    ids.every((x) => x !== null) &&
    doc.machines.every((_, k) =>
      stageMachines(doc, k).every(
        (m) => statuses.get(m.id)?.state === 'online' && statuses.get(m.id)!.measured,
      ),
    );
  if (!api || !ready) {
    designerStore.setState({ prediction: null, predictedDoc: null, predictionError: null });
    revalidate();
    return;
  }
  const sent = performance.now();
  try {
    const prediction = await api.predictLayout({
      model: model.ref,
      settings: doc.settings,
      bounds: boundsToPredict(doc),
      machineIds: ids as (string | string[])[],
    });
    if (id !== seq) return;
    // The engine's round trip, apart from rendering (the designer bench reads it).
    performance.measure('pf:predict', { start: sent, end: performance.now() });
    designerStore.setState({
      prediction,
      predictedDoc: doc,
      predictionError: null,
    });
  } catch (err) {
    if (id !== seq) return;
    designerStore.setState({
      prediction: null,
      predictedDoc: null,
      predictionError: (err as Error).message,
    });
  }
  revalidate();
}

function setHistory(history: History<DesignDoc>): void {
  if (history === designerStore.getState().history) return;
  // The request leaves before React renders the edit, so the engine computes while the page paints.
  const pending = predict(history.present);
  designerStore.setState({ history });
  revalidate();
  void pending;
}

/** Applies one edit to the document as an undoable step. */
export function edit(fn: (d: DesignDoc) => DesignDoc): void {
  const h = designerStore.getState().history;
  setHistory(commit(h, fn(h.present)));
}

export const undo = () => setHistory(undoStep(designerStore.getState().history));
export const redo = () => setHistory(redoStep(designerStore.getState().history));

/** Connects the store to the API once, loads the catalogue and saved plans, follows machine changes. */
export function attachDesigner(a: PipefitterApi): void {
  if (api === a) return;
  api = a;
  void a.designerModels({}).then(({ models }) => {
    designerStore.setState({ models });
    const p = pendingPlan;
    pendingPlan = null;
    if (p) loadPlan(p);
  });
  void refreshSaved();
  // Run again may have been pressed before the designer was first opened.
  followRerun(useNav.getState().rerun);
  useNav.subscribe((n, prev) => {
    if (n.rerun !== prev.rerun) followRerun(n.rerun);
  });
  // Validation depends on which machines are online and measured, not on their live load.
  let key = '';
  clusterStore.subscribe((c) => {
    const next = Object.values(c.nodes)
      .map((n) => `${n.id}:${n.state}:${(n.speed ?? n.inventory?.speed) != null}`)
      .join('|');
    if (next === key) return;
    key = next;
    void predict();
  });
}

export function chooseModel(model: DesignerModel): void {
  const s = designerStore.getState();
  designerStore.setState({ model, importError: null, auto: null, planNote: null });
  // A new model starts a fresh document (and history): stage bounds of another model mean nothing.
  designerStore.setState({
    history: historyOf(newDoc(model.layers.length, s.history.present.settings)),
  });
  revalidate();
  void predict();
}

export async function importModelFile(file: File): Promise<void> {
  if (!api) return;
  try {
    const { model } = await api.importModel(await readChosenFile(file));
    chooseModel(model);
  } catch (err) {
    designerStore.setState({ importError: `${file.name}: ${(err as Error).message}` });
  }
}

export async function autoPartition(machineIds: string[]): Promise<void> {
  const s = designerStore.getState();
  if (!api || !s.model) return;
  const doc = s.history.present;
  const before =
    s.predictedDoc === doc ? (s.prediction?.plan.prediction.samplesPerSecond ?? null) : null;
  try {
    const p = await api.autoPartition({ model: s.model.ref, settings: doc.settings, machineIds });
    const layout = layoutOfPlan(p.plan);
    if ('problem' in layout) throw new Error(layout.problem);
    designerStore.setState({
      auto: { before, after: p.plan.prediction.samplesPerSecond, preset: doc.settings.preset },
      autoError: null,
    });
    edit((d) => setLayout(d, layout));
  } catch (err) {
    designerStore.setState({ autoError: (err as Error).message, auto: null });
  }
}

/** Opens a plan file in the designer (the Runs view calls this for "Run again"); undoable. */
export function loadPlan(plan: PlanFile): void {
  const s = designerStore.getState();
  if (s.models.length === 0) {
    pendingPlan = plan;
    return;
  }
  let model = s.model?.id === plan.model.id ? s.model : null;
  if (!model && plan.model.source === 'catalogue')
    model = s.models.find((m) => m.id === plan.model.id) ?? null;
  if (!model || model.layers.length !== plan.model.layers) {
    designerStore.setState({
      planNote:
        plan.model.source === 'file'
          ? `This plan is for the imported model ${plan.model.name} (${plan.model.path ?? plan.model.id}): import that model.json, then open the plan again.`
          : `This plan is for model ${plan.model.id}, which this Pipefitter does not have.`,
    });
    return;
  }
  const layout = layoutOfPlan(plan);
  if ('problem' in layout) {
    designerStore.setState({ planNote: layout.problem });
    return;
  }
  if (model !== s.model)
    designerStore.setState({ model, history: historyOf(newDoc(model.layers.length)) });
  designerStore.setState({ planNote: null, auto: null });
  edit(() => ({
    layerCount: plan.model.layers,
    bounds: layout.bounds,
    machines: layout.machines,
    replicas: layout.replicas,
    ...(layout.chunkBounds ? { chunkBounds: layout.chunkBounds } : {}),
    settings: {
      batch: plan.batch,
      microbatches: plan.microbatches,
      schedule: plan.schedule,
      optimizer: plan.optimizer,
      preset: plan.preset,
      // The chunks a stage holds are the plan's (the designer's choice otherwise stays).
      ...(plan.stages[0]!.chunks.length > 1
        ? { chunks: plan.stages[0]!.chunks.length }
        : s.history.present.settings.chunks !== undefined
          ? { chunks: s.history.present.settings.chunks }
          : {}),
      // A plan file does not say how its replicas sync (a run's settings do): the choice stays.
      ...(s.history.present.settings.sync ? { sync: s.history.present.settings.sync } : {}),
    },
  }));
}

/**
 * How a run of `plan` syncs its replicas when it is the designer's current plan (Start run in the
 * designer): the designer's choice; null for any other plan.
 */
export function syncOfPlan(plan: PlanFile): Sync | null {
  const s = designerStore.getState();
  if (s.plan !== plan) return null;
  return s.history.present.settings.sync ?? { kind: 'every-step' };
}

/** Local SGD's settings, or null for every step, so two ways of saying every step compare equal. */
const localOf = (sync: Sync | undefined) => (sync?.kind === 'local' ? sync : null);

/**
 * "Run again" hands the earlier run's settings over with its plan: the designer takes its replicas
 * sync too (a plan file does not say it), so the prediction and the next run match that run.
 */
function followRerun(rerun: RunSettings | null): void {
  if (!rerun) return;
  const want = localOf(rerun.sync);
  const have = localOf(designerStore.getState().history.present.settings.sync);
  if (JSON.stringify(want) === JSON.stringify(have)) return;
  edit((d) => setSettings(d, { sync: want ?? { kind: 'every-step' } }));
}

export async function refreshSaved(): Promise<void> {
  if (!api) return;
  try {
    designerStore.setState({ saved: (await api.listPlans({})).plans });
  } catch {
    // listed again after the next save
  }
}

export async function savePlan(name: string): Promise<string> {
  const { plan } = designerStore.getState();
  if (!api || !plan) throw new Error('the plan does not validate yet');
  const r = await api.savePlan({ name, plan });
  await refreshSaved();
  return r.path;
}

export async function openSavedPlan(name: string): Promise<void> {
  if (!api) return;
  try {
    loadPlan((await api.openPlan({ name })).plan);
  } catch (err) {
    designerStore.setState({ planNote: (err as Error).message });
  }
}

export async function openPlanFile(file: File): Promise<void> {
  if (!api) return;
  try {
    loadPlan((await api.openPlan(await readChosenFile(file))).plan);
  } catch (err) {
    designerStore.setState({ planNote: (err as Error).message });
  }
}
