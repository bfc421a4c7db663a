import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCommand } from '../../native/cli/planCommand.js';
import { runPlanCommand, twoMachineClusterFile } from '../helpers/planCli.js';
import { getModel } from '../../native/model/catalogue.js';
import { modelCost } from '../../native/model/cost.js';
import { clusterFromJson } from '../../native/planner/cluster.js';
import {
  makeFastestSchedulePlan,
  makePlan,
  PlanError,
  type PlanRequest,
} from '../../native/planner/plan.js';
import { parsePlan, type Plan } from '../../native/planner/planSchema.js';

const GiB = 2 ** 30;

function request(over: Partial<PlanRequest> = {}, machines = 2): PlanRequest {
  return {
    model: getModel('deep-mlp'),
    source: 'catalogue',
    path: null,
    cluster: clusterFromJson({
      machines: Array.from({ length: machines }, (_, i) => ({
        id: `ws-0${i + 1}`,
        gflops: 40,
        memoryBytes: 8 * GiB,
      })),
      // Fast links, so the bubble (not the messages) decides.
      links: { default: { gbps: 100, latencyMs: 0 } },
    }),
    batch: 64,
    microbatches: 8,
    schedule: 'interleaved-1f1b',
    optimizer: 'adam',
    preset: 'balanced',
    ...over,
  };
}

function planned(req: PlanRequest): Plan {
  const r = makePlan(req);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.plan;
}

const refused = (req: PlanRequest, words: RegExp) =>
  assert.throws(
    () => makePlan(req),
    (e: unknown) => e instanceof PlanError && words.test(e.message),
  );

