import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterFromJson, type Machine } from '../../native/planner/cluster.js';
import { layerCost, LOSS_KERNELS, modelCost } from '../../native/model/cost.js';
import { getModel } from '../../native/model/catalogue.js';
import { StageCoster, type PartitionProblem } from '../../native/planner/stageCost.js';
import { SpeedReportSchema } from '../../native/protocol/inventorySchemas.js';
import { DEFAULT_LINK } from '../../native/planner/cluster.js';
import { isDenseStack } from '../../native/model/denseStack.js';
import type { ModelSpec } from '../../native/model/spec.js';

const overhead = {
  kernelSeconds: 20e-6,
  readbackSeconds: 50e-6,
  stepSecondsPerParam: { sgd: 1e-9, momentum: 2e-9, adam: 5e-9 },
  poolGradSecondsPerElement: 20e-9,
  elementSeconds: 1e-9,
};

function coster(model: ModelSpec, machine: Partial<Machine>, batch = 64, microbatches = 4) {
  const cost = modelCost(model);
  const problem: PartitionProblem = {
    layers: cost.layers.map((l, i) => ({
      ...l,
      keepsActivations: isDenseStack([model.layers[i]!]),
    })),
    inputBytes: cost.inputBytes,
    machines: [{ id: 'a', name: 'a', gflops: 10, memoryBytes: 1e12, ...machine }],
    link: () => DEFAULT_LINK,
    batch,
    microbatches,
    schedule: '1f1b',
    optimizer: 'adam',
  };
  return new StageCoster(problem);
}

const tinyStack: ModelSpec = {
  ...getModel('mnist-mlp'),
  id: 'tiny',
  inputShape: [4],
  layers: Array.from({ length: 20 }, (_, i) => ({
    className: 'Dense',
    config: { name: `d${i}`, units: i === 19 ? 10 : 4, activation: i === 19 ? 'softmax' : 'relu' },
  })),
};

