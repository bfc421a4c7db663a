// npm run bench:pipeline
// deep-mlp, global batch 1024, one backend (wasm), side by side in one run: single-process training
// samples/s; a 2-stage pipeline over 2 local agent processes (GPipe, 1F1B and ZB-H1, 4, 8 and 16
// micro-batches); each one's ratio to single-process; the planner's simulated prediction for the same
// plan and measured/predicted. A flush schedule with m micro-batches on p stages reaches at best
// p·m/(m+p−1) of single-process (1.88× for m = 16, p = 2).
// Goals on a 2-core machine: best configuration ≥ 1.75× single-process; every configuration within
// 10% of its prediction (BENCH_SCHEDULES=a,b for only those schedules). Then data parallelism (1 stage × 2 replicas; BENCH_DP_ONLY=1 for only that):
// goal ≥ 95% of the machine's parallel capacity, prediction within 10%. Then a line per catalogue
// model, measured against predicted (BENCH_MODELS_ONLY=1 for only those; BENCH_MODEL_STAGES=1,2,3 and
// BENCH_MODEL_SCHEDULES=gpipe,1f1b,zb-h1 for more than 2 stages of 1F1B): goal within 10% each.
// Last, the noise floor: one model line three times, each from a fresh probe (BENCH_NOISE=0 skips
// it, BENCH_NOISE_MODEL=deep-mlp picks another model).
import { execFile } from 'node:child_process';
import os from 'node:os';
import { initBackend } from '../../native/backend/initBackend.js';
import { SCHEDULE_KINDS } from '../../native/common/names.js';
import type { ScheduleKind } from '../../native/planner/schedule.js';
import { Coordinator } from '../../native/coordinator/coordinator.js';
import { RunController } from '../../native/coordinator/runController.js';
import { openDataset } from '../../native/data/openDataset.js';
import { EpochSampler } from '../../native/data/sampler.js';
import { getModel, listModels } from '../../native/model/catalogue.js';
import type { ModelSpec } from '../../native/model/spec.js';
import { datasetFeed } from '../../native/pipeline/datasetFeed.js';
import { LocalPipeline } from '../../native/pipeline/localPipeline.js';
import { ReferenceTrainer } from '../../native/pipeline/referenceTrainer.js';
import { clusterFromNodes } from '../../native/coordinator/nodesToCluster.js';
import { makePlan } from '../../native/planner/plan.js';
import { runnableStages } from '../../native/planner/planTopology.js';
import { planRunStages } from '../../native/runs/runOrchestrator.js';
import { selfCommand } from '../../native/util/selfCommand.js';
import {
  startAgent,
  stopAgent,
  tempDir,
  testBeaconPort,
  TEST_TOKEN,
  type RunningAgent,
} from '../helpers/agents.js';

const BATCH = 1024;
const STEPS = Number(process.env.BENCH_STEPS ?? 8);
const WARMUP = 2;
const optimizer = { name: 'adam', learningRate: 0.001 } as const;
const spec = getModel('deep-mlp');

const { tf } = await initBackend({ prefer: 'wasm' });
console.log(
  `bench:pipeline: deep-mlp, batch ${BATCH}, adam, wasm, ${os.cpus().length} cores (${os.cpus()[0]?.model}), load ${os.loadavg()[0]!.toFixed(2)}`,
);

const ds = openDataset('mnist', spec);
const feed = datasetFeed(ds, new EpochSampler(ds.size('train'), BATCH, 1), 1, spec.inputShape);
// Two single-process trainers: tfjs's own autodiff over the whole model, and Pipefitter's stage
// executor holding every layer (kept activations, no recompute). The faster is the yardstick.
const ref = new ReferenceTrainer(tf, spec, 1, optimizer, feed);
for (let s = 0; s < WARMUP; s++) ref.step(s);
let t0 = performance.now();
for (let s = WARMUP; s < WARMUP + STEPS - 2; s++) ref.step(s);
const autodiff = ((STEPS - 2) * BATCH) / ((performance.now() - t0) / 1000);
ref.dispose();
const whole = new LocalPipeline(
  tf,
  spec,
  [{ start: 0, end: spec.layers.length }],
  'gpipe',
  1,
  optimizer,
  feed,
);
for (let s = 0; s < WARMUP; s++) await whole.step(s);
t0 = performance.now();
for (let s = WARMUP; s < WARMUP + STEPS - 2; s++) await whole.step(s);
const executor = ((STEPS - 2) * BATCH) / ((performance.now() - t0) / 1000);
whole.dispose();
const single = Math.max(autodiff, executor);
console.log(
  `single process: tfjs autodiff ${autodiff.toFixed(0)} samples/s, Pipefitter executor (1 stage) ${executor.toFixed(0)} samples/s; yardstick ${single.toFixed(0)} samples/s`,
);

