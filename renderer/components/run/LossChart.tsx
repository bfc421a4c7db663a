import { useMemo, useState } from 'react';
import { EmaCache } from '../../charts/ema.js';
import { SeriesChart, type ChartLine } from '../../charts/SeriesChart.js';
import type { RunData } from '../../runs/runData.js';

export type XMode = 'step' | 'relative' | 'wall';

export interface ChartRun {
  id: string;
  name: string;
  color: string;
  data: RunData;
  version: number;
}

/** One smoothing cache per run's loss column (a reloaded run is a new RunData, so a new cache). */
const emaCaches = new WeakMap<RunData, { cache: EmaCache; rewrites: number }>();
function smoothed(d: RunData, weight: number): Float64Array {
  let c = emaCaches.get(d);
  // A resumed run cut its columns back: what was averaged past the cut is no longer its data.
  if (!c || c.rewrites !== d.rewrites)
    emaCaches.set(d, (c = { cache: new EmaCache(), rewrites: d.rewrites }));
  return c.cache.update(d.loss.data, weight, d.loss.length);
}

function xColumn(d: RunData, mode: XMode): ArrayLike<number> {
  if (mode === 'step') return d.step.data;
  if (mode === 'relative') return d.elapsedMs.data;
  return d.wallT.data;
}

const FORMAT_X: Record<XMode, (x: number) => string> = {
  step: (x) => String(Math.round(x)),
  relative: (x) => {
    const s = x / 1000;
    return s < 120 ? `${s.toFixed(s < 10 ? 1 : 0)} s` : `${(s / 60).toFixed(1)} min`;
  },
  wall: (x) => new Date(x).toLocaleTimeString(),
};
export const formatX = (mode: XMode) => FORMAT_X[mode];

/**
 * Training loss per step (raw faint, TensorBoard-smoothed on top) and validation loss per epoch, for
 * one run or several overlaid. Smoothing, log scale and the x axis are the reader's choice.
 */
export function LossChart({ runs, height = 280 }: { runs: ChartRun[]; height?: number }) {
  const [smoothing, setSmoothing] = useState(0.6);
  const [logY, setLogY] = useState(false);
  const [xMode, setXMode] = useState<XMode>('step');
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  const versions = runs.map((r) => `${r.id}:${r.version}`).join(',');

  const lines = useMemo(() => {
    const out: ChartLine[] = [];
    const single = runs.length === 1;
    for (const r of runs) {
      const d = r.data;
      const xs = xColumn(d, xMode);
      const n = d.loss.length;
      if (smoothing > 0)
        out.push({
          key: `${r.id}-raw`,
          name: `${r.name} raw`,
          color: r.color,
          xs,
          ys: d.loss.data,
          n,
          opacity: 0.25,
          strokeWidth: 1,
          hover: single,
        });
      out.push({
        key: `${r.id}-loss`,
        name: single ? (smoothing > 0 ? 'training loss (smoothed)' : 'training loss') : r.name,
        color: r.color,
        xs,
        ys: smoothing > 0 ? smoothed(d, smoothing) : d.loss.data,
        n,
      });
      const v = d.validations;
      if (v.length)
        out.push({
          key: `${r.id}-val`,
          name: single ? 'validation loss' : `${r.name} validation`,
          color: single ? '#e15759' : r.color,
          xs: v.map((e) =>
            xMode === 'step' ? Math.max(0, e.step - 1) : xMode === 'relative' ? e.elapsedMs : e.t,
          ),
          ys: v.map((e) => e.loss),
          n: v.length,
          dots: true,
          strokeWidth: 1,
        });
    }
    return out;
    // The columns grow in place: the versions say when to rebuild.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [versions, smoothing, xMode]);

  const first = runs[0]?.data;
  const n = first?.loss.length ?? 0;
  return (
    <section className="panel chart-panel" aria-label="Loss">
      <div className="chart-head">
        <h3>Loss</h3>
        <label className="inline">
          Smoothing
          <input
            type="range"
            min={0}
            max={0.99}
            step={0.01}
            value={smoothing}
            onChange={(e) => setSmoothing(Number(e.target.value))}
            aria-label="smoothing"
          />
          <span className="num">{smoothing.toFixed(2)}</span>
        </label>
        <label className="inline">
          <input type="checkbox" checked={logY} onChange={(e) => setLogY(e.target.checked)} />
          log scale
        </label>
        <label className="inline">
          x axis
          <select
            value={xMode}
            onChange={(e) => {
              setXMode(e.target.value as XMode);
              setZoom(null);
            }}
          >
            <option value="step">step</option>
            <option value="relative">relative time</option>
            <option value="wall">wall time</option>
          </select>
        </label>
        {zoom && (
          <button type="button" className="secondary small" onClick={() => setZoom(null)}>
            Reset zoom
          </button>
        )}
      </div>
      <div
        data-testid="loss-chart"
        data-points={n}
        data-first-loss={n ? first!.loss.data[0] : ''}
        data-last-loss={n ? first!.loss.data[n - 1] : ''}
        data-runs={runs.length}
      >
        <SeriesChart
          lines={lines}
          height={height}
          logY={logY}
          formatX={formatX(xMode)}
          zoom={zoom}
          onZoom={setZoom}
          label="training and validation loss"
          markers={runs.flatMap((r) => {
            const at = (step: number, t: number) =>
              xMode === 'step' ? step : xMode === 'wall' ? t : t - (r.data.startedAt ?? t);
            return [
              ...r.data.resumptions.map((m) => ({
                x: at(m.fromStep, m.t),
                label: `${m.reason}; resumed from step ${m.fromStep}`,
              })),
              // Local SGD's outer steps: where the replicas' weights met, as ticks on the axis.
              ...r.data.outerSteps.map((o) => ({
                x: at(o.step, o.t),
                label: `outer step after step ${o.step}: the replicas averaged their weights (${o.ms.toFixed(0)} ms)`,
                kind: 'tick' as const,
              })),
            ];
          })}
        />
      </div>
      {runs.length > 1 && (
        <ul className="legend">
          {runs.map((r) => (
            <li key={r.id}>
              <span className="swatch" style={{ background: r.color }} />
              {r.name}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
