import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import {
  measureOverhead,
  measureTrainingCurve,
  OVERHEAD_PROBE_REVISION,
} from '../../native/backend/probe.js';
import { SpeedOverheadSchema, SpeedReportSchema } from '../../native/protocol/inventorySchemas.js';

describe("the speed probe's fixed costs, measured on wasm", () => {
  it('are within the bounds the inventory accepts, and the repack after a step is seen', async () => {
    const { tf } = await initBackend({ prefer: 'wasm' });
    const o = await measureOverhead(tf);
    console.log(`measured overhead: ${JSON.stringify(o)}`);
    assert.ok(SpeedOverheadSchema.safeParse(o).success, JSON.stringify(o));
    assert.equal(o.revision, OVERHEAD_PROBE_REVISION, 'says which probe took it');
    // wasm's XNNPACK packs changed weights again: a product right after an Adam update is slower.
    assert.ok(o.repackSecondsPerParam! > 0, `repack ${o.repackSecondsPerParam}`);
    assert.ok(o.kernelSeconds > 0 && o.stepSecondsPerParam.adam > o.stepSecondsPerParam.sgd / 10);
    // An embedding lookup and its gradient cost far more an element than a kernel's launch spread
    // over its 16 Ki elements.
    for (const rate of [o.gatherSecondsPerElement!, o.scatterSecondsPerElement!])
      assert.ok(rate > o.kernelSeconds / (16 * 1024), `gather/scatter ${rate}`);
  });

  it('times each product of the speed curve apart, and the three together lie between them', async () => {
    const { tf } = await initBackend({ prefer: 'wasm' });
    const curve = await measureTrainingCurve(tf, 128, 128);
    console.log(`curve: ${JSON.stringify(curve)}`);
    const report = {
      backend: 'wasm',
      gflops: 1,
      matrix: [1, 128, 128],
      measuredAt: 0,
      durationMs: 1,
      curve,
    };
    assert.ok(SpeedReportSchema.safeParse(report).success, 'the inventory carries it');
    for (const p of curve) {
      const products = [p.forward!, p.inputGrad!, p.weightGrad!];
      for (const g of products) assert.ok(g > 0, `${p.rows} rows: ${JSON.stringify(p)}`);
      // Equal FLOPs each: together they run at the harmonic mean of their rates (medians of
      // windows, so between the slowest and the fastest, not exactly the mean).
      assert.ok(
        p.gflops >= Math.min(...products) * 0.9 && p.gflops <= Math.max(...products) * 1.1,
        `${p.rows} rows: ${JSON.stringify(p)}`,
      );
    }
  });
});
