import { createRequire } from 'node:module';
import type * as TfCore from '@tensorflow/tfjs-core';
import type { BackendName, BackendReport, SpeedReport } from '../protocol/inventorySchemas.js';

/** Preference order: the first that loads and works is the one a stage trains with. */
export const BACKEND_ORDER: readonly BackendName[] = [
  'tensorflow-gpu',
  'tensorflow',
  'wasm',
  'cpu',
];

const require = createRequire(import.meta.url);

type Tf = typeof TfCore;

function explainLoadError(message: string): string {
  const lib = /lib(cudart|cublas|cudnn|cufft|curand|cusolver|cusparse)[^:\s]*/.exec(message);
  if (lib) {
    const what = lib[1] === 'cudnn' ? 'cuDNN 8.1' : 'CUDA 11.2 runtime';
    return `${what} not found (${lib[0]}): tfjs-node-gpu needs CUDA 11.2 and cuDNN 8.1`;
  }
  if (/libtensorflow/.test(message))
    return `libtensorflow missing: the package's install step did not download it (${message.split('\n')[0]})`;
  return message.split('\n')[0] ?? message;
}

async function probeNode(name: BackendName, pkg: string): Promise<BackendReport> {
  try {
    require.resolve(pkg);
  } catch {
    const needs =
      name === 'tensorflow-gpu'
        ? ' (optional dependency; needs CUDA 11.2 and cuDNN 8.1, and downloads libtensorflow at install)'
        : ' (optional dependency; downloads libtensorflow at install)';
    return { name, available: false, reason: `${pkg} is not installed${needs}`, detail: null };
  }
  try {
    const tf = require(pkg) as Tf;
    await tf.ready();
    const x = tf.ones([8, 8]);
    tf.matMul(x, x).dataSync();
    return {
      name,
      available: true,
      reason: null,
      detail: `TensorFlow ${tf.version_core ?? ''}`.trim(),
    };
  } catch (err) {
    return {
      name,
      available: false,
      reason: explainLoadError((err as Error).message),
      detail: null,
    };
  }
}

async function loadTfCore(): Promise<Tf> {
  return (await import('@tensorflow/tfjs-core')) as Tf;
}

async function probeEmbedded(name: 'wasm' | 'cpu'): Promise<BackendReport> {
  try {
    const tf = await loadTfCore();
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    else await import('@tensorflow/tfjs-backend-cpu');
    const ok = await tf.setBackend(name);
    if (!ok)
      return {
        name,
        available: false,
        reason: `${name} backend failed to initialise`,
        detail: null,
      };
    const x = tf.ones([8, 8]);
    const sum = tf.sum(tf.matMul(x, x)).dataSync()[0];
    if (sum !== 512)
      return {
        name,
        available: false,
        reason: `${name} backend computed a wrong result`,
        detail: null,
      };
    return {
      name,
      available: true,
      reason: null,
      detail: name === 'wasm' ? 'WebAssembly SIMD, 1 thread' : 'pure JavaScript',
    };
  } catch (err) {
    return {
      name,
      available: false,
      reason: (err as Error).message.split('\n')[0] ?? 'failed',
      detail: null,
    };
  }
}

/** Probes every backend in this process. Run it in a child: a broken native library may abort the process. */
export async function probeAllBackends(): Promise<BackendReport[]> {
  const reports: BackendReport[] = [];
  reports.push(await probeNode('tensorflow-gpu', '@tensorflow/tfjs-node-gpu'));
  reports.push(await probeNode('tensorflow', '@tensorflow/tfjs-node'));
  reports.push(await probeEmbedded('wasm'));
  reports.push(await probeEmbedded('cpu'));
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
  let tf: Tf;
  if (backend === 'tensorflow-gpu') tf = require('@tensorflow/tfjs-node-gpu') as Tf;
  else if (backend === 'tensorflow') tf = require('@tensorflow/tfjs-node') as Tf;
  else {
    tf = await loadTfCore();
    if (backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    else await import('@tensorflow/tfjs-backend-cpu');
    if (!(await tf.setBackend(backend))) throw new Error(`${backend} backend failed to initialise`);
  }
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
