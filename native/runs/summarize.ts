import type { RunRecord, RunSummary } from './runSchemas.js';

/**
 * Folds a run's records into what the list shows. The list is always derived from the file, so a run
 * read after a crash summarises exactly as it did live.
 */
export function applyRecord(s: RunSummary | null, r: RunRecord): RunSummary | null {
  if (r.kind === 'meta')
    return {
      id: r.id,
      name: r.settings.name,
      model: r.plan.model.name,
      machines: r.machines,
      driver: r.driver ?? null,
      status: 'starting',
      message: null,
      startedAt: r.t,
      endedAt: null,
      durationMs: 0,
      steps: 0,
      totalSteps: null,
      finalLoss: null,
      finalAccuracy: null,
      hasModel: false,
    };
  if (!s) return null;
  const next: RunSummary = { ...s };
  if (next.endedAt === null) next.durationMs = Math.max(0, r.t - next.startedAt);
  if (r.kind === 'model') next.hasModel = true;
  else if (r.kind === 'end') {
    next.status = r.status;
    next.message = r.message;
    next.endedAt = r.t;
    next.durationMs = Math.max(0, r.t - next.startedAt);
  } else {
    const e = r.event;
    if (e.type === 'started') {
      next.status = 'running';
      next.totalSteps = e.totalSteps;
    } else if (e.type === 'step') {
      next.steps = e.step + 1;
      if (e.loss !== null && Number.isFinite(e.loss)) next.finalLoss = e.loss;
    } else if (e.type === 'validation') {
      if (e.accuracy !== null) next.finalAccuracy = e.accuracy;
    } else if (e.type === 'resumed') {
      next.status = 'running';
      // A run that had ended (failed, interrupted) and was resumed later is live again.
      next.endedAt = null;
      next.message = null;
      // Another agent took the run over: it drives the run from here on.
      if (e.driver) next.driver = e.driver;
    } else if (e.type === 'failed') next.message = e.message;
  }
  return next;
}

export function summarize(records: RunRecord[]): RunSummary | null {
  let s: RunSummary | null = null;
  for (const r of records) s = applyRecord(s, r);
  return s;
}

export const isLive = (s: RunSummary) => s.status === 'starting' || s.status === 'running';