// How much two busy processes slow each other here (shared caches, memory bandwidth, a hypervisor's
// idea of a core): the ceiling any 2-process pipeline can reach on this machine, whatever its schedule.
const speedOnce = () =>
  new Promise<number>((resolve, reject) => {
    const [cmd, args] = selfCommand('__backend-worker', 'speed', 'wasm');
    execFile(cmd, args, (err, out) =>
      err
        ? reject(err)
        : resolve((JSON.parse(out.trim().split('\n').pop()!) as { gflops: number }).gflops),
    );
  });
const alone = await speedOnce();
const together = await Promise.all([speedOnce(), speedOnce()]);
const capacity = (together[0]! + together[1]!) / alone;
console.log(
  `parallel capacity: one matMul process ${alone.toFixed(1)} GFLOP/s alone, two at once ${together.map((g) => g.toFixed(1)).join(' + ')} = ${capacity.toFixed(2)}× one`,
);

const agents: RunningAgent[] = [];
const beaconPort = testBeaconPort();
agents.push(
  ...(await Promise.all(['bench-a', 'bench-b'].map((name) => startAgent({ name, beaconPort })))),
);
// The per-model lines' stage counts and schedules (BENCH_MODEL_STAGES=1,2,3,
// BENCH_MODEL_SCHEDULES=gpipe,1f1b,zb-h1): one local agent a stage, so 3 stages start a third.
const modelStages = (process.env.BENCH_MODEL_STAGES ?? '2').split(',').map(Number);
const modelSchedules = (process.env.BENCH_MODEL_SCHEDULES ?? '1f1b').split(',') as ScheduleKind[];
for (const sc of modelSchedules)
  if (!SCHEDULE_KINDS.includes(sc))
    throw new Error(`BENCH_MODEL_SCHEDULES: unknown schedule ${sc}`);
if (Math.max(...modelStages) > 2) agents.push(await startAgent({ name: 'bench-c', beaconPort }));
// startAgent passes --no-benchmark; ask each agent for its speed (with the micro-batch curve) now.
const coordinator = new Coordinator({ stateDir: tempDir(), token: TEST_TOKEN, discover: false });
await coordinator.start();
await Promise.all(
  agents.map((a) => coordinator.addPeer(`127.0.0.1:${a.ready.controlPort}`, { persist: false })),
);
for (const a of agents) await coordinator.benchmark(a.ready.nodeId, true);
let measuredAt = performance.now();
/**
 * This shared VM's speed drifts by a quarter within minutes (mnist-cnn's step went from 86 to 131 ms
 * between two runs three minutes apart), which no cost model can foresee: every line is planned
 * from speeds at most BENCH_REMEASURE_S (default 60) seconds old, as a run planned right
 * after its agents measured would be.
 */
async function remeasureIfStale(): Promise<void> {
  const maxAgeMs = Number(process.env.BENCH_REMEASURE_S ?? 60) * 1000;
  if (performance.now() - measuredAt < maxAgeMs) return;
  const t0 = performance.now();
  for (const a of agents) await coordinator.benchmark(a.ready.nodeId, true);
  measuredAt = performance.now();
  console.log(
    `  (the agents measured their speed again: ${((measuredAt - t0) / 1000).toFixed(1)} s)`,
  );
}

/** One catalogue model planned as a user would and run on the local agents: measured against predicted. */
async function modelLine(
  m: ModelSpec,
  stages: number,
  schedule: ScheduleKind,
): Promise<
  | {
      batch: number;
      measured: number;
      predicted: number;
      stepMs: number;
      predictedStepMs: number;
      busyMs: number[];
      predictedBusyMs: number[];
    }
  | { reason: string }
