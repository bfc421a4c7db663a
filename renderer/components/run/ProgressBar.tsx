import { duration } from '../../runs/duration.js';
import type { RunData } from '../../runs/runData.js';

/** Epoch, step, elapsed and ETA (from the mean rate of the last steps). */
export function ProgressBar({ data, live }: { data: RunData; live: boolean }) {
  const total = data.totalSteps;
  const done = data.step.length ? data.step.data[data.step.length - 1]! + 1 : 0;
  const frac = total ? Math.min(1, done / total) : 0;
  const n = data.elapsedMs.length;
  const elapsed = n ? data.elapsedMs.data[n - 1]! : 0;
  const window = Math.min(n, 50);
  const rateMsPerStep =
    window > 1
      ? (data.elapsedMs.data[n - 1]! - data.elapsedMs.data[n - window]!) / (window - 1)
      : NaN;
  const eta = total && Number.isFinite(rateMsPerStep) ? (total - done) * rateMsPerStep : NaN;
  const epochs = total && data.stepsPerEpoch ? Math.ceil(total / data.stepsPerEpoch) : null;
  const epoch = data.stepsPerEpoch
    ? Math.min(Math.floor(Math.max(0, done - 1) / data.stepsPerEpoch) + 1, epochs ?? Infinity)
    : 1;
  return (
    <div className="run-progress">
      <div
        className="progress-track"
        role="progressbar"
        aria-label="run progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={Math.round(frac * 100)}
      >
        <div className="progress-fill" style={{ width: `${frac * 100}%` }} />
      </div>
      <div className="progress-facts">
        <span>
          epoch {epoch}
          {epochs ? `/${epochs}` : ''}
        </span>
        <span>
          step {done}
          {total ? `/${total}` : ''}
        </span>
        <span data-testid="progress-percent">{Math.round(frac * 100)}%</span>
        <span>elapsed {duration(elapsed)}</span>
        {live && <span>ETA {Number.isFinite(eta) ? duration(eta) : '…'}</span>}
      </div>
    </div>
  );
}
