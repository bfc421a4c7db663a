import { memo } from 'react';
import { Curve, Surface } from 'recharts';

interface Props {
  /** 0..100; NaN marks a sample that could not be read (a gap, not a dip to 0). */
  values: number[];
  width: number;
  height: number;
  label: string;
  capacity?: number;
}

/**
 * A live sparkline from recharts' own primitives (Surface + Curve) rather than a full LineChart: a
 * cluster view shows hundreds of them, and a LineChart's per-chart store, axes and animation cost far
 * more than the one path this needs. Nothing here animates, by construction.
 */
export const Sparkline = memo(function Sparkline({
  values,
  width,
  height,
  label,
  capacity = 60,
}: Props) {
  const step = width / Math.max(1, capacity - 1);
  const offset = capacity - values.length;
  const points = values.map((v, i) => ({
    x: (offset + i) * step,
    y: Number.isFinite(v)
      ? height - 1 - (Math.min(100, Math.max(0, v)) / 100) * (height - 2)
      : null,
  }));
  return (
    <Surface width={width} height={height} className="sparkline" role="img" aria-label={label}>
      <Curve
        type="linear"
        layout="horizontal"
        points={points as { x: number; y: number }[]}
        stroke="currentColor"
        strokeWidth={1.5}
        fill="none"
        connectNulls={false}
      />
    </Surface>
  );
});
