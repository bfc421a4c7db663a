import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeRecord } from '../../native/coordinator/nodeRecord.js';
import { getModel } from '../../native/model/catalogue.js';
import { clusterFromJson, computeResource } from '../../native/planner/cluster.js';
import { clusterFromNodes } from '../../native/coordinator/nodesToCluster.js';
import { evaluateLayout, type PlanRequest } from '../../native/planner/plan.js';
import { gpipeSchedule, oneFOneBSchedule } from '../../native/planner/schedule.js';
import { simulate, type StagePlacement } from '../../native/planner/simulator.js';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} ≉ ${b}`);
const free = (p: number) =>
  Array.from({ length: p - 1 }, () => ({ activationSeconds: 0, gradientSeconds: 0, latency: 0 }));

/** p stages, m micro-batches, F = 1 s and B = 2 s everywhere, comm free: each stage computes 3m s. */
function run(p: number, m: number, placement?: StagePlacement[]) {
  return simulate({
    schedule: gpipeSchedule(p, m),
    stages: Array.from({ length: p }, () => ({ forward: 1, backward: 2, step: 0 })),
    boundaries: free(p),
    batchSize: 8,
    ...(placement ? { placement } : {}),
  });
}
const on = (machine: string, compute: string, capacity: number): StagePlacement => ({
  machine,
  compute,
  capacity,
});

describe('the simulator shares machines', () => {
  it('two stages on one GPU (or a one-core machine) take the sum of their times, not the max', () => {
    const m = 8;
    const apart = run(2, m);
    close(apart.stepSeconds, (m + 1) * 3); // the pipeline: max of the stages, plus the fill
    const gpu = run(2, m, [on('ws', 'ws/gpu0', 1), on('ws', 'ws/gpu0', 1)]);
    close(gpu.stepSeconds, 2 * m * 3); // every action of both stages, one after another
    const busy = gpu.stages.reduce((a, s) => a + s.busy, 0);
    close(gpu.stepSeconds, busy);
    // Never two compute actions at once on the one unit.
    const computes = gpu.timeline
      .filter((e) => e.kind === 'compute')
      .sort((a, b) => a.start - b.start);
    for (let i = 1; i < computes.length; i++)
      assert.ok(computes[i]!.start >= computes[i - 1]!.end - 1e-12, 'overlap on a shared GPU');
    const oneCore = run(2, m, [on('ws', 'ws/cpu', 1), on('ws', 'ws/cpu', 1)]);
    close(oneCore.stepSeconds, gpu.stepSeconds);
  });

  it('two single-threaded stages on a two-core machine run side by side', () => {
    for (const m of [1, 4, 8]) {
      const apart = run(2, m);
      const twoCores = run(2, m, [on('ws', 'ws/cpu', 2), on('ws', 'ws/cpu', 2)]);
      close(twoCores.stepSeconds, apart.stepSeconds);
      assert.deepEqual(
        twoCores.stages.map((s) => s.busy),
        apart.stages.map((s) => s.busy),
      );
    }
    // Three stages on two cores: the third waits for a core now and then.
    const three = run(3, 8, [on('ws', 'ws/cpu', 2), on('ws', 'ws/cpu', 2), on('ws', 'ws/cpu', 2)]);
    assert.ok(three.stepSeconds > run(3, 8).stepSeconds);
    assert.ok(three.stepSeconds >= (3 * 8 * 3) / 2);
  });

  it('queues transfers from different stages on the same direction of a link between two machines', () => {
    // Stages 0 and 2 on machine a, stage 1 on b: activations 0→1 and gradients 2→1 both go a→b.
    const input = (placement?: StagePlacement[]) =>
      simulate({
        schedule: oneFOneBSchedule(3, 4),
        stages: Array.from({ length: 3 }, () => ({ forward: 0.001, backward: 0.001, step: 0 })),
        boundaries: Array.from({ length: 2 }, () => ({
          activationSeconds: 1,
          gradientSeconds: 1,
          latency: 0,
        })),
        batchSize: 8,
        ...(placement ? { placement } : {}),
      });
    const perStage = input();
    const shared = input([on('a', 'a/0', 1), on('b', 'b/0', 1), on('a', 'a/1', 1)]);
    assert.ok(
      shared.stepSeconds > perStage.stepSeconds,
      `${shared.stepSeconds} vs ${perStage.stepSeconds}`,
    );
    const ab = shared.timeline.filter(
      (e) =>
        e.kind === 'transfer' &&
        ((e.stage === 0 && e.action.op === 'SEND_ACT') ||
          (e.stage === 2 && e.action.op === 'SEND_GRAD')),
    );
    ab.sort((x, y) => x.start - y.start);
    for (let i = 1; i < ab.length; i++) assert.ok(ab[i]!.start >= ab[i - 1]!.end - 1e-12);
  });

  it('refuses one resource given two capacities', () => {
    assert.throws(
      () => run(2, 2, [on('a', 'x', 1), on('b', 'x', 2)]),
      /compute x is given capacities 1 and 2/,
    );
  });
});

describe('machines as compute resources', () => {
  const cluster = (extra: Record<string, unknown>) =>
    clusterFromJson({ machines: [{ id: 'ws', gflops: 20, memoryBytes: 8e9, ...extra }] });
  const req = (extra: Record<string, unknown>): PlanRequest => ({
    model: getModel('deep-mlp'),
    source: 'catalogue',
    path: null,
    cluster: cluster(extra),
    batch: 64,
    microbatches: 8,
    schedule: 'gpipe',
    optimizer: 'sgd',
    preset: 'balanced',
  });
  const twoStagesOnWs = (extra: Record<string, unknown>) =>
    evaluateLayout(req(extra), [0, 4, 9], ['ws', 'ws']);

  it('reads cores, gpus and backend from cluster.json, and names the resource a stage computes on', () => {
    const m = cluster({ cores: 8, gpus: 2, backend: 'tensorflow-gpu' }).machines[0]!;
    assert.deepEqual([m.cores, m.gpus, m.backend], [8, 2, 'tensorflow-gpu']);
    assert.deepEqual(computeResource(m, 1), { id: 'ws/gpu1', capacity: 1 });
    assert.deepEqual(computeResource(m, null), { id: 'ws/gpu0', capacity: 1 });
    assert.deepEqual(computeResource({ ...m, backend: 'wasm' }, null), {
      id: 'ws/cpu',
      capacity: 8,
    });
    assert.deepEqual(computeResource({ ...m, backend: 'tensorflow' }, null), {
      id: 'ws/cpu',
      capacity: 1,
    });
    assert.deepEqual(computeResource({ id: 'x', name: 'x', gflops: 1, memoryBytes: 1 }, null), {
      id: 'x/cpu',
      capacity: 1,
    });
    assert.throws(() => cluster({ cores: 0 }), /machines\.0\.cores/);
  });

  it('predicts two stages on a one-core machine slower than on a two-core one, and equal to one GPU', () => {
    const oneCore = twoStagesOnWs({ cores: 1, backend: 'wasm' });
    const twoCores = twoStagesOnWs({ cores: 2, backend: 'wasm' });
    const oneGpu = twoStagesOnWs({ gpus: 1, backend: 'tensorflow-gpu' });
    assert.ok(
      oneCore.plan.prediction.samplesPerSecond < twoCores.plan.prediction.samplesPerSecond * 0.9,
    );
    close(oneGpu.plan.prediction.stepSeconds, oneCore.plan.prediction.stepSeconds);
    const busy = oneCore.simulation.stages.reduce((a, s) => a + s.busy, 0);
    assert.ok(oneCore.simulation.stepSeconds >= busy - 1e-12);
  });

  it('pins the stages of a machine with several GPUs to GPUs in turn, which then run side by side', () => {
    const twoGpus = twoStagesOnWs({ gpus: 2, backend: 'tensorflow-gpu' });
    assert.deepEqual(
      twoGpus.plan.stages.map((s) => s.replicas[0]!.gpu),
      [0, 1],
    );
    const twoCores = twoStagesOnWs({ cores: 2, backend: 'wasm' });
    close(twoGpus.plan.prediction.stepSeconds, twoCores.plan.prediction.stepSeconds);
    assert.deepEqual(
      twoStagesOnWs({ gpus: 1, backend: 'tensorflow-gpu' }).plan.stages.map(
        (s) => s.replicas[0]!.gpu,
      ),
      [null, null],
    );
  });
});

describe('machines from agents, as resources', () => {
  it('takes the backend, physical cores and GPU count from the inventory', () => {
    const node = (id: string, backend: 'wasm' | 'tensorflow-gpu', gpus: number): NodeRecord =>
      ({
        id,
        name: id,
        state: 'online',
        stateReason: null,
        speed: { backend, gflops: 10, matrix: [1, 1, 1], measuredAt: 0, durationMs: 1 },
        telemetry: null,
        inventory: {
          static: {
            cpu: { manufacturer: 'x', brand: 'x', cores: 16, physicalCores: 8, speedGHz: 3 },
            memory: { totalBytes: 32e9 },
            gpus: Array.from({ length: gpus }, (_, index) => ({
              index,
              vendor: 'NVIDIA',
              model: 'x',
              vramBytes: 8e9,
              driver: null,
              busId: null,
              uuid: null,
            })),
          },
          speed: null,
        },
      }) as unknown as NodeRecord;
    const { cluster } = clusterFromNodes([
      node('cpu', 'wasm', 0),
      node('gpu', 'tensorflow-gpu', 4),
    ]);
    assert.deepEqual(
      cluster.machines.map((m) => [m.id, m.backend, m.cores, m.gpus]),
      [
        ['cpu', 'wasm', 8, undefined],
        ['gpu', 'tensorflow-gpu', 8, 4],
      ],
    );
  });
});
