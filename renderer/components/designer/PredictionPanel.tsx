import { memo } from 'react';
import type { Prediction, TimelineBar } from '../../../native/api/designerSchemas.js';
import { stageColor } from '../../designer/stageColors.js';
import { formatRate, formatSeconds } from '../../designer/units.js';
import type { Problem } from '../../designer/validate.js';

const ROW = 16;
const WIDTH = 600;

const isAllReduce = (t: TimelineBar) => t.label === 'ALLREDUCE';

/** The chunk an interleaved action works on: "F3.1" is micro-batch 3 through chunk 1 (else 0). */
const chunkOfLabel = (label: string) => Number(/^[A-Z]+\d+\.(\d+)/.exec(label)?.[1] ?? 0);

/** "F3.1 (micro-batch 3, chunk 1)" for a chunk's action; other labels as they are. */
function describeLabel(label: string): string {
  const m = /^([A-Z_]+)(\d+)\.(\d+)/.exec(label);
  return m ? `${label} (micro-batch ${m[2]}, chunk ${m[3]})` : label;
}

/** "every 5 steps (local SGD)"; "every step (local SGD)" for H = 1. */
const localSgdWords = (h: number) => `every ${h === 1 ? 'step' : `${h} steps`} (local SGD)`;

/**
 * One simulated step: compute in the stage's colour (forward lighter, a zero-bubble schedule's weight
 * gradient W lighter still and outlined), waiting in grey, a replicated stage's all-reduce of its
 * gradients in the text colour (no stage has it, so it never reads as compute).
 */