describe('fixed costs in the cost model', () => {
  it('a stage of many tiny layers is predicted slower than its FLOPs say, by its kernels', () => {
    const flopsOnly = coster(tinyStack, {});
    const measured = coster(tinyStack, { overhead });
    const n = tinyStack.layers.length;
    const bare = flopsOnly.computeSeconds(0, n, 0);
    const withFixed = measured.computeSeconds(0, n, 0);
    // 20 Dense layers: 3 kernels forward, 5 back each, and the loss's; no read-backs (one stage).
    const kernels = 20 * (3 + 5) + LOSS_KERNELS;
    // And 3 of 4 micro-batches add their gradients to the step's, an element a parameter.
    const accumulate = modelCost(tinyStack).trainableParams * overhead.elementSeconds * (3 / 4);
    assert.ok(Math.abs(withFixed - bare - kernels * overhead.kernelSeconds - accumulate) < 1e-12);
    assert.ok(withFixed > 10 * bare, `fixed costs dominate a tiny model (${withFixed} vs ${bare})`);
  });

  it('without a measured overhead, predictions are FLOPs alone, as before', () => {
    const c = coster(getModel('deep-mlp'), {});
    const n = c.n;
    assert.equal(c.computeSeconds(0, n, 0), c.stageFlops(0, n) / 10e9);
  });

  it('a stage that sends pays one read-back per F and per B', () => {
    const c = coster(getModel('deep-mlp'), {
      overhead: { ...overhead, kernelSeconds: 0, elementSeconds: 0 },
    });
    const bare = coster(getModel('deep-mlp'), {});
    // A middle stage [2, 5): it reads back its output in F and its input gradient in B.
    const extra = c.computeSeconds(2, 5, 0) - bare.computeSeconds(2, 5, 0);
    assert.ok(Math.abs(extra - 2 * overhead.readbackSeconds) < 1e-12);
    // The first stage sends no gradient back: F's read-back only.
    const first = c.computeSeconds(0, 5, 0) - bare.computeSeconds(0, 5, 0);
    assert.ok(Math.abs(first - overhead.readbackSeconds) < 1e-12);
  });

  it("a pooling's backward is charged per element it writes, beyond its FLOPs", () => {
    const model = getModel('mnist-cnn');
    const bare = coster(model, { overhead: { ...overhead, poolGradSecondsPerElement: 0 } });
    const c = coster(model, { overhead });
    // Stage [0, 2): conv_1 and pool_1, whose backward writes its 28×28×16 input per sample.
    const extra = c.computeSeconds(0, 2, 0) - bare.computeSeconds(0, 2, 0);
    assert.ok(Math.abs(extra - 16 * 28 * 28 * 16 * overhead.poolGradSecondsPerElement) < 1e-12);
    assert.equal(c.forwardSeconds(0, 2, 0), bare.forwardSeconds(0, 2, 0));
  });

  it("a recurrent layer's kernels grow with its time steps", () => {
    const gru = (t: number) =>
      layerCost({ className: 'GRU', config: { units: 16 } }, 1, [t, 8]).kernels;
    assert.equal(gru(32).forward, 4 * gru(8).forward);
    assert.equal(gru(32).backward, 4 * gru(8).backward);
    assert.ok(gru(32).backward > gru(32).forward);
    const el = (t: number) =>
      layerCost({ className: 'GRU', config: { units: 16 } }, 1, [t, 8]).elementwise;
    assert.equal(el(32).forward, 4 * el(8).forward);
    // Dense layers' elementwise work is in their FLOPs (bias) or fused into the product.
    assert.deepEqual(layerCost({ className: 'Dense', config: { units: 4 } }, 0, [8]).elementwise, {
      forward: 0,
      backward: 0,
    });
  });

  it("a recomputing last stage's F only stashes: its forward is charged to B", () => {
    const model = getModel('char-gru');
    const c = coster(model, { overhead });
    const n = c.n;
    assert.equal(c.forwardSeconds(1, n, 0), 0);
    assert.ok(c.backwardSeconds(1, n, 0) > 0);
    assert.equal(c.backwardSeconds(1, n, 0), c.computeSeconds(1, n, 0));
    // A dense last stage runs its forward in F.
    const dense = coster(getModel('mnist-mlp'), { overhead });
    assert.ok(dense.forwardSeconds(1, 3, 0) > 0);
  });

  it('the optimizer step is charged at the measured rate per parameter and kernels per tensor', () => {
    const model = getModel('mnist-mlp');
    const c = coster(model, { overhead });
    const params = modelCost(model).trainableParams;
    // Three Dense layers with biases: six tensors, 16 kernels each for adam.
    const expected = params * overhead.stepSecondsPerParam.adam + 6 * 16 * overhead.kernelSeconds;
    assert.ok(Math.abs(c.stepSeconds(0, 3, 0) - expected) < 1e-12);
    // Far above what its FLOPs at the product rate would say (12 a parameter at 10 GFLOP/s).
    assert.ok(c.stepSeconds(0, 3, 0) > 3 * ((12 * params) / 10e9));
  });
});

