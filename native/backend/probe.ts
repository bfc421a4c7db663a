import type { BackendName, BackendReport, SpeedReport } from '../protocol/inventorySchemas.js';
import { BACKEND_ORDER } from './initBackend.js';
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
    reports.push(
      r.ok
        ? { name, available: true, reason: null, detail: r.detail }
        : { name, available: false, reason: r.reason, detail: null },
    );
  }
  return reports;
}

export function bestBackend(reports: BackendReport[]): BackendName | null {
  for (const name of BACKEND_ORDER)
    if (reports.find((r) => r.name === name)?.available) return name;
  return null;
}

/** GFLOP/s of an m×k · k×n product on the given backend, timed over about half a second after warm-up. */
export async function measureMatMulSpeed(
  backend: BackendName,
  m = 512,
  k = 1024,
  n = 1024,
): Promise<SpeedReport> {
  const loaded = await loadBackend(backend);
  if (!loaded.ok) throw new Error(`${backend}: ${loaded.reason}`);
  const { tf } = loaded;
  const a = tf.randomUniform([m, k]);
  const b = tf.randomUniform([k, n]);
  const run = () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  run();
  const started = performance.now();
  let iterations = 0;
  const budgetMs = backend === 'cpu' ? 1500 : 500;
  do {
    run();
    iterations++;
  } while (performance.now() - started < budgetMs && iterations < 200);
  const seconds = (performance.now() - started) / 1000;
  a.dispose();
  b.dispose();
  const gflops = (2 * m * k * n * iterations) / seconds / 1e9;
  return {
    backend,
    gflops: Math.round(gflops * 100) / 100,
    matrix: [m, k, n],
    measuredAt: Date.now(),
    durationMs: Math.round(seconds * 1000),
  };
}
