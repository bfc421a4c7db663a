import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiServer } from '../../native/api/server.js';
import { WebServer } from '../../native/web/webServer.js';
import { launchChromium } from '../e2e/browser.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Main-thread busy ms per frame from a Chromium trace: the top-level tasks grouped by the animation frame
 * they precede (the page runs a rAF loop so every frame is marked). Headless Chromium paces frames at
 * ~60 Hz whatever the page does, so the interval between frames is no measure; the busy time is.
 */
interface TraceEvent {
  name: string;
  ph: string;
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: { name?: string };
}

export function frameBusyTimes(trace: Buffer): number[] {
  const events = (JSON.parse(trace.toString()) as { traceEvents: TraceEvent[] }).traceEvents;
  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  if (!main) throw new Error('no renderer main thread in the trace');
  const onMain = events.filter((e) => e.pid === main.pid && e.tid === main.tid);
  const frameStarts = onMain
    .filter((e) => e.name === 'FireAnimationFrame')
    .map((e) => e.ts)
    .sort((a, b) => a - b);
  const tasks = onMain.filter(
    (e) => e.name === 'ThreadControllerImpl::RunTask' && e.ph === 'X' && e.dur !== undefined,
  );
  const busy = new Array<number>(Math.max(0, frameStarts.length - 1)).fill(0);
  let i = 0;
  for (const t of tasks.sort((a, b) => a.ts - b.ts)) {
    while (i < frameStarts.length - 1 && t.ts >= frameStarts[i + 1]!) i++;
    if (i < busy.length && t.ts >= frameStarts[0]!) busy[i]! += t.dur! / 1000;
  }
  return busy;
}

export const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

/**
 * The production UI behind the real ApiServer and browser-mode WebSocket, fed by a synthetic backend,
 * in the e2e tests' Chromium (test/e2e/browser.ts): what every UI bench measures against.
 */
export async function startUiBench(backend: ConstructorParameters<typeof ApiServer>[0]) {
  const api = new ApiServer(backend, { batchMs: 20 });
  const web = new WebServer({
    api,
    token: 'bench',
    staticDir: path.join(root, 'dist', 'renderer'),
    port: 0,
  });
  await web.listen();
  const browser = await launchChromium();
  return {
    web,
    browser,
    async close(): Promise<void> {
      await browser.close();
      await web.close();
      api.close();
    },
  };
}
