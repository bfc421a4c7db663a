// npm run bench:ui
// The Cluster view under a synthetic lab of 256 machines × 4 GPUs whose telemetry all changes once a
// second. Feed: the real path — a synthetic backend behind the real ApiServer (validation, batching) and
// the real browser-mode WebServer/WebSocket — into the production renderer build, in Debian's Chromium.
// Prints the p95 frame time (goal < 16 ms) and the time to apply one full telemetry update.
// Frame time is the renderer main thread's busy time per frame, from a Chromium trace: the top-level
// tasks (event handling, React, style, layout, paint) between one animation frame and the next. The
// interval between frames is no measure here: headless Chromium paces frames at ~60 Hz whatever the page
// does (it ignores --disable-frame-rate-limit), so every interval reads >= 16.7 ms.
import os from 'node:os';
import { syntheticCluster } from './syntheticCluster.js';
import { frameBusyTimes, percentile, startUiBench } from './frameTrace.js';

const MACHINES = Number(process.env.BENCH_MACHINES ?? 256);
const GPUS = Number(process.env.BENCH_GPUS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);

const f = (x: number) => `${x.toFixed(2)} ms`;

const lab = syntheticCluster(MACHINES, GPUS);
const { web, browser, close } = await startUiBench(lab.backend);
const results: string[] = [];
try {
  for (const layout of ['Cards', 'Rows'] as const) {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
    await page.goto(`${web.url}&perf=1`);
    await page.getByTestId('node-card').first().waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: layout }).click();
    await page.waitForTimeout(1000);
    // Record frame intervals in the page; the feed ticks in Node once a second meanwhile.
    // A string, not a function: tsx would wrap the nested function in a helper the page lacks. The
    // rAF loop marks every frame in the trace (FireAnimationFrame), including frames with no update.
    await page.evaluate(`(() => {
      performance.clearMeasures();
      function loop() { requestAnimationFrame(loop); }
      requestAnimationFrame(loop);
    })()`);
    await browser.startTracing(page, { categories: ['devtools.timeline', 'toplevel'] });
    const timer = setInterval(() => lab.tick(), 1000);
    await page.waitForTimeout(SECONDS * 1000);
    clearInterval(timer);
    const frames = frameBusyTimes(await browser.stopTracing());
    const m = await page.evaluate(() => ({
      apply: performance.getEntriesByName('pf:apply').map((e) => e.duration),
      commit: performance.getEntriesByName('pf:commit').map((e) => e.duration),
      cards: document.querySelectorAll('[data-testid="node-card"],[data-testid="node-row"]').length,
    }));
    const full = m.apply.length;
    const slow = frames.filter((x) => x >= 16).length;
    results.push(
      `${layout.toLowerCase()} (${m.cards} of ${MACHINES} rendered, the rest virtualised): ` +
        `${frames.length} frames in ${SECONDS} s; main-thread frame time p50 ${f(percentile(frames, 50))}, ` +
        `p95 ${f(percentile(frames, 95))}, p99 ${f(percentile(frames, 99))}, max ${f(Math.max(...frames))}; ` +
        `${slow} frames >= 16 ms (goal p95 < 16 ms: ${percentile(frames, 95) < 16 ? 'met' : 'NOT met'})`,
      `  one full telemetry update (${MACHINES} machines × ${GPUS} GPUs, ${full} updates): store apply ` +
        `median ${f(percentile(m.apply, 50))}, max ${f(Math.max(...m.apply))}; until on screen (React's deferred render committed) median ` +
        `${f(percentile(m.commit, 50))}, max ${f(Math.max(...m.commit))}`,
    );
    await page.close();
  }
} finally {
  await close();
}
process.stdout.write(
  [
    `ui bench: Chromium ${browser.version()}, 1920×1080, ${os.cpus().length} cores (shared); feed: synthetic backend → real ApiServer → real WebSocket (browser mode) → production renderer build`,
    ...results,
  ].join('\n') + '\n',
);
