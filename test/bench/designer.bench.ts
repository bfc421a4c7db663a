// npm run bench:designer
// The designer with deep-mlp laid out as 8 stages on a synthetic lab of 8 machines (the real path: a
// synthetic backend behind the real ApiServer and browser-mode WebSocket, the production renderer build,
// Debian's Chromium). A boundary is dragged with real stepped pointer moves, back and forth, DROPS times.
// Prints: the time from each drop (pointerup) to the frame that shows the new prediction (goal < 50 ms),
// and the renderer main thread's busy time per frame while dragging, from a Chromium trace (goal p95 <
// 16 ms).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { syntheticCluster } from './syntheticCluster.js';
import { frameBusyTimes, percentile, startUiBench } from './frameTrace.js';

const MACHINES = 8;
const DROPS = Number(process.env.BENCH_DROPS ?? 30);
/** Pointer moves per drag, one per frame: about a third of a second of dragging. */
const MOVES = 20;
const f = (x: number) => `${x.toFixed(1)} ms`;

const plansDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-bench-plans-'));
const lab = syntheticCluster(MACHINES, 1, plansDir);
const { web, browser, close } = await startUiBench(lab.backend);
let out = '';
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(web.url);
  await page.getByRole('button', { name: 'Designer' }).click();
  await page.getByRole('combobox', { name: 'Model' }).selectOption('deep-mlp');
  await page.getByRole('group', { name: 'Machine ws-007' }).waitFor({ timeout: 30_000 });
  // 8 stages (Add stage halves the largest), stage k on machine k, through the keyboard-reachable controls.
  for (let i = 1; i < MACHINES; i++) await page.getByRole('button', { name: 'Add stage' }).click();
  for (let k = 1; k <= MACHINES; k++)
    await page
      .getByRole('combobox', { name: `Machine for stage ${k}` })
      .selectOption({ label: `ws-${String(k - 1).padStart(3, '0')}` });
  await page.getByTestId('predicted-throughput').waitFor({ timeout: 10_000 });

  // Drop → prediction on screen: the first change inside the prediction panel after a pointerup, to
  // the animation frame that paints it. A string: tsx would wrap nested functions in a helper.
  await page.evaluate(`(() => {
    window.__drops = [];
    let t0 = null;
    window.addEventListener('pointerup', () => { t0 = performance.now(); }, true);
    const panel = document.querySelector('.prediction-panel');
    new MutationObserver(() => {
      if (t0 === null) return;
      const t = t0;
      t0 = null;
      requestAnimationFrame(() => {
        window.__drops.push(performance.now() - t);
        window.__wake?.();
      });
    }).observe(panel, { subtree: true, childList: true, characterData: true, attributes: true });
    window.__waitDrops = (n) => new Promise((resolve) => {
      window.__wake = () => { if (window.__drops.length >= n) resolve(n); };
      window.__wake();
    });
    function loop() { requestAnimationFrame(loop); }
    requestAnimationFrame(loop);
  })()`);

  if (process.env.BENCH_SHOT) await page.screenshot({ path: process.env.BENCH_SHOT });
  const rowBox = async (name: string) =>
    (await page.getByRole('listitem', { name: new RegExp(`^Layer ${name},`) }).boundingBox())!;
  // Positions are read before tracing starts: locator calls run in the page and would count as frames.
  const handle = (await page.getByTestId('boundary-7').boundingBox())!;
  const gapY = { 7: (await rowBox('dense_8')).y, 8: (await rowBox('dense_out')).y };
  let at = Number(await page.getByTestId('boundary-7').getAttribute('aria-valuenow')) as 7 | 8;
  const x = handle.x + 40;
  await browser.startTracing(page, { categories: ['devtools.timeline', 'toplevel'] });
  for (let i = 0; i < DROPS; i++) {
    // Boundary 7 moves between the gaps before dense_8 and before dense_out (stage 7 or stage 8 holds two
    // layers, on machines of different speed and free memory): every drop changes the prediction.
    const to = at === 7 ? 8 : 7;
    await page.mouse.move(x, gapY[at] + 1);
    await page.mouse.down();
    // One pointer event per frame, as a mouse delivers them (Chromium aligns real input to frames);
    // Playwright's own `steps` fires them back to back, several per frame.
    for (let step = 1; step <= MOVES; step++) {
      await page.mouse.move(x + step, gapY[at] + ((gapY[to] - gapY[at]) * step) / MOVES + 1);
      await page.waitForTimeout(16);
    }
    await page.mouse.up();
    await page.evaluate(`window.__waitDrops(${i + 1})`);
    at = to;
  }
  const trace = await browser.stopTracing();
  if (process.env.BENCH_TRACE) fs.writeFileSync(process.env.BENCH_TRACE, trace);
  const frames = frameBusyTimes(trace);
  const drops = (await page.evaluate('window.__drops')) as number[];
  const roundTrips = (await page.evaluate(
    "performance.getEntriesByName('pf:predict').slice(-" + DROPS + ').map((e) => e.duration)',
  )) as number[];
  const layers = await page.getByTestId('stage-8-layers').textContent();
  out = [
    `designer bench: Chromium ${browser.version()}, 1600×1000, ${os.cpus().length} cores (shared); deep-mlp as 8 stages on ${MACHINES} synthetic machines; synthetic backend → real ApiServer → real WebSocket → production renderer build`,
    `boundary drop → updated prediction on screen (${drops.length} drops, ${MOVES} pointer moves each, one per frame): median ${f(percentile(drops, 50))}, p95 ${f(percentile(drops, 95))}, max ${f(Math.max(...drops))} (goal < 50 ms: ${percentile(drops, 95) < 50 ? 'met' : 'NOT met'} at p95)`,
    `  of which the engine's round trip (request → answer in the page, WebSocket + validation + prediction): median ${f(percentile(roundTrips, 50))}, p95 ${f(percentile(roundTrips, 95))}; the rest is rendering the drop and the answer`,
    `frames while dragging: ${frames.length}; main-thread frame time p50 ${f(percentile(frames, 50))}, p95 ${f(percentile(frames, 95))}, p99 ${f(percentile(frames, 99))}, max ${f(Math.max(...frames))}; ${frames.filter((x) => x >= 16).length} frames >= 16 ms (goal p95 < 16 ms: ${percentile(frames, 95) < 16 ? 'met' : 'NOT met'})`,
    `last layout: stage 8 = ${layers}`,
  ].join('\n');
  await page.close();
} finally {
  await close();
}
process.stdout.write(out + '\n');
