// npm run bench:backend — compute backends side by side in one run: matrix-product GFLOP/s (plain
// and each transposed form), training samples/s for the catalogue's deep-mlp, mnist-cnn and char
// model, and deep-mlp's speed against the bound its FLOPs set at the plain product rate. The wasm
// backend is measured twice: with Pipefitter's kernels and as shipped (its stock kernels restored).
// webgpu (Dawn) is measured on whatever adapter it finds, a software one included (said so: on
// llvmpipe the figures only prove it runs), with deep-mlp also at batch 1024 and the cost of
// reading one micro-batch's activations back from the GPU.
import os from 'node:os';
import type { Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import { BACKEND_ORDER } from '../../native/backend/initBackend.js';
import { loadBackend } from '../../native/backend/loadBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import {
  installWasmKernels,
  stockKernel,
  uninstallWasmKernels,
} from '../../native/backend/wasmKernels/index.js';
import { getModel } from '../../native/model/catalogue.js';
import type { ModelSpec } from '../../native/model/spec.js';
import type { BackendName } from '../../native/protocol/inventorySchemas.js';
import { samplesFor, trainSteps, type TrainOptions } from '../helpers/backendTraining.js';

const [M, K, N] = [256, 1024, 1024];
const FORMS = [
  ['A·B', false, false],
  ['Aᵀ·B', true, false],
  ['A·Bᵀ', false, true],
  ['Aᵀ·Bᵀ', true, true],
] as const;

type Variant = { label: string; backend: BackendName; stock: boolean };

const pad = (s: string, n: number) => s.padEnd(n);
const num = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** GFLOP/s of one product form, timed for about `budgetMs` after a warm-up call (one round). */
async function matMulRate(
  tf: Tf,
  ta: boolean,
  tb: boolean,
  stock: boolean,
  budgetMs: number,
): Promise<number> {
  const a = tf.randomUniform(ta ? [K, M] : [M, K]);
  const b = tf.randomUniform(tb ? [N, K] : [K, N]);
  const product = (): Tensor => {
    if (!stock) return tf.matMul(a, b, ta, tb);
    // The shipped kernel function itself, called as the engine would call it.
    const info = stockKernel('BatchMatMul')({
      inputs: { a, b },
      backend: tf.backend(),
      attrs: { transposeA: ta, transposeB: tb },
    }) as TensorInfo;
    return tf.engine().makeTensorFromTensorInfo(info);
  };
  // Asynchronous reads: the only kind a GPU backend has in Node.
  const once = async () => {
    const c = product();
    await c.data();
    c.dispose();
  };
  await once();
  let n = 0;
  const started = performance.now();
  while (n < 2 || (performance.now() - started < budgetMs && n < 100)) {
    await once();
    n++;
  }
  const seconds = (performance.now() - started) / 1000;
  tf.dispose([a, b]);
  return (2 * M * K * N * n) / seconds / 1e9;
}

/** Multiply-adds ×2 of one deep-mlp sample's training step: forward, weight and input gradients. */
function denseTrainingFlops(spec: ModelSpec): number {
  let fan = spec.inputShape[0]!;
  let flops = 0;
  spec.layers.forEach((l, i) => {
    const units = l.config.units as number;
    const products = i === 0 ? 2 : 3; // the first layer's input gradient is never computed
    flops += products * 2 * fan * units;
    fan = units;
  });
  return flops;
}

