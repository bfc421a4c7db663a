import type { BackendName, BackendReport, SpeedReport } from '../protocol/inventorySchemas.js';
import { BACKEND_ORDER } from './initBackend.js';
import type { Tf } from './tfTypes.js';
import { loadBackend } from './loadBackend.js';

export { BACKEND_ORDER };

/**
 * Tries every backend in this process, for the inventory. Run it in a child (backendWorker.ts): a
 * broken native library may abort the process that loads it.
 */
export async function probeAllBackends(): Promise<BackendReport[]> {
  const reports: BackendReport[] = [];
  for (const name of BACKEND_ORDER) {
    const r = await loadBackend(name);
    const adapter = r.adapter ? { adapter: r.adapter } : {};
    reports.push(
      r.ok
        ? { name, available: true, reason: null, detail: r.detail, ...adapter }
        : { name, available: false, reason: r.reason, detail: null, ...adapter },
    );
  }
  return reports;
}

/** The first working backend in the fallback order (before, or without, measurements). */
export function bestBackend(reports: BackendReport[]): BackendName | null {
  for (const name of BACKEND_ORDER)
    if (reports.find((r) => r.name === name)?.available) return name;
  return null;
}

/**
 * GFLOP/s of an m×k · k×n product on the given backend, timed over about half a second after
 * warm-up. `gpu` records which GPU the measuring process was pinned to (gpuPinning.ts).
 */
export async function measureMatMulSpeed(
  backend: BackendName,
  gpu: number | null = null,
  // The pure-JS backend is measured on a thinner product: every agent measures it now (it is a
  // candidate like the others), and its rate barely depends on the rows.
  m = backend === 'cpu' ? 64 : 512,
  k = 1024,
  n = 1024,
): Promise<SpeedReport> {
  const loaded = await loadBackend(backend);
  if (!loaded.ok) throw new Error(`${backend}: ${loaded.reason}`);
  const { tf } = loaded;
  const a = tf.randomUniform([m, k]);
  const b = tf.randomUniform([k, n]);
  // Asynchronous read-backs: a GPU backend cannot read synchronously in Node (and should not).
  const run = async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  };
  await run();
  const started = performance.now();
  let iterations = 0;
  const budgetMs = 500;
  do {
    await run();
    iterations++;
  } while (performance.now() - started < budgetMs && iterations < 200);
  const seconds = (performance.now() - started) / 1000;
  a.dispose();
  b.dispose();
  const gflops = (2 * m * k * n * iterations) / seconds / 1e9;
  // The pure-JS backend would take minutes over the curve; it gets the headline figure only.
  const curve = backend === 'cpu' ? undefined : await measureTrainingCurve(tf, k, n);
  return {
    backend,
    gpu,
    device: loaded.adapter ? loaded.adapter.description || loaded.adapter.device : null,
    gflops: Math.round(gflops * 100) / 100,
    matrix: [m, k, n],
    measuredAt: Date.now(),
    durationMs: Math.round(seconds * 1000),
    ...(curve ? { curve } : {}),
  };
}

export const CURVE_ROWS = [16, 32, 64, 128, 256, 512, 1024] as const;

/**
 * GFLOP/s of one dense layer's training products at each micro-batch size: y = x·W, dW = xᵀ·dy,
 * dx = dy·Wᵀ (6·rows·k·n FLOPs), each size the best of three 100 ms windows after a warm-up.
 */
async function measureTrainingCurve(
  tf: Tf,
  k: number,
  n: number,
): Promise<{ rows: number; gflops: number }[]> {
  const w = tf.randomUniform([k, n]);
  const out: { rows: number; gflops: number }[] = [];
  for (const rows of CURVE_ROWS) {
    const x = tf.randomUniform([rows, k]);
    const dy = tf.randomUniform([rows, n]);
    // One read-back per step, as a stage does: the three products queue on a GPU back to back.
    const once = async () => {
      const ys = [tf.matMul(x, w), tf.matMul(x, dy, true, false), tf.matMul(dy, w, false, true)];
      await Promise.all(ys.map((y) => y.data()));
      tf.dispose(ys);
    };
    await once();
    await once();
    // Best of three short windows: a one-off hiccup (GC, another process) must not make a machine
    // look slow to the planner for as long as the figure is cached.
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      let it = 0;
      do {
        await once();
        it++;
      } while (performance.now() - t0 < 100 && it < 500);
      best = Math.min(best, (performance.now() - t0) / it);
    }
    x.dispose();
    dy.dispose();
    out.push({ rows, gflops: Math.round(((6 * rows * k * n) / (best / 1000) / 1e9) * 100) / 100 });
  }
  w.dispose();
  return out;
}