function Timeline({ prediction }: { prediction: Prediction }) {
  const p = prediction.plan.stages.length;
  const step = prediction.plan.prediction.stepSeconds || 1;
  const x = (t: number) => (t / step) * WIDTH;
  // Transfers are shown by the receiver's wait; an all-reduce holds its stage up, so it is drawn.
  const bars = prediction.timeline.filter(
    (t) => (t.kind !== 'transfer' || isAllReduce(t)) && t.end > t.start,
  );
  const allReduces = bars.filter(isAllReduce);
  const chunks = prediction.plan.stages[0]?.chunks.length ?? 1;
  return (
    <>
      <svg
        className="designer-timeline"
        viewBox={`0 0 ${WIDTH} ${p * ROW}`}
        preserveAspectRatio="none"
        style={{ height: p * ROW + 4 }}
        role="img"
        aria-label={`Simulated timeline of one step: ${formatSeconds(step)}; grey is waiting${allReduces.length ? ', dark is the replicas’ all-reduce' : ''}${chunks > 1 ? `; each stage runs its ${chunks} chunks in turn, a later chunk's bars outlined dashed (F3.1 is micro-batch 3 through chunk 1)` : ''}`}
        data-testid="timeline"
      >
        {bars.map((t, i) =>
          isAllReduce(t) ? (
            <rect
              key={i}
              x={x(t.start)}
              y={t.stage * ROW + 2}
              width={Math.max(0.5, x(t.end) - x(t.start))}
              height={ROW - 4}
              className="timeline-allreduce"
              data-op="ALLREDUCE"
              data-stage={t.stage}
            >
              <title>{`stage ${t.stage + 1} all-reduce ${formatSeconds(t.end - t.start)}`}</title>
            </rect>
          ) : (
            <rect
              key={i}
              x={x(t.start)}
              y={t.stage * ROW + 2}
              width={Math.max(0.5, x(t.end) - x(t.start))}
              height={ROW - 4}
              fill={t.kind === 'wait' ? 'var(--muted)' : stageColor(t.stage)}
              opacity={
                t.kind === 'wait'
                  ? 0.25
                  : t.label.startsWith('F')
                    ? 0.6
                    : t.label.startsWith('W')
                      ? 0.4
                      : 1
              }
              stroke={
                t.label.startsWith('W') || chunkOfLabel(t.label) > 0
                  ? stageColor(t.stage)
                  : undefined
              }
              strokeWidth={t.label.startsWith('W') || chunkOfLabel(t.label) > 0 ? 0.5 : undefined}
              strokeDasharray={chunkOfLabel(t.label) > 0 ? '2 1' : undefined}
              data-label={t.label}
              data-stage={t.stage}
            >
              <title>{`stage ${t.stage + 1} ${describeLabel(t.label)} ${formatSeconds(t.end - t.start)}`}</title>
            </rect>
          ),
        )}
      </svg>
      {allReduces.length > 0 && (
        // Told in words below the drawing: its scale is stretched, so text in it would be too.
        <p className="timeline-legend" data-testid="timeline-allreduce">
          <span className="legend-swatch timeline-allreduce" aria-hidden="true" /> all-reduce:{' '}
          {allReduces
            .map((t) => `stage ${t.stage + 1} ${formatSeconds(t.end - t.start)}`)
            .join(', ')}{' '}
          a step
          {prediction.syncEvery === undefined
            ? ', before its optimizer step'
            : ` on average: the replicas average their weights ${localSgdWords(prediction.syncEvery)}`}
        </p>
      )}
    </>
  );
}

/**
 * Each stage's machines, and for a replicated stage how many replicas and its all-reduce: a step's, or
 * under local SGD one whole all-reduce and how often.
 */
function StageMachines({ prediction }: { prediction: Prediction }) {
  const { stages } = prediction.plan;
  const h = prediction.syncEvery;
  return (
    <ul className="prediction-stages" aria-label="Stages as predicted">
      {stages.map((st, k) => {
        const r = st.replicas.length;
        const ar = prediction.plan.prediction.stages[k]?.allReduceSeconds;
        return (
          <li key={k} data-testid={`predicted-stage-${k + 1}`} data-replicas={r}>
            <span className="stage-dot" style={{ background: stageColor(k) }} aria-hidden="true" />
            Stage {k + 1}: {st.replicas.map((x) => x.machineName).join(' + ')}
            {r > 1 && (
              <>
                {' '}
                <strong>× {r} replicas</strong>
                {ar !== undefined &&
                  // The plan's figure is per step; local SGD does the whole ring once every H steps.
                  (h === undefined
                    ? `, all-reduce ${formatSeconds(ar)} a step`
                    : `, all-reduce ${formatSeconds(ar * h)} ${localSgdWords(h)}`)}
              </>
            )}
          </li>
        );
      })}
    </ul>
  );
}

interface Props {
  prediction: Prediction | null;
  error: string | null;
  problems: Problem[];
}

/** What the layout will do: throughput, step, bubble and one step's timeline; and what is wrong with it. */
export const PredictionPanel = memo(function PredictionPanel({
  prediction,
  error,
  problems,
}: Props) {
  const pr = prediction?.plan.prediction;
  return (
    <section className="prediction-panel" aria-label="Prediction">
      <header className="panel-head">
        <h2>Prediction</h2>
      </header>
      {pr ? (
        <>
          <dl className="prediction-figures">
            <div>
              <dt>Throughput</dt>
              <dd data-testid="predicted-throughput">{formatRate(pr.samplesPerSecond)}</dd>
            </div>
            <div>
              <dt>Step</dt>
              <dd data-testid="predicted-step">{formatSeconds(pr.stepSeconds)}</dd>
            </div>
            <div>
              <dt>Bubble</dt>
              <dd data-testid="predicted-bubble">{(pr.bubble * 100).toFixed(0)} %</dd>
            </div>
            <div>
              <dt>Slowest stage</dt>
              <dd>{formatSeconds(pr.bottleneckSeconds)} / micro-batch</dd>
            </div>
          </dl>
          <StageMachines prediction={prediction} />
          <Timeline prediction={prediction} />
        </>
      ) : (
        <p className="muted" data-testid="no-prediction">
          {error ?? 'Place every stage on a machine to see the prediction.'}
        </p>
      )}
      {problems.length > 0 && (
        <ul className="problems" aria-label="Problems" data-testid="problems">
          {problems.map((p, i) => (
            <li key={i} data-code={p.code}>
              <strong>{p.message}</strong> {p.fix}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
});