interface Job {
  id: string;
  batch: number;
  opts: TrainOptions;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Samples/s from the median step: this machine is shared, and a median step shrugs off the steps
 * another process's burst slowed down, where a mean would not.
 */
async function samplesPerSecond(tf: Tf, job: Job): Promise<string | number> {
  const spec = getModel(job.id);
  try {
    const r = await trainSteps(tf, spec, samplesFor(spec, job.batch * 4), job.batch, 50, job.opts);
    return job.batch / median(r.stepSeconds);
  } catch (err) {
    const message = (err as Error).message;
    const missing = /Kernel '(\w+)' not registered/.exec(message);
    return missing ? `fails: no ${missing[1]} kernel` : `fails: ${message.split('\n')[0]}`;
  }
}

function jobsFor(v: Variant): Job[] {
  // Slow variants: no untimed warm-up (their first step is seconds; tracing is noise in it) and one
  // timed step; smaller batches on cpu, whose per-sample cost does not depend on the batch.
  const slow: TrainOptions = { warmupSteps: 0, budgetSeconds: 0 };
  const fast: TrainOptions = { warmupSteps: 1, budgetSeconds: 4 };
  if (v.backend === 'cpu')
    return [
      { id: 'deep-mlp', batch: 64, opts: slow },
      { id: 'mnist-cnn', batch: 8, opts: slow },
      { id: 'char-gru', batch: 64, opts: slow },
    ];
  if (v.backend === 'webgpu')
    return [
      { id: 'deep-mlp', batch: 256, opts: fast },
      { id: 'deep-mlp', batch: 1024, opts: fast },
      { id: 'mnist-cnn', batch: 64, opts: fast },
      { id: 'char-gru', batch: 64, opts: fast },
    ];
  if (v.stock)
    return [
      { id: 'deep-mlp', batch: 256, opts: slow },
      { id: 'mnist-cnn', batch: 64, opts: slow },
      { id: 'char-gru', batch: 64, opts: slow },
    ];
  return [
    { id: 'deep-mlp', batch: 256, opts: fast },
    { id: 'mnist-cnn', batch: 64, opts: fast },
    { id: 'char-gru', batch: 64, opts: fast },
  ];
}

/**
 * What a stage pays to put one micro-batch's activations on the wire from a GPU: the read-back of
 * a deep-mlp hidden layer's output (rows × 1024 float32), against computing it.
 */
async function readBack(tf: Tf, label: string): Promise<void> {
  console.log(`\n${label}: read-back of one micro-batch's activations (rows × 1024 float32)`);
  const w = tf.randomUniform([1024, 1024]);
  for (const rows of [64, 256, 1024]) {
    const x = tf.randomUniform([rows, 1024]);
    const compute = () => tf.tidy(() => tf.relu(tf.matMul(x, w)));
    const forward: number[] = [];
    const read: number[] = [];
    for (let i = 0; i < 11; i++) {
      const t0 = performance.now();
      const y = compute();
      // A 1-element read waits for the product itself; then the full read-back is timed alone.
      const one = tf.slice(y, [0, 0], [1, 1]);
      await one.data();
      one.dispose();
      const t1 = performance.now();
      await y.data();
      const t2 = performance.now();
      y.dispose();
      if (i === 0) continue; // warm-up: shader compilation, buffer allocation
      forward.push(t1 - t0);
      read.push(t2 - t1);
    }
    const mb = (rows * 1024 * 4) / 2 ** 20;
    const cost = median(read);
    console.log(
      `  ${pad(`${rows} rows (${mb.toFixed(2)} MiB)`, 22)}forward ${num(median(forward))} ms, ` +
        `read-back ${num(cost)} ms (${num(mb / 1024 / (cost / 1000))} GiB/s)`,
    );
    x.dispose();
  }
  w.dispose();
}

async function main() {
  const started = performance.now();
  console.log(
    `backend bench: node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), ` +
      `load average ${os.loadavg()[0]!.toFixed(2)} at start`,
  );
  const variants: Variant[] = [];
  const tfs = new Map<BackendName, Tf>();
  for (const name of BACKEND_ORDER) {
    // A software webgpu adapter is measured too (as forcing webgpu would use it), and labelled.
    const r = await loadBackend(name, { allowSoftware: true });
    if (!r.ok) {
      console.log(`  ${pad(name, 15)} unavailable: ${r.reason}`);
      continue;
    }
    console.log(`  ${pad(name, 15)} ${r.detail}`);
    tfs.set(name, r.tf);
    variants.push({
      label:
        name === 'wasm'
          ? 'wasm (Pipefitter)'
          : name === 'webgpu' && r.adapter?.software
            ? 'webgpu (software)'
            : name,
      backend: name,
      stock: false,
    });
    if (name === 'wasm') variants.push({ label: 'wasm (as shipped)', backend: name, stock: true });
  }
  const use = async (v: Variant): Promise<Tf> => {
    const tf = tfs.get(v.backend)!;
    await tf.setBackend(v.backend);
    if (v.backend === 'wasm') (v.stock ? uninstallWasmKernels : installWasmKernels)();
    return tf;
  };

  console.log(`\nmatMul ${M}×${K} · ${K}×${N}, GFLOP/s (best of 3 interleaved rounds)`);
  console.log(`  ${pad('', 20)}${FORMS.map(([f]) => pad(f, 9)).join('')}`);
  const best = new Map<string, number[]>(variants.map((v) => [v.label, FORMS.map(() => 0)]));
  for (let round = 0; round < 3; round++) {
    for (const v of variants) {
      const tf = await use(v);
      const budget = v.backend === 'cpu' ? 500 : 300;
      const rates = best.get(v.label)!;
      for (const [i, [, ta, tb]] of FORMS.entries())
        rates[i] = Math.max(rates[i]!, await matMulRate(tf, ta, tb, v.stock, budget));
    }
  }
  // The bound uses the best plain rate seen on the backend: a plain product runs the same shipped
  // kernel with or without Pipefitter's, so any difference between those rows is load noise.
  const plainRate = new Map<string, number>();
  for (const v of variants) {
    const rates = best.get(v.label)!;
    const sameBackend = variants.filter((w) => w.backend === v.backend);
    plainRate.set(v.label, Math.max(...sameBackend.map((w) => best.get(w.label)![0]!)));
    console.log(`  ${pad(v.label, 20)}${rates.map((r) => pad(num(r), 9)).join('')}`);
  }

  console.log('\ntraining, samples/s from the median step (Adam; batch in brackets)');
  const speed = new Map<string, Map<string, string | number>>();
  const failures: string[] = [];
  for (const v of variants) {
    const tf = await use(v);
    const row = new Map<string, string | number>();
    const cells: string[] = [];
    for (const job of jobsFor(v)) {
      const s = await samplesPerSecond(tf, job);
      // deep-mlp's row keeps the batch-256 figure for the bound below; 1024 prints alongside.
      if (!row.has(job.id)) row.set(job.id, s);
      cells.push(pad(typeof s === 'number' ? `${num(s)} [${job.batch}]` : 'fails (below)', 16));
      if (typeof s !== 'number') failures.push(`  ${v.label}, ${job.id}: ${s}`);
    }
    speed.set(v.label, row);
    console.log(`  ${pad(v.label, 20)}${cells.join('')}`);
  }
  console.log(`  ${pad('', 20)}${pad('deep-mlp', 16)}${pad('mnist-cnn', 16)}char-gru`);
  if (variants.some((v) => v.backend === 'webgpu'))
    console.log(`  ${pad('', 20)}(webgpu: deep-mlp at 256 and 1024, then mnist-cnn, char-gru)`);
  for (const f of failures) console.log(f);

  // The CNN on wasm at the cpu's batch, for a like-for-like ratio.
  const wasm = variants.find((v) => v.backend === 'wasm' && !v.stock);
  let cnnAt8: number | string | null = null;
  if (wasm) {
    const tf = await use(wasm);
    cnnAt8 = await samplesPerSecond(tf, {
      id: 'mnist-cnn',
      batch: 8,
      opts: { warmupSteps: 1, budgetSeconds: 2 },
    });
  }

  console.log('\ndeep-mlp against its FLOP bound at the plain matMul rate');
  const flops = denseTrainingFlops(getModel('deep-mlp'));
  for (const v of variants) {
    const s = speed.get(v.label)?.get('deep-mlp');
    const rate = plainRate.get(v.label)!;
    const bound = (rate * 1e9) / flops;
    if (typeof s !== 'number') continue;
    console.log(
      `  ${pad(v.label, 20)}${num(s)} samples/s of ${num(bound)} allowed by ${num(rate)} GFLOP/s ` +
        `(${((flops / 1e6) | 0).toLocaleString('en')} MFLOP/sample): ${((100 * s) / bound).toFixed(0)}%`,
    );
  }
  const cpuCnn = speed.get('cpu')?.get('mnist-cnn');
  if (typeof cnnAt8 === 'number' && typeof cpuCnn === 'number')
    console.log(
      `\nmnist-cnn at batch 8: wasm ${num(cnnAt8)} samples/s vs cpu ${num(cpuCnn)}: ` +
        `${(cnnAt8 / cpuCnn).toFixed(1)}× (at batch 64 wasm trains ${num(speed.get('wasm (Pipefitter)')?.get('mnist-cnn') as number)} samples/s)`,
    );
  const gpu = variants.find((v) => v.backend === 'webgpu');
  if (gpu) await readBack(await use(gpu), gpu.label);
  console.log(`\nbench took ${((performance.now() - started) / 1000).toFixed(0)} s`);
  if (wasm) installWasmKernels();
}

await main();
