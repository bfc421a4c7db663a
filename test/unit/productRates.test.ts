import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  atRows,
  clusterFromJson,
  DEFAULT_LINK,
  type Machine,
} from '../../native/planner/cluster.js';
import { modelCost } from '../../native/model/cost.js';
import { getModel } from '../../native/model/catalogue.js';
import { isDenseStack } from '../../native/model/denseStack.js';
import { makePlan } from '../../native/planner/plan.js';
import { StageCoster } from '../../native/planner/stageCost.js';
import type { ModelSpec } from '../../native/model/spec.js';
import { productRatiosOnCurve, type CurvePoint } from '../../native/util/speedCurve.js';

// As this 2-core machine's wasm curve reports them (each product timed up to its read-back, which for
// dW's k·n output is most of its time at 16 rows): dW at a quarter of the others' rate at 16 rows,
// the three within 10% by 64.
const curve: CurvePoint[] = [
  { rows: 16, gflops: 12, forward: 24, inputGrad: 24, weightGrad: 6 },
  { rows: 64, gflops: 28, forward: 30, inputGrad: 28, weightGrad: 26 },
];
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

/** A one-machine coster for `model` at 16 rows a micro-batch (12 GFLOP/s combined), `ratios` its products'. */
function costerFor(model: ModelSpec, ratios?: Machine['productRatios']): StageCoster {
  const cost = modelCost(model);
  return new StageCoster({
    layers: cost.layers.map((l, i) => ({
      ...l,
      keepsActivations: isDenseStack([model.layers[i]!]),
    })),
    inputBytes: cost.inputBytes,
    machines: [
      {
        id: 'a',
        name: 'a',
        gflops: 12,
        memoryBytes: 1e12,
        ...(ratios ? { productRatios: ratios } : {}),
      },
    ],
    link: () => DEFAULT_LINK,
    batch: 64,
    microbatches: 4,
    schedule: 'zb-h1',
    optimizer: 'adam',
  });
}

