import { flushSync } from 'react-dom';
import { createRoot, type Root } from 'react-dom/client';
import { LossChart } from '../components/run/LossChart.js';
import { RunData } from '../runs/runData.js';
import '../runs/runs.css';

/**
 * `npm run bench:charts` opens the production build at #bench-charts: the real LossChart over a
 * synthetic run (no engine, no agents), driven from the bench through window.__chartBench.
 */
function synthetic(n: number, seed = 1): RunData {
  const d = new RunData();
  let s = seed;
  const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
  const t0 = Date.now() - n * 50;
  for (let i = 0; i < n; i++) addPoint(d, i, t0, rand);
  d.totalSteps = n * 2;
  d.version++;
  return d;
}

function addPoint(d: RunData, i: number, t0: number, rand: () => number): void {
  d.step.push(i);
  d.epoch.push(0);
  d.loss.push(2.3 * Math.exp(-i / 2000) + 0.05 + 0.1 * rand());
  d.elapsedMs.push(i * 50);
  d.wallT.push(t0 + i * 50);
  d.samplesPerSecond.push(1200 + 100 * rand());
}

const nextFrame = () => new Promise<void>((r) => requestAnimationFrame(() => r()));

export function mountChartBench(el: HTMLElement): void {
  let root: Root | null = null;
  let live: { data: RunData; timer: number } | null = null;
  const draw = (data: RunData) =>
    root!.render(
      <div style={{ width: 1200, padding: 16 }}>
        <LossChart
          runs={[{ id: 'bench', name: 'bench', color: '#4e79a7', data, version: data.version }]}
        />
      </div>,
    );
  const api = {
    /** Mounts the chart over n steps; answers the synchronous render+commit and the time to the next frame. */
    async render(n: number) {
      root?.unmount();
      root = createRoot(el);
      const data = synthetic(n);
      await nextFrame();
      const t0 = performance.now();
      flushSync(() => draw(data));
      const commit = performance.now() - t0;
      await nextFrame();
      const frame = performance.now() - t0;
      const points = Number(el.querySelector('.series-chart')?.getAttribute('data-drawn-points'));
      return { commit, frame, points };
    },
    /** Appends `rate` points a second to a run of `base` steps, re-rendering on each, until stopLive. */
    startLive(base: number, rate: number) {
      root?.unmount();
      root = createRoot(el);
      const data = synthetic(base);
      flushSync(() => draw(data));
      let i = base;
      let s = 7;
      const rand = () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
      const t0 = Date.now() - base * 50;
      const timer = window.setInterval(() => {
        addPoint(data, i++, t0, rand);
        data.version++;
        draw(data);
      }, 1000 / rate);
      live = { data, timer };
    },
    stopLive() {
      if (live) window.clearInterval(live.timer);
      const n = live?.data.loss.length ?? 0;
      live = null;
      return n;
    },
  };
  (window as unknown as { __chartBench: typeof api }).__chartBench = api;
  el.setAttribute('data-bench-ready', 'true');
}
