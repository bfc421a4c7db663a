import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Prediction } from '../../native/api/designerSchemas.js';
import type { ApiResult } from '../../native/api/schemas.js';
import { ApiServer } from '../../native/api/server.js';
import { planCommand } from '../../native/cli/planCommand.js';
import { runPlanCommand, twoMachineClusterFile } from '../helpers/planCli.js';
import { getModel } from '../../native/model/catalogue.js';
import { clusterFromJson, type ClusterJson } from '../../native/planner/cluster.js';
import {
  evaluateLayout,
  makePlan,
  PlanError,
  type PlanRequest,
} from '../../native/planner/plan.js';
import { parsePlan, type Plan } from '../../native/planner/planSchema.js';
import { syntheticCluster } from '../bench/syntheticCluster.js';

const GiB = 2 ** 30;
const close = (a: number, b: number, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} ≉ ${b}`);

type MachineJson = ClusterJson['machines'][number];
/** n machines of 40 GFLOP/s and 8 GiB, with `gbps` links between them. */
function equal(n: number, gbps = 100, extra: Partial<MachineJson> = {}) {
  return clusterFromJson({
    machines: Array.from({ length: n }, (_, i) => ({
      id: `ws-${i}`,
      gflops: 40,
      memoryBytes: 8 * GiB,
      ...extra,
    })),
    links: { default: { gbps, latencyMs: 0.2 } },
  });
}

function request(over: Partial<PlanRequest> = {}): PlanRequest {
  return {
    model: getModel('deep-mlp'),
    source: 'catalogue',
    path: null,
    cluster: equal(4),
    batch: 64,
    microbatches: 8,
    schedule: '1f1b',
    optimizer: 'adam',
    preset: 'balanced',
    ...over,
  };
}

function plan(over: Partial<PlanRequest>): Plan {
  const r = makePlan(request(over));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.plan;
}

const machinesOf = (p: Plan) => p.stages.map((s) => s.replicas.map((r) => r.machineId));
const replicated = (p: Plan) => p.stages.some((s) => s.replicas.length > 1);

describe('the planner with replicas', () => {
  it('gives every stage R placements, on distinct machines when there are enough', () => {
    for (const stages of [1, 2] as const) {
      const p = plan({ replicas: 2, stages });
      assert.equal(p.stages.length, stages);
      const ms = machinesOf(p);
      for (const m of ms) assert.equal(m.length, 2);
      // 2 stages × 2 replicas on 4 machines: every placement on a machine of its own.
      assert.equal(new Set(ms.flat()).size, 2 * stages);
      assert.doesNotMatch(p.search.note, /fewer machines/);
      // The plan file carries each stage's all-reduce and parses back as it is.
      for (const s of p.prediction.stages) assert.ok(s.allReduceSeconds! > 0);
      assert.deepEqual(parsePlan(JSON.parse(JSON.stringify(p))), p);
    }
    // Chosen stage count: still R replicas every stage.
    const auto = plan({ replicas: 2 });
    for (const s of auto.stages) assert.equal(s.replicas.length, 2);
    assert.match(auto.search.note, /2 replicas of each stage/);
  });

  it('one replica, asked or not, is the plan it always was (no all-reduce in it)', () => {
    const strip = (p: Plan) => ({ ...p, createdAt: '' });
    const plain = plan({});
    assert.deepEqual(strip(plan({ replicas: 1 })), strip(plain));
    assert.ok(plain.prediction.stages.every((s) => !('allReduceSeconds' in s)));
    assert.ok(!replicated(plain));
  });

  it('replicas of unequal speeds get micro-batches in proportion (plan shares), and go at the sum of their speeds', () => {
    const cluster = clusterFromJson({
      machines: [
        { id: 'fast', gflops: 40, memoryBytes: 8 * GiB },
        { id: 'slow', gflops: 20, memoryBytes: 8 * GiB },
      ],
      links: { default: { gbps: 100, latencyMs: 0.2 } },
    });
    const p = plan({ cluster, stages: 1, replicas: 2, microbatches: 12, batch: 96 });
    assert.deepEqual(p.stages[0]!.shares, [1, 0.5]);
    const fastOnly = plan({
      cluster: clusterFromJson({
        machines: [{ id: 'fast', gflops: 40, memoryBytes: 8 * GiB }],
        links: { default: { gbps: 100, latencyMs: 0.2 } },
      }),
      stages: 1,
      microbatches: 12,
      batch: 96,
    });
    // 8 and 4 micro-batches: as fast as 60 GFLOP/s against 40, less the all-reduce.
    const ratio = p.prediction.samplesPerSecond / fastOnly.prediction.samplesPerSecond;
    assert.ok(ratio > 1.3 && ratio <= 1.5, `ratio ${ratio}`);
    // Equal machines keep round robin: no shares written.
    assert.equal(plan({ cluster: equal(2), stages: 1, replicas: 2 }).stages[0]!.shares, undefined);
    // A plan file's shares must match its replicas.
    const bad = structuredClone(p) as unknown as { stages: { shares: number[] }[] };
    bad.stages[0]!.shares = [1];
    assert.throws(() => parsePlan(bad), /gives 1 shares for 2 replicas/);
  });

  it('local SGD (syncEvery H) carries 1/H of the all-reduce a step', () => {
    const cluster = equal(2);
    const every = plan({ cluster, stages: 1, replicas: 2 });
    const local = plan({ cluster, stages: 1, replicas: 2, syncEvery: 10 });
    const [a, b] = [every.prediction.stages[0]!, local.prediction.stages[0]!];
    close(b.allReduceSeconds!, a.allReduceSeconds! / 10);
    assert.ok(local.prediction.samplesPerSecond > every.prediction.samplesPerSecond);
  });

  it('1 stage × 2 replicas on two equal machines: about twice one machine, less the all-reduce', () => {
    const cluster = equal(2);
    const one = plan({ cluster, stages: 1 });
    const two = plan({ cluster, stages: 1, replicas: 2 });
    assert.deepEqual(machinesOf(two), [['ws-0', 'ws-1']]);
    const [s1, s2] = [one.prediction.stages[0]!, two.prediction.stages[0]!];
    // The ring: 2(r−1)/r of the gradients over the link, 2(r−1) latencies.
    const link = cluster.defaultLink;
    close(
      s2.allReduceSeconds!,
      s2.memory.gradients / link.bytesPerSecond + 2 * link.latencySeconds,
    );
    // Each replica does half the micro-batches; both step their own copy at one machine's speed.
    close(s2.forwardSeconds, s1.forwardSeconds / 2);
    close(s2.optimizerStepSeconds, s1.optimizerStepSeconds);
    const compute = one.prediction.stepSeconds - s1.optimizerStepSeconds;
    close(two.prediction.stepSeconds, compute / 2 + s1.optimizerStepSeconds + s2.allReduceSeconds!);
    const speedup = two.prediction.samplesPerSecond / one.prediction.samplesPerSecond;
    assert.ok(speedup > 1.5 && speedup < 2, `speed-up ${speedup}`);
    // The replicas' memory: each holds the whole stage, as one machine did.
    assert.equal(s2.memory.weights, s1.memory.weights);
  });

  it('shares: a slower replica gets fewer micro-batches, and the stage goes faster than its fast replica alone', () => {
    const cluster = clusterFromJson({
      machines: [
        { id: 'fast', gflops: 40, memoryBytes: 8 * GiB },
        { id: 'slow', gflops: 20, memoryBytes: 8 * GiB },
      ],
    });
    const both = evaluateLayout(request({ cluster }), [0, 9], [['fast', 'slow']]).plan;
    const fast = evaluateLayout(request({ cluster }), [0, 9], ['fast']).plan;
    assert.deepEqual(both.stages[0]!.shares, [1, 0.5]);
    // 8 micro-batches as 5 and 3 (in proportion 2 : 1): the stage gets through them in max(5/40,
    // 3/20) units, against 8/40 for the fast machine alone (round robin, 4 and 4, would be 4/20:
    // no faster than the fast one alone).
    close(
      both.prediction.stages[0]!.forwardSeconds,
      fast.prediction.stages[0]!.forwardSeconds * (3 / 20 / (8 / 40)),
      1e-6,
    );
  });

  it('evaluates a hand-made layout with replicas as the planner does, with ALLREDUCE in its timeline', () => {
    const req = request({ stages: 2, replicas: 2 });
    const auto = plan(req);
    const bounds = [0, ...auto.stages.map((s) => s.layers[1])];
    const { plan: laid, simulation } = evaluateLayout(req, bounds, machinesOf(auto));
    assert.deepEqual(laid.prediction, auto.prediction);
    assert.deepEqual(laid.stages, auto.stages);
    const ar = simulation.timeline.filter((e) => e.action.op === 'ALLREDUCE');
    assert.equal(ar.length, 2);
    // Stage k's STEP follows its all-reduce.
    for (const e of ar) {
      const step = simulation.timeline.find((t) => t.stage === e.stage && t.label === 'STEP')!;
      assert.ok(step.start >= e.end - 1e-12);
    }
  });

  it('falls back to several replicas on one machine’s cores, and says so', () => {
    const cluster = equal(2, 100, { backend: 'wasm', cores: 4 });
    const p = plan({ cluster, stages: 2, replicas: 2 });
    // Each stage still spreads over both machines; each machine runs two replicas.
    assert.deepEqual(
      machinesOf(p).map((m) => [...m].sort()),
      [
        ['ws-0', 'ws-1'],
        ['ws-0', 'ws-1'],
      ],
    );
    assert.match(p.search.note, /fewer machines than stages × replicas: ws-0 runs 2, ws-1 runs 2/);
    const three = plan({ cluster, stages: 1, replicas: 3 });
    assert.equal(new Set(machinesOf(three)[0]).size, 2);
    assert.match(three.search.note, /fewer machines than replicas of a stage/);
  });

  it('pins replicas on a machine with several GPUs to its GPUs in turn', () => {
    const cluster = equal(1, 100, { gpus: 2, backend: 'tensorflow-gpu' });
    const p = plan({ cluster, stages: 1, replicas: 2 });
    assert.deepEqual(
      p.stages[0]!.replicas.map((r) => r.gpu),
      [0, 1],
    );
  });

  it('maxReplicas replicates a model that fits one machine when the link is fast', () => {
    const plain = plan({});
    const best = plan({ maxReplicas: 4 });
    assert.ok(replicated(best), best.search.note);
    assert.ok(best.prediction.samplesPerSecond > plain.prediction.samplesPerSecond);
    assert.match(best.search.note, /the fastest of 1–4/);
    // mnist-mlp too.
    assert.ok(replicated(plan({ model: getModel('mnist-mlp'), maxReplicas: 4 })));
  });

  it('maxReplicas does not replicate over a very slow link', () => {
    const cluster = equal(4, 0.01);
    const plain = plan({ cluster });
    const best = plan({ cluster, maxReplicas: 4 });
    assert.ok(!replicated(best), best.search.note);
    assert.equal(best.prediction.samplesPerSecond, plain.prediction.samplesPerSecond);
    assert.deepEqual(best.stages, plain.stages);
  });

  it('refuses bad replica counts, and too many replicas, in words', () => {
    for (const replicas of [0, -1, 1.5, Number.NaN])
      assert.throws(
        () => makePlan(request({ replicas })),
        (e: Error) => e instanceof PlanError && /replicas must be a whole number/.test(e.message),
      );
    assert.throws(
      () => makePlan(request({ maxReplicas: 0 })),
      /maxReplicas must be a whole number of at least 1, got 0/,
    );
    assert.throws(
      () => makePlan(request({ replicas: 2, maxReplicas: 2 })),
      /--replicas .* or --max-replicas .*, not both/,
    );
    assert.throws(
      () => makePlan(request({ replicas: 5 })),
      /1 stage of 5 replicas needs 5 places, but the machines offer 4/,
    );
    assert.throws(
      () => makePlan(request({ replicas: 2, stages: 3 })),
      /3 stages of 2 replicas need 6 places, but the machines offer 4.*--stages/,
    );
    assert.throws(
      () => makePlan(request({ replicas: 4, microbatches: 2, batch: 64 })),
      /4 replicas of a stage need at least 4 micro-batches/,
    );
    assert.throws(() => evaluateLayout(request(), [0, 9], [[]]), /stage 1 has no machine/);
  });
});

describe('pipefitter plan --replicas / --max-replicas', () => {
  const clusterFile = twoMachineClusterFile;
  const capture = runPlanCommand;

  it('refuses values that are not positive integers, naming the option', async () => {
    const cluster = clusterFile();
    for (const [opt, value] of [
      ['replicas', '0'],
      ['replicas', 'two'],
      ['replicas', '-1'],
      ['replicas', '1.5'],
      ['max-replicas', '0'],
    ])
      await assert.rejects(
        planCommand.run({ model: 'deep-mlp', cluster, [opt!]: value! }, []),
        new RegExp(`--${opt} must be an integer from 1 to 1024, got "${value}"`),
      );
    await assert.rejects(
      planCommand.run({ model: 'deep-mlp', cluster, replicas: '2', 'max-replicas': '2' }, []),
      /not both/,
    );
  });

  it('prints each stage’s replicas and its all-reduce time', async () => {
    const cluster = clusterFile();
    const { code, out } = await capture({
      model: 'deep-mlp',
      cluster,
      replicas: '2',
      schedule: '1f1b',
    });
    assert.equal(code, 0, out);
    assert.match(out, /MACHINES \(REPLICAS\)/);
    assert.match(out, /ALLREDUCE/);
    assert.match(out, /\ba, b\b.*\d ms\s*$/m);
    // Too many replicas: the planner's words, exit 1.
    const many = await capture({ model: 'deep-mlp', cluster, replicas: '3', schedule: '1f1b' });
    assert.equal(many.code, 1);
    assert.match(many.out, /needs 3 places, but the machines offer 2/);
    // --max-replicas reaches the planner, which says what it tried.
    const best = await capture({ model: 'deep-mlp', cluster, 'max-replicas': '2', json: true });
    assert.equal(best.code, 0, best.out);
    const p = parsePlan(JSON.parse(best.out.slice(best.out.indexOf('{'))));
    assert.match(p.search.note, /the fastest of 1–2/);
  });
});

describe('the designer predicts a layout with replicas', () => {
  const api = new ApiServer(
    syntheticCluster(2, 1, fs.mkdtempSync(path.join(os.tmpdir(), 'pf-plans-'))).backend,
  );
  after(() => api.close());
  const call = async <T>(op: string, req: unknown): Promise<T> => {
    const r: ApiResult = await api.call(op, req);
    assert.ok(r.ok, JSON.stringify(r));
    return r.value as T;
  };

  it('takes a list of machines for a stage, and draws its all-reduce', async () => {
    const { nodes } = await call<{ nodes: { id: string }[] }>('listNodes', {});
    const [a, b] = nodes.map((n) => n.id);
    const p = await call<Prediction>('predictLayout', {
      model: { catalogue: 'deep-mlp' },
      settings: {
        batch: 64,
        microbatches: 4,
        schedule: '1f1b',
        optimizer: 'adam',
        preset: 'balanced',
      },
      bounds: [0, 4, 9],
      machineIds: [[a, b], a],
    });
    assert.deepEqual(
      p.plan.stages.map((s) => s.replicas.map((r) => r.machineId)),
      [[a, b], [a]],
    );
    assert.ok(p.plan.prediction.stages[0]!.allReduceSeconds! > 0);
    // Each replica holds its stage's memory on its machine.
    const onB = p.machines.find((m) => m.id === b)!;
    assert.deepEqual(onB.stages, [0]);
    assert.equal(onB.usedBytes, p.plan.prediction.stages[0]!.memoryBytes);
    const ar = p.timeline.filter((t) => t.label === 'ALLREDUCE');
    assert.deepEqual(
      ar.map((t) => t.stage),
      [0],
    );
    assert.ok(ar[0]!.end > ar[0]!.start);
    // An empty replica list is refused by the API's schema.
    const r: ApiResult = await api.call('predictLayout', {
      model: { catalogue: 'deep-mlp' },
      settings: {
        batch: 64,
        microbatches: 4,
        schedule: '1f1b',
        optimizer: 'adam',
        preset: 'balanced',
      },
      bounds: [0, 9],
      machineIds: [[]],
    });
    assert.ok(!r.ok);
  });
});