describe('planning interleaved 1F1B', () => {
  it('splits the layers into p·v chunks, chunk c of stage k being virtual stage c·p + k', () => {
    for (const [p, v] of [
      [2, 2],
      [2, 3],
      [4, 2],
    ] as const) {
      const plan = parsePlan(
        JSON.parse(JSON.stringify(planned(request({ stages: p, chunks: v }, p)))),
      );
      assert.equal(plan.stages.length, p);
      const ranges: [number, number][] = [];
      for (let c = 0; c < v; c++)
        for (const s of plan.stages) {
          assert.equal(s.chunks.length, v);
          ranges.push(s.chunks[c]!.layers);
        }
      // In pipeline order the chunks run 0 … n without a gap (parsePlan checked it too).
      assert.equal(ranges[0]![0], 0);
      for (let j = 1; j < ranges.length; j++) assert.equal(ranges[j]![0], ranges[j - 1]![1]);
      assert.equal(ranges.at(-1)![1], 9);
      assert.match(plan.search.note, new RegExp(`${v} chunks a stage`));
      // Megatron's warm-up: stage k holds (v − 1)·p + 2(p − k − 1) + 1 chunk-micro-batches.
      assert.deepEqual(
        plan.prediction.stages.map((s) => s.inFlightMicrobatches),
        plan.stages.map((_, k) => Math.min((v - 1) * p + 2 * (p - k - 1) + 1, 8 * v)),
      );
    }
  });

  it('predicts a smaller bubble than 1F1B on the same machines, for more messages', () => {
    const oneF = planned(request({ stages: 2, schedule: '1f1b' }));
    const inter = planned(request({ stages: 2, chunks: 2 }));
    assert.ok(
      inter.prediction.bubble < oneF.prediction.bubble,
      `${inter.prediction.bubble} vs ${oneF.prediction.bubble}`,
    );
    // Each micro-batch crosses stage 0 → 1 twice and 1 → 0 once (the wrap to chunk 1).
    const sends = (p: Plan) => p.prediction.stages.reduce((a, s) => a + s.sendActivationSeconds, 0);
    assert.ok(sends(inter) > sends(oneF));
    // The same work in all: a stage's figures are its chunks' together.
    const flops = (p: Plan) => p.prediction.stages.reduce((a, s) => a + s.flopsPerMicrobatch, 0);
    assert.ok(Math.abs(flops(inter) - flops(oneF)) < 1e-6 * flops(oneF));
    const params = (p: Plan) => p.prediction.stages.reduce((a, s) => a + s.params, 0);
    assert.equal(params(inter), modelCost(getModel('deep-mlp')).params);
  });

  it('counts a stage’s memory over its chunks: every chunk’s weights, activations at their joint peak', () => {
    const plan = planned(request({ stages: 2, chunks: 2, optimizer: 'sgd' }));
    const cost = modelCost(getModel('deep-mlp'));
    const rows = 64 / 8;
    plan.stages.forEach((s, k) => {
      const mem = plan.prediction.stages[k]!.memory;
      const layers = s.chunks.flatMap((c) =>
        cost.layers.slice(c.layers[0], c.layers[1]).map((l) => l),
      );
      assert.equal(
        mem.weights,
        layers.reduce((a, l) => a + l.weightBytes, 0),
      );
      // No more than every chunk at the stage's whole peak, no less than one chunk's micro-batch.
      const perMb = s.chunks.map((c) => {
        const input =
          c.layers[0] === 0 ? cost.inputBytes : cost.layers[c.layers[0] - 1]!.activationBytes;
        const stash = cost.layers
          .slice(c.layers[0], c.layers[1])
          .reduce((a, l) => a + l.stashBytes, 0);
        return (input + stash) * rows;
      });
      const held = plan.prediction.stages[k]!.inFlightMicrobatches;
      assert.ok(mem.activations <= held * Math.max(...perMb) + 1e-6);
      assert.ok(mem.activations >= Math.min(...perMb));
    });
  });

  it('plans the stage count itself among those that divide the micro-batches', () => {
    const plan = planned(request({ microbatches: 6, batch: 60 }, 4));
    // 4 machines, 6 micro-batches: 2 or 3 stages (4 does not divide 6).
    assert.ok([2, 3].includes(plan.stages.length), `${plan.stages.length} stages`);
    assert.equal(plan.search.stagesChosen, 'auto');
  });

  it('one chunk a stage plans as 1F1B does', () => {
    const oneF = planned(request({ stages: 2, schedule: '1f1b' }));
    const one = planned(request({ stages: 2, chunks: 1 }));
    assert.equal(one.stages[0]!.chunks.length, 1);
    assert.equal(one.prediction.stepSeconds, oneF.prediction.stepSeconds);
  });

  it('the presets split the virtual stages', () => {
    const plan = planned(request({ stages: 2, chunks: 2, preset: 'uniform' }));
    assert.deepEqual(
      plan.stages.map((s) => s.chunks.map((c) => c.layers)),
      [
        [
          [0, 3],
          [5, 7],
        ],
        [
          [3, 5],
          [7, 9],
        ],
      ],
    );
  });

  it('refuses in words what it cannot interleave', () => {
    refused(request({ stages: 2, microbatches: 3, batch: 63 }), /multiple of the stages \(2\)/);
    refused(request({ stages: 2, chunks: 5 }), /need 10 layers.*has 9: use --chunks 4/);
    // Past 2 chunks a stage only fewer stages help; a 3-layer model cannot interleave at all.
    refused(
      request({ stages: 6, microbatches: 6, batch: 60 }, 6),
      /6 stages of 2 chunks need 12 layers.*has 9: use --stages 4 or fewer$/,
    );
    refused(
      request({ model: getModel('mnist-mlp'), stages: 3, microbatches: 6, batch: 60 }, 3),
      /3 stages of 2 chunks need 6 layers.*has 3: too few layers to interleave \(2 stages of 2 chunks need 4\): choose another --schedule/,
    );
    for (const chunks of [0, 1.5, 17])
      refused(request({ chunks }), /chunks must be a whole number from 1 to 16/);
    refused(
      request({ stages: 1, replicas: 2 }),
      /interleaved schedules with replicas are not built/,
    );
    refused(request({ maxReplicas: 2 }), /interleaved schedules with replicas are not built/);
    refused(request({ stages: 1 }), /at least 2 stages/);
    refused(request({}, 1), /cluster has 1 machine/);
    refused(request({ microbatches: 3, batch: 63 }), /no stage count from 2 to 2/);
  });

  it('says which stage does not fit, with its chunks', () => {
    const r = makePlan({
      ...request({ stages: 2, chunks: 2 }),
      cluster: clusterFromJson({
        machines: [
          { id: 'ws-01', gflops: 40, memoryBytes: 20e6 },
          { id: 'ws-02', gflops: 40, memoryBytes: 20e6 },
        ],
      }),
    });
    assert.ok(!r.ok);
    assert.match(r.reason, /no 2-stage plan fits/);
    assert.match(r.reason, /stage 1 \(layers \d+–\d+, \d+–\d+\) needs .* on ws-01/);
  });

  it('the fastest-schedule comparison plans interleaving with the request’s chunks', () => {
    const { outcome, compared } = makeFastestSchedulePlan({
      ...request({ stages: 2, chunks: 3 }),
    });
    assert.ok(outcome.ok);
    const inter = compared.find((c) => c.schedule === 'interleaved-1f1b')!;
    assert.equal(inter.chunks, 3);
    assert.ok(inter.samplesPerSecond! > 0);
    assert.equal(inter.skipped, undefined);
    // The others carry no chunks.
    assert.ok(compared.filter((c) => c !== inter).every((c) => c.chunks === undefined));
    const best = Math.max(...compared.map((c) => c.samplesPerSecond ?? 0));
    assert.equal(outcome.plan.prediction.samplesPerSecond, best);
  });
});