describe('what a step costs beyond its FLOPs and launches', () => {
  it("a first stage skips its first layer's input gradient; any other stage computes it", () => {
    const model = getModel('mnist-mlp');
    const c = coster(model, {});
    const [d1] = modelCost(model).layers;
    const rows = c.microbatchSize;
    // [0, 1) and the same layer costed as a later stage differ by exactly its dx product.
    const all = (d1!.forwardFlops + d1!.backwardFlops) * rows;
    assert.equal(c.stageFlops(0, 1), all - d1!.inputGradFlops * rows);
    assert.equal(d1!.inputGradFlops, 2 * 784 * 512);
    // Layers after the first trainable one keep their input gradients.
    const [, d2, d3] = modelCost(model).layers;
    const rest =
      (d2!.forwardFlops + d2!.backwardFlops + d3!.forwardFlops + d3!.backwardFlops) * rows;
    assert.equal(c.stageFlops(0, 3) - c.stageFlops(0, 1), rest);
    assert.equal(c.stageFlops(1, 3), rest);
  });

  it("a first stage's convolution skips its dx too (whatever else its B recomputes)", () => {
    const model = getModel('mnist-cnn');
    const c = coster(model, {});
    const conv = modelCost(model).layers[0]!;
    assert.equal(conv.className, 'Conv2D');
    assert.ok(conv.inputGradFlops > 0);
    const full = (conv.forwardFlops + conv.backwardFlops) * c.microbatchSize;
    const again = c.recomputeFlops(0, 1) * c.microbatchSize;
    assert.equal(c.stageFlops(0, 1), full + again - conv.inputGradFlops * c.microbatchSize);
    assert.equal(c.stageFlops(1, 2) + c.stageFlops(0, 1), c.stageFlops(0, 2));
  });

  it('weights the optimizer changed are prepared once a step, at the measured rate per element', () => {
    const model = getModel('mnist-mlp');
    const c = coster(model, { overhead: { ...overhead, repackSecondsPerParam: 4e-9 } });
    // Kernels only (784·512, 512·256, 256·10): biases are not packed.
    const kernels = 784 * 512 + 512 * 256 + 256 * 10;
    assert.ok(Math.abs(c.prepareSeconds(0, 3, 0) - kernels * 4e-9) < 1e-12);
    assert.ok(Math.abs(c.prepareSeconds(1, 3, 0) - (512 * 256 + 256 * 10) * 4e-9) < 1e-12);
    // Not measured (a report cached before it was): nothing charged.
    assert.equal(coster(model, { overhead }).prepareSeconds(0, 3, 0), 0);
  });

  it("a GRU packs its recurrent kernel's slices every time step, and its input kernel once a step", () => {
    const gru = layerCost({ className: 'GRU', config: { units: 16 } }, 1, [32, 8]);
    assert.equal(gru.slicedParams, 32 * 3 * 16 * 16);
    assert.equal(gru.packedParams, 3 * 8 * 16);
    // LSTM reads its recurrent kernel whole: packed once a step with the rest.
    const lstm = layerCost({ className: 'LSTM', config: { units: 16 } }, 1, [32, 8]);
    assert.equal(lstm.slicedParams, 0);
    assert.equal(lstm.packedParams, 4 * (8 * 16 + 16 * 16));

    // char-gru [embedding, gru, dense]: the GRU's slices are charged to each forward pass, which a
    // stage ending at the GRU runs in F and again in B (it recomputes), and a last stage in B only.
    const model = getModel('char-gru');
    const rate = 4e-9;
    const sliced = modelCost(model).layers[1]!.slicedParams * rate;
    assert.ok(sliced > 0);
    const withRate = coster(model, { overhead: { ...overhead, repackSecondsPerParam: rate } });
    const without = coster(model, { overhead });
    const near = (a: number, b: number) => Math.abs(a - b) < 1e-12;
    assert.ok(near(withRate.forwardSeconds(0, 2, 0) - without.forwardSeconds(0, 2, 0), sliced));
    assert.ok(near(withRate.computeSeconds(0, 2, 0) - without.computeSeconds(0, 2, 0), 2 * sliced));
    assert.equal(withRate.forwardSeconds(0, 3, 0), 0);
    assert.ok(near(withRate.computeSeconds(0, 3, 0) - without.computeSeconds(0, 3, 0), sliced));
  });
});

