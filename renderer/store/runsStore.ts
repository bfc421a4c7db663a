import { create } from 'zustand';
import type { Host, PipefitterApi, RunSummary } from '../../native/api/types.js';
import { RunData } from '../runs/runData.js';

interface RunsState {
  runs: Record<string, RunSummary>;
  loaded: boolean;
  /** Bumped per run when its data grows; views subscribe to their run's number only. */
  versions: Record<string, number>;
}

export const useRuns = create<RunsState>(() => ({ runs: {}, loaded: false, versions: {} }));

/** Full series live here, outside React and outside the store's state (they are large and mutable). */
const data = new Map<string, RunData>();
const loading = new Map<string, Promise<RunData>>();

export const runData = (id: string): RunData | undefined => data.get(id);

const bump = (ids: Iterable<string>) =>
  useRuns.setState((s) => {
    const versions = { ...s.versions };
    for (const id of ids) versions[id] = (versions[id] ?? 0) + 1;
    return { versions };
  });

/** Loads a run's records once (then live events keep it current). */
export function loadRun(api: PipefitterApi, id: string, force = false): Promise<RunData> {
  const have = data.get(id);
  if (have && !force) return Promise.resolve(have);
  let p = loading.get(id);
  if (p && !force) return p;
  p = api.getRun({ id }).then(({ run, records }) => {
    const d = new RunData();
    d.add(records);
    data.set(id, d);
    loading.delete(id);
    useRuns.setState((s) => ({ runs: { ...s.runs, [id]: run } }));
    bump([id]);
    return d;
  });
  p.catch(() => loading.delete(id));
  loading.set(id, p);
  return p;
}

/** Feeds the runs store from a host: the list on every (re)connect, records and summaries as they come. */
export function connectRuns(host: Host): () => void {
  const offEvents = host.onEvents((batch) => {
    const touched = new Set<string>();
    let runs: Record<string, RunSummary> | null = null;
    for (const e of batch.events) {
      if (e.type === 'runRecord') {
        let d = data.get(e.runId);
        // A run started while we watch: its first record is the meta, so it can be followed live.
        if (!d && e.record.seq === 0 && !loading.has(e.runId)) {
          d = new RunData();
          data.set(e.runId, d);
        }
        if (!d) continue;
        if (!d.add([e.record])) void loadRun(host.api, e.runId, true);
        touched.add(e.runId);
      } else if (e.type === 'runSummary') {
        runs ??= { ...useRuns.getState().runs };
        runs[e.run.id] = e.run;
      } else if (e.type === 'runRemoved') {
        runs ??= { ...useRuns.getState().runs };
        delete runs[e.id];
        data.delete(e.id);
      }
    }
    if (runs) useRuns.setState({ runs });
    if (touched.size) bump(touched);
  });
  const load = async () => {
    try {
      const { runs } = await host.api.listRuns({});
      useRuns.setState({ runs: Object.fromEntries(runs.map((r) => [r.id, r])), loaded: true });
      // Records may have been missed while disconnected: reload what we had.
      for (const id of [...data.keys()]) void loadRun(host.api, id, true).catch(() => {});
    } catch {
      // Disconnected: the next 'open' loads again.
    }
  };
  const offConn = host.onConnection((c) => {
    if (c === 'open') void load();
  });
  return () => {
    offEvents();
    offConn();
  };
}

/** A stable colour per run, so a run keeps its colour in every overlay. */
const RUN_PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#e15759',
  '#76b7b2',
  '#59a14f',
  '#edc948',
  '#b07aa1',
  '#ff9da7',
  '#9c755f',
  '#bab0ac',
];
export function runColor(id: string): string {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
  return RUN_PALETTE[(h >>> 0) % RUN_PALETTE.length]!;
}
