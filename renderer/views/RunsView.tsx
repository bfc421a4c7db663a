import { useEffect, useState } from 'react';
import type { PlanFile, RunSummary } from '../../native/api/types.js';
import { LossChart, type ChartRun } from '../components/run/LossChart.js';
import { RunPage } from '../components/run/RunPage.js';
import { StartRunDialog } from '../components/run/StartRunDialog.js';
import { StatusBadge } from '../components/run/StatusBadge.js';
import { readChosenFile } from '../host/files.js';
import { useApi } from '../hostContext.js';
import { duration } from '../runs/duration.js';
import '../runs/runs.css';
import { openRun, useNav } from '../store/navStore.js';
import { loadRun, runColor, runData, useRuns } from '../store/runsStore.js';

/** The Runs view: the history of runs, one run's page, or several runs' loss curves overlaid. */
export function RunsView() {
  const runId = useNav((s) => s.runId);
  if (runId) return <RunPage id={runId} />;
  return <RunsList />;
}

function RunsList() {
  const api = useApi();
  const runs = useRuns((s) => s.runs);
  const loaded = useRuns((s) => s.loaded);
  const [ticked, setTicked] = useState<string[]>([]);
  const [deleted, setDeleted] = useState<RunSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [plan, setPlan] = useState<PlanFile | null>(null);
  const list = Object.values(runs).sort((a, b) => b.startedAt - a.startedAt);
  const toggle = (id: string) =>
    setTicked((t) => (t.includes(id) ? t.filter((x) => x !== id) : [...t, id]));
  const remove = async (r: RunSummary) => {
    setError(null);
    try {
      await api.deleteRun({ id: r.id });
      setTicked((t) => t.filter((x) => x !== r.id));
      setDeleted(r);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const openPlanFile = async (file: File | undefined) => {
    if (!file) return;
    setError(null);
    try {
      setPlan((await api.openPlan(await readChosenFile(file))).plan);
    } catch (e) {
      setError(`Could not open ${file.name}: ${(e as Error).message}`);
    }
  };
  const undo = async () => {
    if (!deleted) return;
    try {
      await api.restoreRun({ id: deleted.id });
      setDeleted(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div className="view runs-view">
      <div className="view-head">
        <h1>Runs</h1>
        <p>
          Every run is recorded as it happens. Open one to watch it or look back; tick several to
          overlay their loss curves.
        </p>
        <label className="file-button">
          Start from a plan file…
          <input
            type="file"
            accept=".json,application/json"
            data-testid="plan-file"
            className="visually-hidden"
            onChange={(e) => {
              void openPlanFile(e.target.files?.[0]);
              e.target.value = '';
            }}
          />
        </label>
      </div>
      {plan && <StartRunDialog plan={plan} onClose={() => setPlan(null)} />}
      {deleted && (
        <div className="banner undo" role="status">
          Deleted “{deleted.name}”.{' '}
          <button type="button" className="small" onClick={undo}>
            Undo
          </button>
        </div>
      )}
      {error && (
        <p className="error-text" role="alert">
          {error}
        </p>
      )}
      {loaded && list.length === 0 && (
        <p className="muted">No runs yet: lay out a model in the Designer and start one.</p>
      )}
      {list.length > 0 && (
        <table className="runs-table">
          <thead>
            <tr>
              <th scope="col">
                <span className="visually-hidden">Overlay</span>
              </th>
              <th scope="col">Name</th>
              <th scope="col">Model</th>
              <th scope="col">Machines</th>
              <th scope="col">Status</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
              <th scope="col">Final loss</th>
              <th scope="col">Accuracy</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((r) => (
              <tr key={r.id} data-testid="run-row" data-run-id={r.id}>
                <td>
                  <input
                    type="checkbox"
                    aria-label={`overlay ${r.name}`}
                    checked={ticked.includes(r.id)}
                    onChange={() => toggle(r.id)}
                  />
                </td>
                <td>
                  <span className="swatch" style={{ background: runColor(r.id) }} />
                  <button type="button" className="link-button" onClick={() => openRun(r.id)}>
                    {r.name}
                  </button>
                </td>
                <td>{r.model}</td>
                <td>{r.machines.join(', ')}</td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>{new Date(r.startedAt).toLocaleString()}</td>
                <td>{duration(r.durationMs)}</td>
                <td className="num">{r.finalLoss === null ? '–' : r.finalLoss.toFixed(4)}</td>
                <td className="num">
                  {r.finalAccuracy === null ? '–' : `${(r.finalAccuracy * 100).toFixed(2)}%`}
                </td>
                <td>
                  <button
                    type="button"
                    className="secondary small"
                    aria-label={`delete ${r.name}`}
                    disabled={r.status === 'running' || r.status === 'starting'}
                    onClick={() => void remove(r)}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {ticked.length > 0 && <Overlay ids={ticked} />}
    </div>
  );
}

function Overlay({ ids }: { ids: string[] }) {
  const api = useApi();
  const runs = useRuns((s) => s.runs);
  const versions = useRuns((s) => s.versions);
  useEffect(() => {
    for (const id of ids) void loadRun(api, id).catch(() => {});
  }, [api, ids]);
  const chartRuns: ChartRun[] = ids.flatMap((id) => {
    const d = runData(id);
    const s = runs[id];
    return d && s
      ? [{ id, name: s.name, color: runColor(id), data: d, version: versions[id] ?? 0 }]
      : [];
  });
  return (
    <div data-testid="overlay">
      <LossChart runs={chartRuns} />
    </div>
  );
}