> {
  // Interleaving sends micro-batches round the stages in groups of p: 3 stages take 6.
  const microbatches = stages === 3 ? 6 : 4;
  const batch = (m.id === 'deep-mlp' ? 64 : 16) * microbatches;
  const { cluster } = clusterFromNodes(coordinator.nodes());
  let outcome: ReturnType<typeof makePlan>;
  try {
    outcome = makePlan({
      model: m,
      source: 'catalogue',
      path: null,
      cluster,
      stages,
      batch,
      microbatches,
      schedule,
      optimizer: 'adam',
      preset: 'balanced',
    });
  } catch (err) {
    outcome = { ok: false, reason: (err as Error).message };
  }
  if (!outcome.ok) return { reason: outcome.reason };
  const plan = outcome.plan;
  const steps = m.id === 'deep-mlp' ? 12 : 40;
  const run = new RunController(coordinator, tf, {
    runId: `bench-${++runNo}`,
    model: m,
    dataset: m.id === 'char-gru' ? 'text' : 'mnist',
    stages: planRunStages(plan),
    schedule,
    microbatches,
    batch,
    optimizer,
    steps,
    seed: 1,
    backend: 'wasm',
  });
  const at: number[] = [];
  const busy = new Array<number>(stages).fill(0);
  run.on('event', (e) => {
    if (e.type !== 'step') return;
    at.push(performance.now());
    if (e.step >= WARMUP) for (const st of e.stages) busy[st.index]! += st.busyMs;
  });
  await run.start();
  await run.finishedPromise();
  await run.shutdown();
  const steady = at.length - WARMUP;
  const stepMs = (at.at(-1)! - at[WARMUP - 1]!) / steady;
  return {
    batch,
    measured: batch / (stepMs / 1000),
    predicted: plan.prediction.samplesPerSecond,
    stepMs,
    predictedStepMs: plan.prediction.stepSeconds * 1000,
    busyMs: busy.map((b) => b / steady),
    predictedBusyMs: plan.prediction.stages.map((st) => st.busySeconds * 1000),
  };
}

// BENCH_SCHEDULES=zb-h1,interleaved-1f1b: only those schedules' rows of the table (default: all).
const tableSchedules = (process.env.BENCH_SCHEDULES?.split(',') ??
  SCHEDULE_KINDS) as ScheduleKind[];
for (const sc of tableSchedules)
  if (!(SCHEDULE_KINDS as readonly string[]).includes(sc))
    throw new Error(`BENCH_SCHEDULES: unknown schedule ${sc}`);
// BENCH_DP_ONLY=1: only the data-parallel lines.
const dpOnly = process.env.BENCH_DP_ONLY === '1';
const modelsOnly = process.env.BENCH_MODELS_ONLY === '1' || dpOnly;
if (!modelsOnly)
  console.log(
    'schedule          m   split              measured      ×single   predicted     measured/predicted',
  );
