import { OPTIMIZER_KERNELS_PER_VARIABLE } from '../model/cost.js';
import { OPTIMIZER_NAMES } from '../common/names.js';
import type { OptimizerName } from '../common/schemas.js';
import type {
  BackendName,
  BackendReport,
  SpeedOverhead,
  SpeedReport,
} from '../protocol/inventorySchemas.js';
import { BACKEND_ORDER } from './initBackend.js';
import type { Scalar, Tensor, Tensor4D } from '@tensorflow/tfjs-core';
import type * as Zmq from 'zeromq';
import type { Tf } from './tfTypes.js';
import type { CurvePoint } from '../util/speedCurve.js';
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
  const overhead = backend === 'cpu' ? undefined : await measureOverhead(tf);
  const loopback = overhead ? await measureLoopback() : null;
  return {
    backend,
    gpu,
    device: loaded.adapter ? loaded.adapter.description || loaded.adapter.device : null,
    gflops: Math.round(gflops * 100) / 100,
    matrix: [m, k, n],
    measuredAt: Date.now(),
    durationMs: Math.round(seconds * 1000),
    ...(curve ? { curve } : {}),
    ...(overhead ? { overhead: loopback ? { ...overhead, loopback } : overhead } : {}),
  };
}

/**
 * The median of `rounds` windows of `times` calls of `f`, in seconds per call, after one warm-up
 * call. The median, not the best: stages meet the machine's typical speed, and the best of several
 * windows on a shared machine is a lucky one (predictions made from it were too fast). One odd
 * window either way does not move it.
 */
async function typicalSeconds(f: () => Promise<void>, times: number, rounds = 5): Promise<number> {
  await f();
  const windows: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < times; i++) await f();
    windows.push((performance.now() - t0) / times);
  }
  return median(windows) / 1000;
}

/**
 * Seconds `large` takes beyond `small` (calls per window each), as the median of nine pairs of
 * windows timed in turn: a drift in the machine's speed during the probe then moves both of a pair
 * alike. Timed apart, the kernel-launch figure ranged from 4.4 to 7.6 µs from run to run here, and the
 * elementwise one doubled.
 */