describe('pipefitter plan --chunks', () => {
  const cluster = twoMachineClusterFile;
  const capture = runPlanCommand;

  it('prints each stage’s chunks and its stash in chunk-micro-batches', async () => {
    const { code, out } = await capture({
      model: 'deep-mlp',
      cluster: cluster(),
      schedule: 'interleaved-1f1b',
      chunks: '3',
    });
    assert.equal(code, 0, out);
    assert.match(out, /interleaved-1f1b \(3 chunks a stage\)/);
    assert.match(out, /STASH \(MB×CHUNK\)/);
    // Stage 1's row: three layer ranges.
    assert.match(out, /^1 +\d+–\d+, \d+–\d+, \d+–\d+ /m);
  });

  it('says which schedules it compared, interleaving with its chunks', async () => {
    const { code, out } = await capture({ model: 'deep-mlp', cluster: cluster() });
    assert.equal(code, 0, out);
    assert.match(out, /interleaved-1f1b \(2 chunks\)( \d+|: predicted)/);
    const skipped = await capture({
      model: 'deep-mlp',
      cluster: cluster(),
      microbatches: '3',
      batch: '63',
    });
    assert.equal(skipped.code, 0, skipped.out);
    assert.match(skipped.out, /interleaved-1f1b \(2 chunks\) not planned: no stage count/);
  });

  it('refuses --chunks with a schedule of one chunk a stage, and counts out of range', async () => {
    await assert.rejects(
      planCommand.run({ model: 'deep-mlp', cluster: cluster(), schedule: '1f1b', chunks: '2' }, []),
      /--chunks applies to --schedule interleaved-1f1b only/,
    );
    await assert.rejects(
      planCommand.run({ model: 'deep-mlp', cluster: cluster(), chunks: '0' }, []),
      /--chunks must be an integer from 1 to 16, got "0"/,
    );
    const tooMany = await capture({
      model: 'deep-mlp',
      cluster: cluster(),
      schedule: 'interleaved-1f1b',
      chunks: '5',
    });
    assert.equal(tooMany.code, 1);
    assert.match(
      tooMany.out,
      /pipefitter plan: 2 stages of 5 chunks need 10 layers .* has 9: use --chunks 4 or fewer/,
    );
  });
});
