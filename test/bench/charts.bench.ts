// Loss-chart cost in Chromium, on the production build: render time for 1,000 / 10,000 / 100,000
// steps, and main-thread frame time while a live run appends 20 points a second. The runs are
// synthetic (generated in the page; no engine, no agents): this measures the chart, not training.
// Frame time is the renderer main thread's busy time per frame from a Chromium trace (headless
// Chromium paces frames at 60 Hz whatever the page does, so frame intervals would say nothing).
import os from 'node:os';
import { syntheticCluster } from './syntheticCluster.js';
import { frameBusyTimes, percentile, startUiBench } from './frameTrace.js';

const SIZES = [1_000, 10_000, 100_000];
const REPEAT = 5;
const LIVE_SECONDS = 10;
const LIVE_RATE = 20;

const f = (ms: number) => `${ms.toFixed(1)} ms`;

const lab = syntheticCluster(0, 0);
const { web, browser, close } = await startUiBench(lab.backend);
const lines: string[] = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${web.url}#bench-charts`);
  await page.locator('[data-bench-ready="true"]').waitFor({ timeout: 30_000 });
  type R = { commit: number; frame: number; points: number };
  // The first mounts also compile the chart's code: a warm-up round at every size, not counted.
  for (const n of SIZES) await page.evaluate(`window.__chartBench.render(${n})`);
  for (const n of SIZES) {
    const runs: R[] = [];
    for (let i = 0; i < REPEAT; i++)
      runs.push((await page.evaluate(`window.__chartBench.render(${n})`)) as R);
    const frame = runs.map((r) => r.frame);
    const commit = runs.map((r) => r.commit);
    lines.push(
      `render ${n.toLocaleString('en')} steps: to next frame median ${f(percentile(frame, 50))} (max ${f(Math.max(...frame))}); ` +
        `React render+commit median ${f(percentile(commit, 50))}; ${runs[0]!.points} points drawn ` +
        (n === 100_000
          ? `(goal < 100 ms: ${percentile(frame, 50) < 100 ? 'met' : 'NOT met'})`
          : ''),
    );
  }
  for (const base of [10_000, 100_000]) {
    await page.evaluate(`window.__chartBench.startLive(${base}, ${LIVE_RATE})`);
    await page.evaluate(
      `(() => { function loop() { requestAnimationFrame(loop); } requestAnimationFrame(loop); })()`,
    );
    await page.waitForTimeout(500);
    await browser.startTracing(page, { categories: ['devtools.timeline', 'toplevel'] });
    await page.waitForTimeout(LIVE_SECONDS * 1000);
    const frames = frameBusyTimes(await browser.stopTracing());
    const total = (await page.evaluate('window.__chartBench.stopLive()')) as number;
    lines.push(
      `live, ${LIVE_RATE} points/s onto a run of ${base.toLocaleString('en')} steps (${total.toLocaleString('en')} at the end): ` +
        `${frames.length} frames in ${LIVE_SECONDS} s; main-thread frame time p50 ${f(percentile(frames, 50))}, ` +
        `p95 ${f(percentile(frames, 95))}, max ${f(Math.max(...frames))} ` +
        `(goal p95 < 16 ms: ${percentile(frames, 95) < 16 ? 'met' : 'NOT met'})`,
    );
  }
  await page.close();
} finally {
  await close();
}
process.stdout.write(
  [
    `charts bench: Chromium ${browser.version()}, 1280×800, chart 1200 px wide, ${os.cpus().length} cores (shared); synthetic runs generated in the page, production renderer build`,
    ...lines,
  ].join('\n') + '\n',
);
