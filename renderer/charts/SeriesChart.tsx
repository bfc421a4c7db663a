import { useLayoutEffect, useMemo, useRef, useState, type MouseEvent } from 'react';
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
  const domain: [number, number] = p.zoom ?? [x0, x1];

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
      <LineChart width={width} height={p.height} margin={MARGIN}>
        <CartesianGrid strokeDasharray="3 3" stroke="var(--border)" />
        <XAxis
          type="number"
          dataKey="x"
          domain={domain}
          allowDataOverflow
          tickFormatter={p.formatX}
          height={X_AXIS_H}
          tick={{ fontSize: 11, fill: 'var(--muted)' }}
          stroke="var(--border)"
        />
        <YAxis
          type="number"
          dataKey="y"
          width={Y_AXIS_W}
          scale={p.logY ? 'log' : 'linear'}
          domain={['auto', 'auto']}
          allowDataOverflow
          tickFormatter={(y: number) =>
            Math.abs(y) >= 1000 ? y.toExponential(1) : String(+y.toPrecision(3))
          }
          tick={{ fontSize: 11, fill: 'var(--muted)' }}
          stroke="var(--border)"
        />
        {drawn.map(({ l, data }) => (
          <Line
            key={l.key}
            data={data}
            dataKey="y"
            name={l.name}
            stroke={l.color}
            strokeWidth={l.strokeWidth ?? 1.5}
            strokeOpacity={l.opacity ?? 1}
            dot={l.dots ? { r: 3, fill: l.color, strokeWidth: 0 } : false}
            activeDot={false}
            isAnimationActive={false}
            connectNulls
          />
        ))}
      </LineChart>
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