describe('the measured overhead as data', () => {
  const report = {
    backend: 'wasm',
    gflops: 25,
    matrix: [512, 1024, 1024],
    measuredAt: 1,
    durationMs: 500,
  };

  it('a speed report with or without its overhead parses', () => {
    assert.ok(SpeedReportSchema.safeParse(report).success);
    assert.ok(SpeedReportSchema.safeParse({ ...report, overhead }).success);
  });

  it('nonsense overheads are refused', () => {
    for (const bad of [
      { ...overhead, kernelSeconds: -1e-6 },
      { ...overhead, kernelSeconds: 1 },
      { ...overhead, stepSecondsPerParam: { sgd: 1e-9, momentum: 1e-9 } },
      { ...overhead, stepSecondsPerParam: { ...overhead.stepSecondsPerParam, adam: 0.01 } },
      { kernelSeconds: 1e-5 },
      { ...overhead, elementSeconds: 1e-3 },
    ])
      assert.equal(SpeedReportSchema.safeParse({ ...report, overhead: bad }).success, false);
  });

  it('cluster.json takes a machine overhead in µs and ns, and refuses a negative one', () => {
    const machine = { id: 'a', gflops: 10, memoryBytes: 1e9 };
    const c = clusterFromJson({
      machines: [
        {
          ...machine,
          overhead: {
            kernelUs: 20,
            readbackUs: 50,
            stepNsPerParam: { sgd: 1, momentum: 2, adam: 5 },
          },
        },
      ],
    });
    const o = c.machines[0]!.overhead!;
    assert.ok(Math.abs(o.kernelSeconds - 20e-6) < 1e-15);
    assert.ok(Math.abs(o.readbackSeconds - 50e-6) < 1e-15);
    assert.ok(Math.abs(o.stepSecondsPerParam.adam - 5e-9) < 1e-18);
    assert.equal(clusterFromJson({ machines: [machine] }).machines[0]!.overhead, undefined);
    assert.throws(
      () =>
        clusterFromJson({
          machines: [
            {
              ...machine,
              overhead: {
                kernelUs: -1,
                readbackUs: 0,
                stepNsPerParam: { sgd: 1, momentum: 1, adam: 1 },
              },
            },
          ],
        }),
      /overhead\.kernelUs/,
    );
  });
});

describe("summing a step's weight gradients", () => {
  it('each micro-batch after the first adds its gradients to the step’s: (m − 1)/m of the parameters each, in W where there is one', () => {
    const model = getModel('mnist-mlp');
    const params = modelCost(model).trainableParams;
    const at = (elementSeconds: number, microbatches: number) =>
      coster(model, { overhead: { ...overhead, elementSeconds } }, 64, microbatches);
    const extra = (mbs: number) =>
      at(1e-9, mbs).computeSeconds(0, 3, 0) - at(0, mbs).computeSeconds(0, 3, 0);
    // The elementwise rate also prices nothing else in a dense stack but this.
    assert.ok(Math.abs(extra(4) - params * 1e-9 * (3 / 4)) < 1e-12);
    assert.ok(Math.abs(extra(1)) < 1e-15);
    // A dense stage's W (zero bubble) does the adding: its share moves there with it.
    const w = at(1e-9, 4).weightGradSeconds(0, 3, 0) - at(0, 4).weightGradSeconds(0, 3, 0);
    assert.ok(Math.abs(w - params * 1e-9 * (3 / 4)) < 1e-12);
  });
});

describe('an embedding lookup', () => {
  it('is charged per element it writes: the gather in F (and again in a recomputing B), the scatter-add in B', () => {
    const model = getModel('char-gru');
    const out = modelCost(model).layers[0]!;
    assert.equal(
      out.gatherElements,
      out.outputShape.reduce((a, b) => a * b, 1),
    );
    const rates = { gatherSecondsPerElement: 40e-9, scatterSecondsPerElement: 30e-9 };
    const withRates = coster(model, { overhead: { ...overhead, ...rates } });
    const without = coster(model, { overhead });
    const elements = out.gatherElements * withRates.microbatchSize;
    const near = (a: number, b: number) => Math.abs(a - b) < 1e-12;
    // The embedding alone as a first stage: it keeps no tape, so B gathers again.
    assert.ok(
      near(withRates.forwardSeconds(0, 1, 0) - without.forwardSeconds(0, 1, 0), elements * 40e-9),
    );
    assert.ok(
      near(
        withRates.backwardSeconds(0, 1, 0) - without.backwardSeconds(0, 1, 0),
        elements * (40e-9 + 30e-9),
      ),
    );
    // Stages without an embedding pay nothing for it.
    assert.equal(withRates.computeSeconds(1, 3, 0), without.computeSeconds(1, 3, 0));
  });
});
