import { useMemo, useState } from 'react';
import { debiasedEma } from '../../charts/ema.js';
import { SeriesChart, type ChartLine } from '../../charts/SeriesChart.js';
import type { RunData } from '../../runs/runData.js';

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
          {last
            ? `test accuracy ${(last.accuracy * 100).toFixed(2)}% after epoch ${last.epoch + 1}`
            : 'measured at the end of each epoch'}
        </span>
      </div>
      <SeriesChart
        lines={lines}
        height={160}
        formatX={(x) => `epoch ${Math.round(x)}`}
        formatY={(y) => `${y.toFixed(2)}%`}
        zoom={zoom}
        onZoom={setZoom}
        label="validation accuracy per epoch"
      />
    </section>
  );
}

/** Samples per second by step (smoothed: single steps are noisy). */
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
        ys: debiasedEma(data.samplesPerSecond.data, 0.8, n),
        n,
      },
    ];
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [data, version]);
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
        formatX={(x) => `step ${Math.round(x)}`}
        formatY={(y) => y.toFixed(0)}
        zoom={zoom}
        onZoom={setZoom}
        label="throughput in samples per second"
      />
    </section>
  );
}
