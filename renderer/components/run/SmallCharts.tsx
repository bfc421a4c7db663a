import { useMemo, useState } from 'react';
import { SeriesChart, type ChartLine } from '../../charts/SeriesChart.js';
import type { RunData } from '../../runs/runData.js';

const epochTick = (x: number) => (Number.isInteger(x) ? `epoch ${x}` : '');
const stepTick = (x: number) => `step ${Math.round(x)}`;

/** Validation accuracy per epoch. */
export function AccuracyChart({ data, version }: { data: RunData; version: number }) {
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  const lines = useMemo<ChartLine[]>(() => {
    const v = data.validations;
    return [
      {
        key: 'acc',
        name: 'accuracy',
        color: '#59a14f',
        xs: v.map((e) => e.epoch + 1),
        ys: v.map((e) => e.accuracy * 100),
        n: v.length,
        dots: true,
      },
    ];
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, version]);
  const last = data.validations.at(-1);
  return (
    <section className="panel chart-panel" aria-label="Accuracy">
      <div className="chart-head">
        <h3>Accuracy</h3>
        <span className="muted" data-testid="test-accuracy">
          {!last
            ? 'measured at the end of each epoch'
            : Number.isFinite(last.accuracy)
              ? `test accuracy ${(last.accuracy * 100).toFixed(2)}% after epoch ${last.epoch + 1}`
              : "none: the model's loss (mean squared error) is a regression"}
        </span>
      </div>
      <SeriesChart
        lines={lines}
        height={160}
        formatX={epochTick}
        formatY={(y) => `${y.toFixed(2)}%`}
        zoom={zoom}
        onZoom={setZoom}
        label="validation accuracy per epoch"
      />
    </section>
  );
}

/**
 * Samples per second over the last RATE_WINDOW steps. Step events reach the coordinator in bursts, so
 * the per-step rate spikes wherever two arrive together; a window over elapsed time does not.
 */
const RATE_WINDOW = 10;
function windowedRate(data: RunData, n: number): Float64Array {
  const batch = data.plan?.batch ?? 0;
  const out = new Float64Array(n);
  const el = data.elapsedMs.data;
  const step = data.step.data;
  for (let i = 0; i < n; i++) {
    const j = Math.max(0, i - RATE_WINDOW);
    const dt = j === i ? el[i]! : el[i]! - el[j]!;
    const steps = j === i ? step[i]! + 1 : step[i]! - step[j]!;
    out[i] = dt > 0 && batch ? (steps * batch * 1000) / dt : data.samplesPerSecond.data[i]!;
  }
  return out;
}

/**
 * The measured rate against the plan's prediction, in words, when they are more than 10% apart
 * (steady state: the windowed rate of the newest step, once a few windows have passed), and where
 * the difference lies: in a stage's own work (its busy time against what the plan gave it) or
 * between the stages (the step beyond their work).
 */
export function predictionGap(data: RunData, rates: Float64Array, n: number): string | null {
  const predicted = data.plan?.prediction.samplesPerSecond;
  if (!predicted || n < 2 * RATE_WINDOW) return null;
  const measured = rates[n - 1]!;
  const ratio = measured / predicted;
  if (!Number.isFinite(ratio) || Math.abs(ratio - 1) <= 0.1) return null;
  const pct = Math.round(Math.abs(ratio - 1) * 100);
  const head = `measured ${measured.toFixed(0)} samples/s, ${pct}% ${ratio < 1 ? 'below' : 'above'} the prediction`;
  const cause = gapCause(data, ratio);
  if (cause) return `${head}: ${cause}`;
  return ratio < 1
    ? `${head}: the cost model misses costs this run has (fixed per-message and per-action time weigh most on small micro-batches)`
    : `${head}: the machines ran faster than their measured speed`;
}

/**
 * Where a gap lies, from the stages' busy time in the newest steps against the plan's per-stage
 * prediction (null where the run does not say: no step yet, or stages the plan does not list one
 * for one, as an interleaved stage's chunks).
 */
function gapCause(data: RunData, ratio: number): string | null {
  const plan = data.plan;
  const busy = data.recentBusyMs();
  if (!plan || !busy) return null;
  const predicted = plan.prediction.stages.map((s) => s.busySeconds * 1000);
  if (busy.length !== predicted.length) return null;
  // The stage furthest from its prediction, in the gap's direction.
  let k = 0;
  const off = (j: number) => busy[j]! / Math.max(1e-9, predicted[j]!);
  for (let j = 1; j < busy.length; j++) if (ratio < 1 ? off(j) > off(k) : off(j) < off(k)) k = j;
  const work = off(k);
  const node = data.stages.find((s) => s.index === k)?.node;
  const stage = `stage ${k}${node ? ` (${node})` : ''}`;
  const workPct = Math.round(Math.abs(work - 1) * 100);
  const ms = (x: number) => `${x < 10 ? x.toFixed(1) : x.toFixed(0)} ms`;
  const stepMs = plan.prediction.stepSeconds * 1000;
  if (ratio < 1) {
    // The step grew by 1/ratio − 1; the stage's work explains it when it grew at least half as much.
    if (work - 1 >= (1 / ratio - 1) / 2)
      return `${stage} computed ${workPct}% slower than its machine's measured speed predicts (${ms(busy[k]!)} of work a step, predicted ${ms(predicted[k]!)}): the machine is busier than when it measured its speed, or its cores are shared with other stages or programs`;
    const waited = stepMs / ratio - stepMs;
    return `the stages computed within ${workPct}% of the prediction (${stage}: ${ms(busy[k]!)} a step, predicted ${ms(predicted[k]!)}); the other ${ms(waited)} a step went between them: messages took longer than the links' measured latency, or the stages' processes competed for the same cores`;
  }
  if (1 - work >= (1 - 1 / ratio) / 2)
    return `${stage} computed ${workPct}% faster than its machine's measured speed predicts (${ms(busy[k]!)} of work a step, predicted ${ms(predicted[k]!)}): the machine was busier when it measured its speed`;
  return null;
}

/** Samples per second by step. */
export function ThroughputChart({ data, version }: { data: RunData; version: number }) {
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  const lines = useMemo<ChartLine[]>(() => {
    const n = data.samplesPerSecond.length;
    return [
      {
        key: 'sps',
        name: 'samples/s',
        color: '#4e79a7',
        xs: data.step.data,
        ys: windowedRate(data, n),
        n,
      },
    ];
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, version]);
  const gap = predictionGap(data, lines[0]!.ys as Float64Array, lines[0]!.n);
  return (
    <section className="panel chart-panel" aria-label="Throughput">
      <div className="chart-head">
        <h3>Throughput</h3>
        <span className="muted">
          samples/s
          {data.plan ? `, predicted ${data.plan.prediction.samplesPerSecond.toFixed(0)}` : ''}
        </span>
      </div>
      <SeriesChart
        lines={lines}
        height={160}
        formatX={stepTick}
        formatY={(y) => y.toFixed(0)}
        zoom={zoom}
        onZoom={setZoom}
        label="throughput in samples per second"
      />
      {gap && (
        <p className="muted small" data-testid="prediction-gap">
          {gap}
        </p>
      )}
    </section>
  );
}
