import { useEffect, useState } from 'react';
import { useApi } from '../../hostContext.js';
import { duration } from '../../runs/duration.js';
import { loadPlan } from '../../store/designerStore.js';
import { navigate, openRun, useNav } from '../../store/navStore.js';
import { loadRun, runColor, runData, useRuns } from '../../store/runsStore.js';
import { ExportButton } from './ExportButton.js';
import { LogPanel } from './LogPanel.js';
import { LossChart } from './LossChart.js';
import { MachineFigures } from './MachineFigures.js';
import { ProgressBar } from './ProgressBar.js';
import { AccuracyChart, ThroughputChart } from './SmallCharts.js';
import { StatusBadge } from './StatusBadge.js';
import { Timeline } from './Timeline.js';

/** One run: live while it trains, the same page from its file afterwards. */
export function RunPage({ id }: { id: string }) {
  const api = useApi();
  const summary = useRuns((s) => s.runs[id]);
  const version = useRuns((s) => s.versions[id] ?? 0);
  const [error, setError] = useState<string | null>(null);
  const [confirmStop, setConfirmStop] = useState(false);
  const [replanNote, setReplanNote] = useState<string | null>(null);
  useEffect(() => {
    loadRun(api, id).catch((e: Error) => setError(e.message));
  }, [api, id]);
  const data = runData(id);
  if (error) return <p className="error-text">Could not open the run: {error}</p>;
  if (!summary || !data) return <p className="muted">Loading the run…</p>;
  const live = summary.status === 'running' || summary.status === 'starting';
  const stop = async () => {
    setConfirmStop(false);
    try {
      await api.stopRun({ id });
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const resumable = summary.status === 'failed' || summary.status === 'interrupted';
  const resume = async () => {
    setError(null);
    try {
      await api.resumeRun({ id });
    } catch (e) {
      setReplanNote((e as Error).message);
    }
  };
  const replan = async () => {
    try {
      setReplanNote((await api.replanRun({ id })).message);
    } catch (e) {
      setReplanNote((e as Error).message);
    }
  };
  return (
    <div className="run-page" data-testid="run-page" data-status={summary.status}>
      <div className="view-head run-head">
        <button type="button" className="secondary small" onClick={() => openRun(null)}>
          ← Runs
        </button>
        <h1>{summary.name}</h1>
        <StatusBadge status={summary.status} />
        <span className="muted">
          {summary.model} on {summary.machines.join(', ')}
          {summary.driver ? ` · driven by ${summary.driver.name}` : ''} ·{' '}
          {duration(summary.durationMs)}
        </span>
        <div className="spacer" />
        {live &&
          (confirmStop ? (
            <span role="alertdialog" aria-label="Confirm stop" className="confirm">
              Stop every stage of this run?{' '}
              <button type="button" className="danger small" onClick={stop}>
                Stop run
              </button>{' '}
              <button
                type="button"
                className="secondary small"
                onClick={() => setConfirmStop(false)}
              >
                Keep running
              </button>
            </span>
          ) : (
            <button type="button" className="danger small" onClick={() => setConfirmStop(true)}>
              Stop…
            </button>
          ))}
        {resumable && (
          <button
            type="button"
            className="secondary small"
            title="Go on from the newest checkpoint its driver kept, on the machines online now"
            onClick={() => void resume()}
          >
            Resume
          </button>
        )}
        {live && (
          <button
            type="button"
            className="secondary small"
            title="Plan the run again over the machines online now; it moves at its next checkpoint"
            onClick={() => void replan()}
          >
            Re-plan
          </button>
        )}
        {data.plan && (
          <button
            type="button"
            className="secondary small"
            onClick={() => {
              loadPlan(data.plan!);
              useNav.setState({ rerun: data.settings });
              navigate('Designer');
            }}
          >
            Run again
          </button>
        )}
        <ExportButton id={id} hasModel={summary.hasModel} name={summary.name} />
      </div>
      {replanNote && (
        <p className="muted" role="status" data-testid="replan-note">
          {replanNote}
        </p>
      )}
      {summary.message && summary.status !== 'completed' && (
        <p className="error-text" role="alert">
          {summary.message}
        </p>
      )}
      <ProgressBar data={data} live={live} />
      <LossChart runs={[{ id, name: summary.name, color: runColor(id), data, version }]} />
      <div className="run-grid">
        <AccuracyChart data={data} version={version} />
        <ThroughputChart data={data} version={version} />
      </div>
      <Timeline data={data} />
      <MachineFigures stages={data.stages} live={live} />
      <LogPanel data={data} version={version} />
    </div>
  );
}
