import { memo, useId, useLayoutEffect, useMemo, useRef, useState, type MouseEvent } from 'react';
import { CartesianGrid, Line, LineChart, XAxis, YAxis } from 'recharts';
import { lowerBound, lttbIndices } from './lttb.js';

/** One line: full columns (never copied), drawn as an LTTB-downsampled copy of the visible range. */
export interface ChartLine {
  key: string;
  name: string;
  color: string;
  xs: ArrayLike<number>;
  ys: ArrayLike<number>;
  n: number;
  strokeWidth?: number;
  opacity?: number;
  dots?: boolean;
  /** Listed in the hover readout (faint raw curves behind a smoothed one are not). */
  hover?: boolean;
}

export interface SeriesChartProps {
  lines: ChartLine[];
  height: number;
  logY?: boolean;
  formatX: (x: number) => string;
  formatY?: (y: number) => string;
  /** Zoomed x range, or null for everything; the parent keeps it so controls can reset it. */
  zoom: [number, number] | null;
  onZoom(zoom: [number, number] | null): void;
  testId?: string;
  label: string;
  /** Vertical marks at x (a run that lost a machine and resumed), each with its words on hover. */
  /** Vertical marks: a resumption across the plot (default), or a tick on the x axis (`tick`). */
  markers?: { x: number; label: string; kind?: 'line' | 'tick' }[];
}

const MARGIN = { top: 8, right: 16, bottom: 4, left: 4 };
const Y_AXIS_W = 56;
const X_AXIS_H = 24;

/**
 * A recharts line chart for long live series: the parent's full columns stay outside React; each
 * render draws about one point per pixel (LTTB within the zoomed range), with no animation. Hover
 * shows the exact value of the nearest real point; drag selects a range to zoom, double-click resets.
 */
