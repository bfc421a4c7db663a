import { isComputeOp } from '../../../native/common/names.js';
import { stageColor } from '../../designer/stageColors.js';
import type { RunData } from '../../runs/runData.js';
import { timelineRows } from '../../runs/timelineRows.js';

const ROW = 26;
const LABEL_W = 120;
/** Wider labels when rows are replicas: "stage 1 · replica 0" does not fit in 120. */
const REPLICA_LABEL_W = 150;
const OP_OPACITY: Record<string, number> = { F: 0.9, B: 0.55, W: 0.4, STEP: 0.3 };

/** What the timeline draws: compute, and a replicated stage's all-reduce (its stage waits on it). */
const isDrawn = (op: string) => isComputeOp(op) || op === 'ALLREDUCE';

/**
 * One recent step, per stage (per replica, for a stage run as several): forward (solid) and backward
 * (hatched, darker) of each micro-batch on a time axis, so idle gaps — the bubble — are visible, and
 * the replicas' all-reduce of their gradients before the optimizer step. Each row's times are from
 * its own process's step start.
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
  const rows = timelineRows(tl.timings, data.stages);
  const replicated = rows.some((r) => r.replica !== null);
  const labelW = replicated ? REPLICA_LABEL_W : LABEL_W;
  const span = Math.max(1e-6, ...tl.timings.map((t) => t.end));
  const busy = tl.timings
    .filter((t) => isComputeOp(t.op))
    .reduce((a, t) => a + (t.end - t.start), 0);
  // Over every process: a replica idles as a stage does.
  const measured = 1 - busy / (Math.max(1, rows.length) * span);
  const predicted = data.plan?.prediction.bubble ?? null;
  const width = 640;
  const scale = (width - labelW - 8) / span;
  const stageCount = new Set(rows.map((r) => r.stage)).size;
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
        viewBox={`0 0 ${width} ${rows.length * ROW + 20}`}
        width="100%"
        role="img"
        aria-label={`timeline of step ${tl.step + 1} across ${stageCount} stages${replicated ? ` (${rows.length} processes)` : ''}`}
      >
        {rows.map((row, y) => (
          <g
            key={`${row.stage}.${row.replica ?? ''}`}
            data-testid="timeline-stage"
            data-stage={row.stage}
            data-replica={row.replica ?? undefined}
          >
            <rect
              x={labelW}
              y={y * ROW + 2}
              width={width - labelW - 8}
              height={ROW - 4}
              className="timeline-idle"
            />
            <text x={4} y={y * ROW + ROW / 2 + 4} className="timeline-label">
              {row.label}
              {/* A replica row's label has no room for the machine: it is in the tooltip. */}
              {row.replica === null && row.node ? ` · ${row.node.split(' ')[0]}` : ''}
              {row.node && <title>{`${row.label} on ${row.node}`}</title>}
            </text>
            {row.timings
              .filter((t) => isDrawn(t.op))
              .map((t, i) =>
                t.op === 'ALLREDUCE' ? (
                  <rect
                    key={i}
                    x={labelW + t.start * scale}
                    y={y * ROW + 3}
                    width={Math.max(1, (t.end - t.start) * scale)}
                    height={ROW - 6}
                    className="timeline-allreduce"
                    data-op={t.op}
                  >
                    <title>
                      all-reduce: {t.start.toFixed(1)}–{t.end.toFixed(1)} ms
                    </title>
                  </rect>
                ) : (
                  <rect
                    key={i}
                    x={labelW + t.start * scale}
                    y={y * ROW + 3}
                    width={Math.max(1, (t.end - t.start) * scale)}
                    height={ROW - 6}
                    fill={stageColor(row.stage)}
                    fillOpacity={OP_OPACITY[t.op] ?? 0.3}
                    stroke={t.op === 'B' || t.op === 'W' ? stageColor(row.stage) : 'none'}
                    strokeDasharray={t.op === 'W' ? '2 2' : undefined}
                    data-op={t.op}
                    data-chunk={t.chunk ?? 0}
                  >
                    <title>
                      {t.op === 'STEP'
                        ? 'optimizer step'
                        : `${t.op}(${t.mb})${t.chunk ? ` chunk ${t.chunk}` : ''}`}
                      : {t.start.toFixed(1)}–{t.end.toFixed(1)} ms
                    </title>
                  </rect>
                ),
              )}
          </g>
        ))}
        <text x={labelW} y={rows.length * ROW + 14} className="timeline-label">
          0 ms
        </text>
        <text x={width - 8} y={rows.length * ROW + 14} textAnchor="end" className="timeline-label">
          {span.toFixed(1)} ms
        </text>
      </svg>
      <p className="muted small">
        Solid: forward of a micro-batch; lighter: backward (with zero bubble, its input gradient);
        lighter still, dashed: weight gradient (zero bubble); faint: optimizer step; grey: idle or
        waiting on a neighbour
        {replicated ? '; dark: the replicas summing their gradients (all-reduce)' : ''}.
      </p>
    </section>
  );
}