async function pairedExtraSeconds(
  small: { run: () => Promise<void>; times: number },
  large: { run: () => Promise<void>; times: number },
): Promise<number> {
  const extra: number[] = [];
  for (let r = 0; r < 9; r++) {
    const tSmall = await typicalSeconds(small.run, small.times, 1);
    const tLarge = await typicalSeconds(large.run, large.times, 1);
    extra.push(tLarge - tSmall);
  }
  return median(extra);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * The probe's methods, counted: a cached report taken by an older revision is measured again, since
 * its figures are not what this probe would say (4: each product's own rate on the curve; 3: the
 * optimizer step timed as a stage meets it; 2: the repack and embedding figures; 1: before).
 */
export const OVERHEAD_PROBE_REVISION = 4;

/** Elements of the vector the optimizer step is measured on: a dense layer's worth (1024 × 1024). */
const STEP_PROBE_SIZE = 1 << 20;

/**
 * What a backend costs beyond the products the curve times, which small layers, recurrent layers (a
 * chain of kernels per time step) and the optimizer are mostly made of: each kernel's launch, the
 * read-back that ends every F and B that sends a tensor, and each optimizer's update per parameter
 * (elementwise and memory-bound: on wasm about ten times what its FLOPs at the product rate say).
 */
export async function measureOverhead(tf: Tf): Promise<SpeedOverhead> {
  const kernelSeconds = await measureKernelSeconds(tf);
  const x = tf.ones([4, 4]);
  // One tiny kernel and its read-back: the read-back, give or take a launch.
  const readbackSeconds = await typicalSeconds(async () => {
    const y = tf.add(x, x);
    await y.data();
    y.dispose();
  }, 40);
  x.dispose();
  const grad = tf.ones([STEP_PROBE_SIZE]);
  const stepSecondsPerParam = {} as Record<OptimizerName, number>;
  const flush = tf.ones([4]);
  for (const name of OPTIMIZER_NAMES) {
    const v = tf.variable(tf.zeros([STEP_PROBE_SIZE]));
    const opt =
      name === 'sgd'
        ? tf.train.sgd(0.001)
        : name === 'momentum'
          ? tf.train.momentum(0.001, 0.9)
          : tf.train.adam(0.001);
    // Warm: the first updates create the optimizer's state, which a stage pays once a run.
    for (let i = 0; i < 3; i++) opt.applyGradients([{ name: v.name, tensor: grad }]);
    const seconds = await typicalSeconds(async () => {
      opt.applyGradients([{ name: v.name, tensor: grad }]);
      // A tiny kernel queued after the update and read back waits for it (a GPU runs its queue in
      // order). Not a slice of the variable: on wasm, reading a slice of it after every update put
      // the update into a mode 2–30 times slower per element (adam 16 ns, sgd 11 ns an element,
      // against 5 and 0.4 without), which a stage's STEP, reading nothing back, never meets:
      // mnist-mlp's and deep-mlp's STEP were predicted at three times what they took.
      const done = tf.add(flush, flush);
      await done.data();
      done.dispose();
    }, 8);
    // The update's launches are charged per variable (OPTIMIZER_KERNELS_PER_VARIABLE): not twice.
    const launches = OPTIMIZER_KERNELS_PER_VARIABLE[name] * kernelSeconds;
    stepSecondsPerParam[name] = sig(Math.max(0, seconds - launches) / STEP_PROBE_SIZE);
    opt.dispose();
    v.dispose();
  }
  // Elementwise work (a recurrent layer's gates): what a chain of adds costs per element beyond its
  // launches, at the sizes gates have (thousands of elements, in cache). A streaming add over a
  // megabyte-sized vector measured anything from 0.7 to 3.4 ns an element from run to run here, as
  // fresh heap pages came and went, and made recurrent models' predictions swing by a third.
  const elementSeconds = await measureElementSeconds(tf);
  tf.dispose([grad, flush]);
  return {
    revision: OVERHEAD_PROBE_REVISION,
    repackSecondsPerParam: sig(await measureRepack(tf)),
    ...(await measureGather(tf)),
    elementSeconds: sig(elementSeconds),
    poolGradSecondsPerElement: sig(await measurePoolGrad(tf)),
    kernelSeconds: sig(kernelSeconds),
    readbackSeconds: sig(readbackSeconds),
    stepSecondsPerParam,
  };
}

/**
 * Seconds per kernel launch as a stage pays it: a tiny GRU trained as a recomputing stage trains
 * (forward and backward in one autodiff call), at two sequence lengths, the difference in time over
 * the difference in kernels (tf.profile counts them). A chain of bare adds says up to two times less
 * on wasm: layers' and autodiff's JavaScript around each kernel is part of its launch. Sizes are
 * tiny, so neither FLOPs nor elements count (elementSeconds has those).
 */
async function measureKernelSeconds(tf: Tf): Promise<number> {
  const [SHORT, LONG] = [4, 36];
  const gru = tf.layers.gru({ units: 8 });
  const inputs = [SHORT, LONG].map((t) => tf.randomUniform([4, t, 8]));
  // The first apply builds its weights, which the gradients are then taken for.
  tf.dispose(gru.apply(inputs[0]!) as Tensor);
  const weights = gru.trainableWeights.map((w) => w.read());
  const run = async (x: Tensor) => {
    const { value, grads } = tf
      .engine()
      .gradients(
        () => tf.sum(gru.apply(x, { training: true }) as Tensor) as Scalar,
        [x, ...weights],
      );
    await grads[0]!.data();
    value.dispose();
    tf.dispose(grads);
  };
  const kernels = async (x: Tensor) => (await tf.profile(() => run(x))).kernels.length;
  const [kShort, kLong] = [await kernels(inputs[0]!), await kernels(inputs[1]!)];
  // Stages run warm: the first few hundred GRU steps here still run autodiff's JavaScript unoptimised
  // (the first figure a process took came out a third higher than its later ones).
  for (let i = 0; i < 8; i++) await run(inputs[1]!);
  const extra = await pairedExtraSeconds(
    { run: () => run(inputs[0]!), times: 10 },
    { run: () => run(inputs[1]!), times: 3 },
  );
  tf.dispose(inputs);
  gru.dispose();
  return kLong > kShort ? Math.max(0, extra / (kLong - kShort)) : 0;
}

/**
 * Seconds per element of an elementwise kernel on cache-sized tensors: a chain of 20 adds over 64 Ki
 * elements against the same over 4 Ki, the difference over the elements between them (the launches
 * cancel out). Each size is read back once, as a step of a recurrent layer is not.
 */
async function measureElementSeconds(tf: Tf): Promise<number> {
  const [SMALL, LARGE, CHAIN] = [1 << 12, 1 << 16, 20];
  const chainOf = (n: number) => {
    const x = tf.ones([n]);
    return {
      x,
      run: async () => {
        let y = x;
        for (let i = 0; i < CHAIN; i++) {
          const next = tf.add(y, x);
          if (y !== x) y.dispose();
          y = next;
        }
        const first = tf.slice(y, 0, 1);
        await first.data();
        tf.dispose([y, first]);
      },
    };
  };
  const [small, large] = [chainOf(SMALL), chainOf(LARGE)];
  const extra = await pairedExtraSeconds(
    { run: small.run, times: 20 },
    { run: large.run, times: 20 },
  );
  tf.dispose([small.x, large.x]);
  return Math.max(0, extra / (CHAIN * (LARGE - SMALL)));
}

/**
 * Seconds per weight element that a product by weights the optimizer has just changed costs beyond
 * the same product by unchanged weights: wasm's XNNPACK packs a weight matrix once and keeps it until
 * its tensor changes, which every step does. Medians of a Dense layer's fused product (bias, relu)
 * timed right after an Adam update (waited for; it also leaves the caches cold, as a stage's STEP
 * does) and with the weights unchanged, on a 1024 × 512 weight and a 16-row micro-batch.
 */
async function measureRepack(tf: Tf): Promise<number> {
  const N = 512;
  const w = tf.variable(tf.randomUniform([2 * N, N]));
  const g = tf.randomUniform([2 * N, N]);
  const x = tf.randomUniform([16, 2 * N]);
  const bias = tf.variable(tf.zeros([N]));
  const gb = tf.randomUniform([N]);
  const opt = tf.train.adam(1e-6);
  const product = async () => {
    const t0 = performance.now();
    const y = tf.fused.matMul({ a: x, b: w, bias, activation: 'relu' });
    await y.data();
    y.dispose();
    return performance.now() - t0;
  };
  const afterUpdate: number[] = [];
  const unchanged: number[] = [];
  await product();
  for (let i = 0; i < 31; i++) {
    opt.applyGradients([
      { name: w.name, tensor: g },
      { name: bias.name, tensor: gb },
    ]);
    const first = tf.slice(w, [0, 0], [1, 1]);
    await first.data();
    first.dispose();
    afterUpdate.push(await product());
    unchanged.push(await product());
  }
  tf.dispose([w, g, x, bias, gb]);
  opt.dispose();
  return Math.max(0, median(afterUpdate) - median(unchanged)) / 1000 / (2 * N * N);
}

/**
 * An embedding lookup as a stage runs one, per element it writes: the gather of a 16 × 32 micro-batch
 * of ids from a 64 × 32 table, and beyond it the gradient's scatter-add into the table (its forward
 * and backward under autodiff, less the gather). On wasm each is tens of ns an element, where the
 * lookup's few kernels' launches alone would say a fraction of a ns.
 */
async function measureGather(
  tf: Tf,
): Promise<{ gatherSecondsPerElement: number; scatterSecondsPerElement: number }> {
  const table = tf.randomUniform([64, 32]);
  const ids = tf.randomUniform([16 * 32], 0, 64, 'int32');
  const elements = 16 * 32 * 32;
  const gather = await typicalSeconds(
    async () => {
      const y = tf.gather(table, ids);
      await y.data();
      y.dispose();
    },
    10,
    7,
  );
  const both = await typicalSeconds(
    async () => {
      const { value, grads } = tf
        .engine()
        .gradients(() => tf.sum(tf.gather(table, ids)) as Scalar, [table]);
      await grads[0]!.data();
      value.dispose();
      tf.dispose(grads);
    },
    10,
    7,
  );
  tf.dispose([table, ids]);
  return {
    gatherSecondsPerElement: sig(gather / elements),
    scatterSecondsPerElement: sig(Math.max(0, both - gather) / elements),
  };
}

/**
 * A 2×2 max pooling's backward (its forward again, as a recomputing stage runs it, and the
 * gradient), per input element, on an MNIST-sized feature map.
 */
async function measurePoolGrad(tf: Tf): Promise<number> {
  const x = tf.randomUniform([4, 28, 28, 16]);
  // Nine windows of ten: five of five put the figure anywhere from 21 to 38 ns between probes.
  const seconds = await typicalSeconds(
    async () => {
      const { value, grads } = tf
        .engine()
        .gradients(() => tf.sum(tf.maxPool(x as Tensor4D, 2, 2, 'valid')) as Scalar, [x]);
      await grads[0]!.data();
      value.dispose();
      tf.dispose(grads);
    },
    10,
    9,
  );
  const n = x.size;
  x.dispose();
  return seconds / n;
}

/**
 * The link between two agents on this computer, as stages use it: CurveZMQ over loopback, a small
 * message's send-to-receive (the latency) and a 1 MiB one's beyond that (the rate). Null where
 * ZeroMQ cannot be loaded here (the planner then keeps its default link).
 */
export async function measureLoopback(): Promise<{
  latencySeconds: number;
  bytesPerSecond: number;
} | null> {
  let zmq: typeof Zmq;
  try {
    zmq = await import('zeromq');
  } catch {
    return null;
  }
  const server = zmq.curveKeyPair();
  const client = zmq.curveKeyPair();
  const pull = new zmq.Pull({ curveServer: true, curveSecretKey: server.secretKey });
  const push = new zmq.Push({
    curveServerKey: server.publicKey,
    curvePublicKey: client.publicKey,
    curveSecretKey: client.secretKey,
  });
  try {
    await pull.bind('tcp://127.0.0.1:*');
    push.connect(pull.lastEndpoint!);
    const once = (payload: Buffer) => async () => {
      await push.send(payload);
      await pull.receive();
    };
    const MIB = 1 << 20;
    const small = await typicalSeconds(once(Buffer.alloc(64)), 20);
    const large = await typicalSeconds(once(Buffer.alloc(MIB)), 3);
    return {
      latencySeconds: sig(small),
      bytesPerSecond: sig(MIB / Math.max(large - small, 1e-6)),
    };
  } finally {
    push.close();
    pull.close();
  }
}

const sig = (x: number) => Number(x.toPrecision(3));

export const CURVE_ROWS = [16, 32, 64, 128, 256, 512, 1024] as const;

/**
 * GFLOP/s of one dense layer's training products at each micro-batch size, together (6·rows·k·n
 * FLOPs) and each apart: y = x·W, dx = dy·Wᵀ and dW = xᵀ·dy (2·rows·k·n each), each size the
 * median of five 60 ms windows after a warm-up. Each product is read back before the next starts,
 * so each is timed alone (a stage reads back once an F and once a B, so a GPU pays about as many).
 * The read-back is in each figure, and for dW (a k·n output) it is most of it at 16 rows on wasm;
 * waited for through a tiny kernel instead, the products run alike, but then every multi-stage
 * prediction was further off (ARCHITECTURE.md, cost model): keep the two changes together.
 */
export async function measureTrainingCurve(tf: Tf, k: number, n: number): Promise<CurvePoint[]> {
  const w = tf.randomUniform([k, n]);
  const sizes = CURVE_ROWS.map((rows) => {
    const x = tf.randomUniform([rows, k]);
    const dy = tf.randomUniform([rows, n]);
    const products = [
      () => tf.matMul(x, w),
      () => tf.matMul(dy, w, false, true),
      () => tf.matMul(x, dy, true, false),
    ];
    // Milliseconds each product took in the window being timed.
    const spent = [0, 0, 0];
    const once = async () => {
      for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        const y = products[i]!();
        await y.data();
        y.dispose();
        spent[i]! += performance.now() - t0;
      }
    };
    return { rows, x, dy, once, spent, windows: [] as number[][] };
  });
  for (const s of sizes) {
    await s.once();
    await s.once();
  }
  // The median of five short windows a size, the sizes taken in turn round after round: a one-off
  // hiccup (GC, another process) must not make a machine look slow to the planner for as long as
  // the figure is cached, nor a lucky one fast, and a drift in this shared machine's speed during
  // the probe reaches every size alike (three windows a size, one size after another, put the
  // 16-row figure anywhere between 11 and 19 GFLOP/s from one probe to the next here).
  for (let round = 0; round < 5; round++)
    for (const s of sizes) {
      s.spent.fill(0);
      const t0 = performance.now();
      let it = 0;
      do {
        await s.once();
        it++;
      } while (performance.now() - t0 < 60 && it < 300);
      s.windows.push(s.spent.map((ms) => ms / it));
    }
  const gflops = (flops: number, ms: number) => Math.round((flops / (ms / 1000) / 1e9) * 100) / 100;
  const out = sizes.map((s) => {
    tf.dispose([s.x, s.dy]);
    const product = (i: number) => median(s.windows.map((win) => win[i]!));
    const one = 2 * s.rows * k * n;
    return {
      rows: s.rows,
      gflops: gflops(3 * one, median(s.windows.map((win) => win[0]! + win[1]! + win[2]!))),
      forward: gflops(one, product(0)),
      inputGrad: gflops(one, product(1)),
      weightGrad: gflops(one, product(2)),
    };
  });
  w.dispose();
  return out;
}
