import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from 'react';

interface Props {
  ids: string[];
  /** Height of each item, aligned with ids. */
  heights: number[];
  /** Cards: several per row; rows: pass a huge value for one column. */
  minColumnWidth: number;
  gap: number;
  render(id: string): ReactNode;
  label: string;
  header?: ReactNode;
}

const OVERSCAN_PX = 400;

/**
 * Renders only the rows in view (plus a margin): a lab of 256 machines stays as cheap to update as the
 * dozen on screen. Heights come from the data (GPU count), so nothing is measured and nothing jumps.
 */
export function VirtualGrid({ ids, heights, minColumnWidth, gap, render, label, header }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState({ width: 1000, height: 800 });
  const [scrollTop, setScrollTop] = useState(0);

  useLayoutEffect(() => {
    const el = ref.current!;
    const measure = () => setSize({ width: el.clientWidth, height: el.clientHeight });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const el = ref.current!;
    let frame = 0;
    const onScroll = () => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(() => setScrollTop(el.scrollTop));
    };
    el.addEventListener('scroll', onScroll, { passive: true });
    return () => {
      el.removeEventListener('scroll', onScroll);
      cancelAnimationFrame(frame);
    };
  }, []);

  const cols = Math.max(1, Math.floor((size.width + gap) / (minColumnWidth + gap)));
  const layout = useMemo(() => {
    const rows: { ids: string[]; top: number; height: number }[] = [];
    let top = 0;
    for (let i = 0; i < ids.length; i += cols) {
      const rowIds = ids.slice(i, i + cols);
      const height = Math.max(...heights.slice(i, i + cols));
      rows.push({ ids: rowIds, top, height });
      top += height + gap;
    }
    return { rows, total: Math.max(0, top - gap) };
  }, [ids, heights, cols, gap]);

  const lo = scrollTop - OVERSCAN_PX;
  const hi = scrollTop + size.height + OVERSCAN_PX;
  const visible = layout.rows.filter((r) => r.top + r.height >= lo && r.top <= hi);
  const colWidth = cols === 1 ? size.width : (size.width - gap * (cols - 1)) / cols;

  return (
    <div ref={ref} className="vgrid" tabIndex={0} aria-label={label} role="region">
      {header}
      <div role="list" style={{ position: 'relative', height: layout.total }}>
        {visible.flatMap((r) =>
          r.ids.map((id, c) => (
            <div
              key={id}
              role="listitem"
              style={{
                position: 'absolute',
                top: r.top,
                left: c * (colWidth + gap),
                width: colWidth,
              }}
            >
              {render(id)}
            </div>
          )),
        )}
      </div>
    </div>
  );
}