export function SeriesChart(p: SeriesChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const clipId = useId();
  const [width, setWidth] = useState(600);
  const [hoverPx, setHoverPx] = useState<number | null>(null);
  const [drag, setDrag] = useState<[number, number] | null>(null);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    setWidth(el.clientWidth || 600);
    const ro = new ResizeObserver(() => setWidth(el.clientWidth || 600));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const plotLeft = MARGIN.left + Y_AXIS_W;
  const plotW = Math.max(10, width - plotLeft - MARGIN.right);

  let x0 = Infinity;
  let x1 = -Infinity;
  for (const l of p.lines)
    if (l.n > 0) {
      x0 = Math.min(x0, l.xs[0]!);
      x1 = Math.max(x1, l.xs[l.n - 1]!);
    }
  if (!Number.isFinite(x0)) [x0, x1] = [0, 1];
  if (x1 === x0) x1 = x0 + 1;
  const domain: [number, number] = p.zoom ?? [x0, niceEnd(x0, x1)];

  const drawn = p.lines.map((l) => {
    const from = Math.max(0, lowerBound(l.xs, domain[0], l.n) - 1);
    const to = Math.min(l.n, lowerBound(l.xs, domain[1], l.n) + 1);
    const idx = l.dots
      ? Array.from({ length: to - from }, (_, i) => from + i)
      : lttbIndices(l.xs, l.ys, Math.max(3, Math.round(plotW)), from, to);
    const data = idx
      .filter((i) => !p.logY || l.ys[i]! > 0)
      .map((i) => ({ x: l.xs[i]!, y: l.ys[i]! }));
    return { l, data };
  });
  const drawnPoints = drawn.reduce((a, d) => a + d.data.length, 0);
  const plotTop = MARGIN.top;
  const plotH = Math.max(10, p.height - MARGIN.top - MARGIN.bottom - X_AXIS_H);
  const y = yScale(drawn, !!p.logY);
  const sx = (x: number) => plotLeft + ((x - domain[0]) / (domain[1] - domain[0])) * plotW;
  const sy = (v: number) => plotTop + (1 - y.frac(v)) * plotH;

  const toX = (px: number) => domain[0] + ((px - plotLeft) / plotW) * (domain[1] - domain[0]);
  const localX = (e: MouseEvent) => e.clientX - box.current!.getBoundingClientRect().left;

  const hover = useMemo(() => {
    if (hoverPx === null) return null;
    const x = toX(hoverPx);
    const rows = p.lines
      .filter((l) => l.hover !== false && l.n > 0)
      .map((l) => {
        let i = lowerBound(l.xs, x, l.n);
        if (i >= l.n || (i > 0 && x - l.xs[i - 1]! < l.xs[i]! - x)) i--;
        return { key: l.key, name: l.name, color: l.color, x: l.xs[i]!, y: l.ys[i]! };
      });
    return { x, rows };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [hoverPx, p.lines, domain[0], domain[1], plotW]);
  const fy = p.formatY ?? ((y: number) => (Number.isFinite(y) ? y.toPrecision(4) : '–'));

  return (
    <div
      ref={box}
      className="series-chart"
      data-testid={p.testId}
      data-drawn-points={drawnPoints}
      role="img"
      aria-label={p.label}
      style={{ height: p.height }}
      onMouseMove={(e) => {
        const px = localX(e);
        setHoverPx(px >= plotLeft && px <= plotLeft + plotW ? px : null);
        if (drag) setDrag([drag[0], px]);
      }}
      onMouseLeave={() => {
        setHoverPx(null);
        setDrag(null);
      }}
      onMouseDown={(e) => {
        if (e.button !== 0) return;
        e.preventDefault();
        const px = localX(e);
        setDrag([px, px]);
      }}
      onMouseUp={() => {
        if (drag && Math.abs(drag[1] - drag[0]) > 4) {
          const a = toX(Math.min(drag[0], drag[1]));
          const b = toX(Math.max(drag[0], drag[1]));
          p.onZoom([a, b]);
        }
        setDrag(null);
      }}
      onDoubleClick={() => p.onZoom(null)}
    >
      <Frame
        width={width}
        height={p.height}
        x0={domain[0]}
        x1={domain[1]}
        y0={y.domain[0]}
        y1={y.domain[1]}
        yTicks={y.ticks}
        logY={!!p.logY}
        formatX={p.formatX}
      />
      <svg className="series-lines" width={width} height={p.height} aria-hidden="true">
        <defs>
          <clipPath id={clipId}>
            <rect x={plotLeft} y={plotTop} width={plotW} height={plotH} />
          </clipPath>
        </defs>
        <g clipPath={`url(#${clipId})`}>
          {drawn.map(({ l, data }) =>
            l.dots ? (
              <g key={l.key} fill={l.color}>
                {data.map((d, i) => (
                  <circle key={i} cx={sx(d.x)} cy={sy(d.y)} r={3.5} />
                ))}
              </g>
            ) : (
              <path
                key={l.key}
                d={pathOf(data, sx, sy)}
                fill="none"
                stroke={l.color}
                strokeWidth={l.strokeWidth ?? 1.5}
                strokeOpacity={l.opacity ?? 1}
                strokeLinejoin="round"
              />
            ),
          )}
          {(p.markers ?? [])
            .filter((m) => m.x >= domain[0] && m.x <= domain[1])
            .map((m, i) => (
              <line
                key={`marker-${i}`}
                className="chart-marker"
                data-testid="chart-marker"
                data-kind={m.kind ?? 'line'}
                x1={sx(m.x)}
                x2={sx(m.x)}
                y1={m.kind === 'tick' ? plotTop + plotH - 6 : plotTop}
                y2={plotTop + plotH}
                stroke={m.kind === 'tick' ? 'var(--accent, #2563eb)' : 'var(--warning, #d97706)'}
                strokeDasharray={m.kind === 'tick' ? undefined : '4 3'}
              >
                <title>{m.label}</title>
              </line>
            ))}
        </g>
      </svg>
      {drag && (
        <div
          className="chart-selection"
          style={{
            left: Math.min(drag[0], drag[1]),
            width: Math.abs(drag[1] - drag[0]),
            top: MARGIN.top,
            height: p.height - MARGIN.top - MARGIN.bottom - X_AXIS_H,
          }}
        />
      )}
      {hover && hoverPx !== null && (
        <>
          <div
            className="chart-cursor"
            style={{ left: hoverPx, top: MARGIN.top, height: p.height - MARGIN.top - X_AXIS_H }}
          />
          <div
            className="chart-readout"
            role="status"
            style={hoverPx > width / 2 ? { right: width - hoverPx + 8 } : { left: hoverPx + 8 }}
          >
            {hover.rows.map((r) => (
              <div key={r.key}>
                <span className="swatch" style={{ background: r.color }} />
                {r.name}: {fy(r.y)} <span className="muted">at {p.formatX(r.x)}</span>
              </div>
            ))}
          </div>
        </>
      )}
    </div>
  );
}

/** An SVG path through the points; a gap (non-finite y) starts a new segment. */
function pathOf(
  data: { x: number; y: number }[],
  sx: (x: number) => number,
  sy: (y: number) => number,
): string {
  let d = '';
  let pen = false;
  for (const p of data) {
    if (!Number.isFinite(p.y)) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`;
    pen = true;
  }
  return d;
}

/** Round numbers around the visible values: [lo, hi], ticks, and where a value sits (0 bottom, 1 top). */
function yScale(
  drawn: { data: { y: number }[] }[],
  log: boolean,
): { domain: [number, number]; ticks: number[]; frac(v: number): number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const { data } of drawn)
    for (const p of data)
      if (Number.isFinite(p.y) && (!log || p.y > 0)) {
        if (p.y < lo) lo = p.y;
        if (p.y > hi) hi = p.y;
      }
  if (!Number.isFinite(lo)) [lo, hi] = log ? [0.1, 1] : [0, 1];
  if (log) {
    const a = Math.floor(Math.log10(lo));
    const b = Math.max(a + 1, Math.ceil(Math.log10(hi)));
    const ticks: number[] = [];
    for (let e = a; e <= b; e++) {
      ticks.push(10 ** e);
      if (b - a <= 2 && e < b) ticks.push(2 * 10 ** e, 5 * 10 ** e);
    }
    return {
      domain: [10 ** a, 10 ** b],
      ticks,
      frac: (v) => (Math.log10(v) - a) / (b - a),
    };
  }
  if (hi === lo) [lo, hi] = [lo - 1, hi + 1];
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const a = Math.floor(lo / step) * step;
  const b = Math.ceil(hi / step) * step;
  const ticks: number[] = [];
  for (let t = a; t <= b + step / 2; t += step) ticks.push(+t.toPrecision(12));
  return { domain: [a, b], ticks, frac: (v) => (v - a) / (b - a) };
}

interface FrameProps {
  width: number;
  height: number;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  yTicks: number[];
  logY: boolean;
  formatX: (x: number) => string;
}

/**
 * The recharts part: axes, ticks and grid. Memoised on its numbers, and the live x range grows in
 * steps (niceEnd), so a point appended to a live run redraws only the paths, not recharts.
 */
const Frame = memo(
  function Frame({ width, height, x0, x1, y0, y1, yTicks, logY, formatX }: FrameProps) {
    return (
      <LineChart width={width} height={height} margin={MARGIN}>
        <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
        <XAxis
          type="number"
          dataKey="x"
          domain={[x0, x1]}
          allowDataOverflow
          tickFormatter={formatX}
          height={X_AXIS_H}
          tick={{ fontSize: 11, fill: 'var(--muted)' }}
          stroke="var(--border)"
        />
        <YAxis
          type="number"
          dataKey="y"
          width={Y_AXIS_W}
          scale={logY ? 'log' : 'linear'}
          domain={[y0, y1]}
          ticks={yTicks}
          allowDataOverflow
          tickFormatter={(y: number) =>
            Math.abs(y) >= 1000 ? y.toExponential(1) : String(+y.toPrecision(3))
          }
          tick={{ fontSize: 11, fill: 'var(--muted)' }}
          stroke="var(--border)"
        />
        {/* Recharts draws the frame (axes, ticks, grid) from two invisible points; the series are
              drawn below as one path each: recharts' per-point pipeline cost 40 ms per update. */}
        <Line
          data={[
            { x: x0, y: y0 },
            { x: x1, y: y1 },
          ]}
          dataKey="y"
          stroke="none"
          dot={false}
          activeDot={false}
          isAnimationActive={false}
        />
      </LineChart>
    );
  },
  (a, b) =>
    a.width === b.width &&
    a.height === b.height &&
    a.x0 === b.x0 &&
    a.x1 === b.x1 &&
    a.y0 === b.y0 &&
    a.y1 === b.y1 &&
    a.logY === b.logY &&
    a.formatX === b.formatX &&
    a.yTicks.join() === b.yTicks.join(),
);

/** The end of a live x range, rounded up to a twentieth of a round tick step: it moves in jumps. */
function niceEnd(x0: number, x1: number): number {
  const raw = (x1 - x0) / 5;
  if (!(raw > 0)) return x1;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const g = step / 4;
  return Math.ceil(x1 / g) * g;
}