const rows: { label: string; ratio: number; fit: number }[] = [];
let runNo = 0;
try {
  // BENCH_MODELS_ONLY=1: only the per-model lines (quicker, when working on the cost model).
  for (const schedule of modelsOnly ? [] : tableSchedules) {
    for (const m of [4, 8, 16]) {
      await remeasureIfStale();
      const { cluster } = clusterFromNodes(coordinator.nodes());
      const outcome = makePlan({
        model: spec,
        source: 'catalogue',
        path: null,
        cluster,
        stages: 2,
        batch: BATCH,
        microbatches: m,
        schedule,
        optimizer: 'adam',
        preset: 'balanced',
      });
      if (!outcome.ok) throw new Error(outcome.reason);
      const plan = outcome.plan;
      const run = new RunController(coordinator, tf, {
        runId: `bench-${++runNo}`,
        model: spec,
        dataset: 'mnist',
        stages: planRunStages(plan),
        schedule,
        microbatches: m,
        batch: BATCH,
        optimizer,
        steps: STEPS,
        seed: 1,
        backend: 'wasm',
      });
      const stepAt: number[] = [];
      const busy = [0, 0];
      const comm = [0, 0];
      const total = [0, 0];
      run.on('event', (e) => {
        if (e.type !== 'step') return;
        stepAt.push(performance.now());
        if (e.step < WARMUP) return;
        for (const s of e.stages) {
          busy[s.index]! += s.busyMs;
          comm[s.index]! += s.commMs;
          total[s.index]! += s.totalMs;
        }
      });
      await run.start();
      await run.finishedPromise();
      await run.shutdown();
      // Steady state: from the end of the warm-up steps to the end of the last.
      const measured =
        ((stepAt.length - 1 - (WARMUP - 1)) * BATCH) /
        ((stepAt.at(-1)! - stepAt[WARMUP - 1]!) / 1000);
      const predicted = plan.prediction.samplesPerSecond;
      const split = plan.stages
        .map((s) => s.chunks.map((c) => `${c.layers[0]}-${c.layers[1] - 1}`).join(','))
        .join(' | ');
      const ratio = measured / single;
      const fit = measured / predicted;
      rows.push({ label: `${schedule} m=${m}`, ratio, fit });
      const steady = stepAt.length - WARMUP;
      // Busy seconds per step, measured and as the plan predicted: which stage the model gets wrong.
      const pct = (k: number) =>
        `${((busy[k]! / total[k]!) * 100).toFixed(0)}% (${(busy[k]! / steady / 1000).toFixed(2)} s/step, predicted ${plan.prediction.stages[k]!.busySeconds.toFixed(2)})`;
      console.log(
        `${schedule.padEnd(16)} ${String(m).padStart(2)}   ${split.padEnd(17)}  ${measured.toFixed(0).padStart(6)} /s   ${ratio.toFixed(2).padStart(6)}×   ${predicted.toFixed(0).padStart(6)} /s   ${(fit * 100).toFixed(0).padStart(5)}%     stages busy ${pct(0)} / ${pct(1)}`,
      );
    }
  }
  const best = rows.reduce((a, b) => (b.ratio > a.ratio ? b : a), rows[0]!);
  if (rows.length)
    console.log(
      `best: ${best.label} at ${best.ratio.toFixed(2)}× single-process, ${((best.ratio / capacity) * 100).toFixed(0)}% of this machine's parallel capacity ${capacity.toFixed(2)}× (goal ≥ 95%; ` +
        `a flush schedule's bound p·m/(m+p−1) = ${((2 * 16) / 17).toFixed(2)}× at m = 16 is ${(((2 * 16) / 17) * (capacity / 2)).toFixed(2)}× here)`,
    );
  const worst = rows.reduce(
    (a, b) => (Math.abs(b.fit - 1) > Math.abs(a.fit - 1) ? b : a),
    rows[0]!,
  );
  if (rows.length)
    console.log(
      `prediction: every configuration within ${(Math.max(...rows.map((r) => Math.abs(r.fit - 1))) * 100).toFixed(0)}% (goal 10%; worst ${worst.label})`,
    );

  // Data parallelism: the whole model on each agent, 1 stage × 2 replicas, each on half of every
  // step's micro-batches, gradients summed round the ring before the step. Its bound here is the
  // machine's parallel capacity (two processes at once) times single-process.
  if (!modelsOnly || dpOnly) {
    console.log('data parallel (1 stage × 2 replicas, 1F1B):');
    for (const m of [2, 4]) {
      await remeasureIfStale();
      const { cluster } = clusterFromNodes(coordinator.nodes());
      const outcome = makePlan({
        model: spec,
        source: 'catalogue',
        path: null,
        cluster,
        stages: 1,
        replicas: 2,
        batch: BATCH,
        microbatches: m,
        schedule: '1f1b',
        optimizer: 'adam',
        preset: 'balanced',
      });
      if (!outcome.ok) throw new Error(outcome.reason);
      const plan = outcome.plan;
      const [stage] = runnableStages(plan);
      const run = new RunController(coordinator, tf, {
        runId: `bench-${++runNo}`,
        model: spec,
        dataset: 'mnist',
        stages: [
          {
            start: stage!.start,
            end: stage!.end,
            nodeId: stage!.replicas[0]!.machineId,
            replicas: stage!.replicas.slice(1).map((p) => ({ nodeId: p.machineId })),
          },
        ],
        schedule: '1f1b',
        microbatches: m,
        batch: BATCH,
        optimizer,
        steps: STEPS,
        seed: 1,
        backend: 'wasm',
      });
      const stepAt: number[] = [];
      let allReduceMs = 0;
      run.on('event', (e) => {
        if (e.type !== 'step') return;
        stepAt.push(performance.now());
        if (e.step < WARMUP) return;
        for (const t of e.timings) if (t.op === 'ALLREDUCE') allReduceMs += (t.end - t.start) / 2;
      });
      await run.start();
      await run.finishedPromise();
      await run.shutdown();
      const measured =
        ((stepAt.length - 1 - (WARMUP - 1)) * BATCH) /
        ((stepAt.at(-1)! - stepAt[WARMUP - 1]!) / 1000);
      const predicted = plan.prediction.samplesPerSecond;
      const steady = stepAt.length - WARMUP;
      console.log(
        `  m=${m}: measured ${measured.toFixed(0)} /s, ${(measured / single).toFixed(2)}× single-process, ${((measured / single / capacity) * 100).toFixed(0)}% of the parallel capacity (${capacity.toFixed(2)}×; goal ≥ 95%); predicted ${predicted.toFixed(0)} /s, measured/predicted ${((measured / predicted) * 100).toFixed(0)}%; all-reduce ${(allReduceMs / steady).toFixed(1)} ms a step (predicted ${((plan.prediction.stages[0]!.allReduceSeconds ?? 0) * 1000).toFixed(1)})`,
      );
    }
  }

  // Every catalogue model on the local agents, planned as a user would (by default 2 stages, 1F1B,
  // the batch its catalogue entry suggests): measured against predicted, and where the time goes.
  if (!dpOnly)
    console.log(
      `per model (${modelStages.join(', ')} stages on as many local agents, ${modelSchedules.join(', ')}, 4 micro-batches, 6 on 3 stages):`,
    );
  const fits: { model: string; fit: number }[] = [];
  const configs = dpOnly
    ? []
    : modelStages.flatMap((stages) =>
        modelSchedules.flatMap((schedule) => listModels().map((m) => ({ m, stages, schedule }))),
      );
  for (const { m, stages, schedule } of configs) {
    await remeasureIfStale();
    const line = await modelLine(m, stages, schedule);
    const label = `${m.id} ${stages}×${schedule}`;
    if ('reason' in line) {
      // Interleaving a 3-layer model, or one stage: a plan nobody can make, said and passed over.
      console.log(`  ${label.padEnd(16)} not planned: ${line.reason}`);
      continue;
    }
    const fit = line.measured / line.predicted;
    fits.push({ model: label, fit });
    console.log(
      `  ${label.padEnd(16)} batch ${String(line.batch).padStart(3)}: measured ${line.measured.toFixed(0).padStart(6)} /s, predicted ${line.predicted.toFixed(0).padStart(6)} /s, measured/predicted ${(fit * 100).toFixed(0).padStart(4)}%; ` +
        `step ${line.stepMs.toFixed(1)} ms (predicted ${line.predictedStepMs.toFixed(1)}), stages busy ${line.busyMs.map((b) => b.toFixed(1)).join(' / ')} ms (predicted ${line.predictedBusyMs.map((b) => b.toFixed(1)).join(' / ')})`,
    );
  }
  const worstModel = fits.reduce(
    (a, b) => (Math.abs(b.fit - 1) > Math.abs(a.fit - 1) ? b : a),
    fits[0]!,
  );
  if (fits.length)
    console.log(
      `per model: every model within ${(Math.abs(worstModel.fit - 1) * 100).toFixed(0)}% of its prediction (goal 10%; worst ${worstModel.model})`,
    );

  // How steady the ground is: one line three times back to back, each planned from a probe taken
  // just before it. No prediction is steadier than the probe it is made from, nor a measurement than
  // the machine; on this shared VM both move by more than the 10% goal (BENCH_NOISE=0 skips this).
  if (!dpOnly && process.env.BENCH_NOISE !== '0') {
    const model = getModel(process.env.BENCH_NOISE_MODEL ?? 'mnist-cnn');
    const predictedMs: number[] = [];
    const measuredMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      for (const a of agents) await coordinator.benchmark(a.ready.nodeId, true);
      measuredAt = performance.now();
      const line = await modelLine(model, 1, '1f1b');
      if ('reason' in line) throw new Error(line.reason);
      predictedMs.push(line.predictedStepMs);
      measuredMs.push(line.stepMs);
    }
    const spread = (xs: number[]) => {
      const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
      return `${xs.map((x) => x.toFixed(1)).join(', ')} ms (±${(((hi - lo) / (hi + lo)) * 100).toFixed(0)}%)`;
    };
    console.log(
      `noise floor: ${model.id} 1×1f1b three times, each from a fresh probe: predicted step ${spread(predictedMs)}; measured ${spread(measuredMs)}`,
    );
  }
} finally {
  await coordinator.stop();
  await Promise.all(agents.map((a) => stopAgent(a, 'SIGKILL')));
}
process.exit(0);
