import { isComputeOp } from '../../../native/common/names.js';
import { stageColor } from '../../designer/stageColors.js';
import type { RunData } from '../../runs/runData.js';

const ROW = 26;
const LABEL_W = 120;
const OP_OPACITY: Record<string, number> = { F: 0.9, B: 0.55, W: 0.4, STEP: 0.3 };

/**
 * One recent step, per stage: forward (solid) and backward (hatched, darker) of each micro-batch on a
 * time axis, so idle gaps — the bubble — are visible. Each stage's times are from its own step start.
 */
export function Timeline({ data }: { data: RunData }) {
  const tl = data.timeline;
  if (!tl)
    return (
      <section className="panel" aria-label="Pipeline timeline">
        <h3>Pipeline timeline</h3>
        <p className="muted">Appears after the first step.</p>
      </section>
    );
  const stageCount = Math.max(data.stages.length, ...tl.timings.map((t) => t.stage + 1));
  const span = Math.max(1e-6, ...tl.timings.map((t) => t.end));
  const busy = tl.timings
    .filter((t) => isComputeOp(t.op))
    .reduce((a, t) => a + (t.end - t.start), 0);
  const measured = 1 - busy / (stageCount * span);
  const predicted = data.plan?.prediction.bubble ?? null;
  const width = 640;
  const scale = (width - LABEL_W - 8) / span;
  return (
    <section className="panel" aria-label="Pipeline timeline">
      <div className="chart-head">
        <h3>Pipeline timeline</h3>
        <span className="muted">
          step {tl.step + 1}, {span.toFixed(1)} ms
        </span>
        <span data-testid="bubble">
          bubble: measured {(measured * 100).toFixed(0)}%
          {predicted !== null ? `, predicted ${(predicted * 100).toFixed(0)}%` : ''}
        </span>
      </div>
      <svg
        className="timeline"
        viewBox={`0 0 ${width} ${stageCount * ROW + 20}`}
        width="100%"
        role="img"
        aria-label={`timeline of step ${tl.step + 1} across ${stageCount} stages`}
      >
        {Array.from({ length: stageCount }, (_, k) => (
          <g key={k} data-testid="timeline-stage" data-stage={k}>
            <rect
              x={LABEL_W}
              y={k * ROW + 2}
              width={width - LABEL_W - 8}
              height={ROW - 4}
              className="timeline-idle"
            />
            <text x={4} y={k * ROW + ROW / 2 + 4} className="timeline-label">
              stage {k} {data.stages[k] ? `· ${data.stages[k]!.node.split(' ')[0]}` : ''}
            </text>
            {tl.timings
              .filter((t) => t.stage === k && isComputeOp(t.op))
              .map((t, i) => (
                <rect
                  key={i}
                  x={LABEL_W + t.start * scale}
                  y={k * ROW + 3}
                  width={Math.max(1, (t.end - t.start) * scale)}
                  height={ROW - 6}
                  fill={stageColor(k)}
                  fillOpacity={OP_OPACITY[t.op] ?? 0.3}
                  stroke={t.op === 'B' || t.op === 'W' ? stageColor(k) : 'none'}
                  strokeDasharray={t.op === 'W' ? '2 2' : undefined}
                  data-op={t.op}
                >
                  <title>
                    {t.op === 'STEP' ? 'optimizer step' : `${t.op}(${t.mb})`}: {t.start.toFixed(1)}–
                    {t.end.toFixed(1)} ms
                  </title>
                </rect>
              ))}
          </g>
        ))}
        <text x={LABEL_W} y={stageCount * ROW + 14} className="timeline-label">
          0 ms
        </text>
        <text x={width - 8} y={stageCount * ROW + 14} textAnchor="end" className="timeline-label">
          {span.toFixed(1)} ms
        </text>
      </svg>
      <p className="muted small">
        Solid: forward of a micro-batch; lighter: backward (with zero bubble, its input gradient);
        lighter still, dashed: weight gradient (zero bubble); faint: optimizer step; grey: idle or
        waiting on a neighbour.
      </p>
    </section>
  );
}