describe('each product at its own rate', () => {
  it('reads each product relative to the combined rate, interpolated and clamped as the curve is', () => {
    const at16 = productRatiosOnCurve(curve, 16)!;
    assert.deepEqual(at16, { forward: 2, inputGrad: 2, weightGrad: 0.5 });
    assert.deepEqual(productRatiosOnCurve(curve, 8), at16, 'clamped below the curve');
    const at32 = productRatiosOnCurve(curve, 32)!;
    // Halfway in log(rows): the combined rate 20, the forward 27.
    close(at32.forward, 27 / 20, 'forward at 32 rows');
    close(at32.weightGrad, 16 / 20, 'weight gradient at 32 rows');
    // A report from before the products were measured: one rate for all, as before.
    assert.equal(productRatiosOnCurve([{ rows: 16, gflops: 12 }, curve[1]!], 16), null);
    assert.equal(productRatiosOnCurve(undefined, 16), null);
  });

  it('the planner costs a machine at the plan’s rows with each product’s share', () => {
    const m: Machine = { id: 'a', name: 'a', gflops: 30, memoryBytes: 1e12, speedCurve: curve };
    const at = atRows(m, 16);
    assert.equal(at.gflops, 12);
    assert.deepEqual(at.productRatios, { forward: 2, inputGrad: 2, weightGrad: 0.5 });
    assert.equal(atRows({ ...m, speedCurve: undefined }, 16).productRatios, undefined);
    // cluster.json carries the products too.
    const c = clusterFromJson({
      machines: [{ id: 'a', gflops: 30, memoryBytes: 1e12, speedCurve: curve }],
    });
    assert.deepEqual(c.machines[0]!.speedCurve, curve);
  });

  it('charges a dense stage’s forward, input gradient and weight gradient each at its rate', () => {
    const model = getModel('mnist-mlp');
    const cost = modelCost(model);
    const one = costerFor(model);
    const split = costerFor(model, { forward: 2, inputGrad: 2, weightGrad: 0.5 });
    const rows = 16;
    const rate = 12e9;
    const [d1, d2] = [cost.layers[1]!, cost.layers[2]!];
    // Layers 1–2 (a middle stage): forward, then the input gradients and the weight gradients.
    const fwd = (d1.forwardFlops + d2.forwardFlops) * rows;
    const wgrad = (d1.backwardFlops - d1.forwardFlops + d2.backwardFlops - d2.forwardFlops) * rows;
    const dx = (d1.backwardFlops + d2.backwardFlops) * rows - wgrad;
    close(one.flopSeconds(1, 3, 0), (fwd + dx + wgrad) / rate, 'one rate for all');
    close(
      split.flopSeconds(1, 3, 0),
      fwd / (2 * rate) + dx / (2 * rate) + wgrad / (0.5 * rate),
      'each at its own',
    );
    close(
      split.forwardSeconds(1, 3, 0) - one.forwardSeconds(1, 3, 0),
      fwd / (2 * rate) - fwd / rate,
      'F',
    );
    close(
      split.weightGradSeconds(1, 3, 0) - one.weightGradSeconds(1, 3, 0),
      wgrad / (0.5 * rate) - wgrad / rate,
      'W',
    );
    // A first stage skips its first layer's input gradient: none of it is charged at either rate.
    const d0 = cost.layers[0]!;
    // Its dx share is the forward's worth (a Dense layer's), less the input gradient it skips.
    const first =
      (d0.forwardFlops / 2 +
        (d0.forwardFlops - d0.inputGradFlops) / 2 +
        (d0.backwardFlops - d0.forwardFlops) / 0.5) *
      rows;
    close(split.flopSeconds(0, 1, 0), first / rate, 'first stage');
    assert.ok(
      split.stageFlops(0, 3) === one.stageFlops(0, 3),
      'FLOPs are FLOPs whatever their rate',
    );
  });

  it('charges a convolution at the combined rate: its weight gradient sums over rows and positions', () => {
    const model = getModel('mnist-cnn');
    const cost = modelCost(model);
    assert.equal(cost.layers[0]!.rowProducts, false, 'Conv2D');
    assert.equal(cost.layers.at(-1)!.rowProducts, true, 'the last Dense');
    const one = costerFor(model);
    const split = costerFor(model, { forward: 2, inputGrad: 2, weightGrad: 0.5 });
    const n = cost.layers.length;
    // The convolutions, pooling and flattening: the same whatever the products' rates.
    const convs = cost.layers.findIndex((l) => l.rowProducts);
    close(split.flopSeconds(0, convs, 0), one.flopSeconds(0, convs, 0), 'convolutions');
    close(split.flopSeconds(1, convs, 0), one.flopSeconds(1, convs, 0), 'convolutions, stage 2');
    close(split.weightGradSeconds(1, convs, 0), one.weightGradSeconds(1, convs, 0), 'their W');
    // The dense layers after them: at their products' rates.
    assert.notEqual(split.flopSeconds(convs, n, 0), one.flopSeconds(convs, n, 0));
  });

  it('a plan at 16 rows predicts a dense model slower where the weight gradients are slow', () => {
    const machines = ['a', 'b'].map((id) => ({
      id,
      gflops: 20,
      memoryBytes: 1e12,
      speedCurve: curve,
    }));
    const plan = (withProducts: boolean) => {
      const c = clusterFromJson({
        machines: machines.map((m) => ({
          ...m,
          speedCurve: withProducts ? curve : curve.map(({ rows, gflops }) => ({ rows, gflops })),
        })),
      });
      const r = makePlan({
        model: getModel('mnist-mlp'),
        source: 'catalogue',
        path: null,
        cluster: c,
        stages: 2,
        batch: 64,
        microbatches: 4,
        schedule: '1f1b',
        optimizer: 'adam',
        preset: 'balanced',
      });
      assert.ok(r.ok);
      return r.plan.prediction;
    };
    const [flat, split] = [plan(false), plan(true)];
    // Forward at twice the combined rate, the weight gradients at half: F shrinks, B grows.
    assert.ok(split.stages[0]!.forwardSeconds < flat.stages[0]!.forwardSeconds);
    assert.ok(split.stages[1]!.backwardSeconds > flat.stages[1]!.backwardSeconds);
  });
});
