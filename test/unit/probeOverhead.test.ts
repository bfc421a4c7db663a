import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import { measureOverhead } from '../../native/backend/probe.js';
import { SpeedOverheadSchema } from '../../native/protocol/inventorySchemas.js';

describe("the speed probe's fixed costs, measured on wasm", () => {
  it('are within the bounds the inventory accepts, and the repack after a step is seen', async () => {
    const { tf } = await initBackend({ prefer: 'wasm' });
    const o = await measureOverhead(tf);
    console.log(`measured overhead: ${JSON.stringify(o)}`);
    assert.ok(SpeedOverheadSchema.safeParse(o).success, JSON.stringify(o));
    // wasm's XNNPACK packs changed weights again: a product right after an Adam update is slower.
    assert.ok(o.repackSecondsPerParam! > 0, `repack ${o.repackSecondsPerParam}`);
    assert.ok(o.kernelSeconds > 0 && o.stepSecondsPerParam.adam > o.stepSecondsPerParam.sgd / 10);
    // An embedding lookup and its gradient cost far more an element than a kernel's launch spread
    // over its 16 Ki elements.
    for (const rate of [o.gatherSecondsPerElement!, o.scatterSecondsPerElement!])
      assert.ok(rate > o.kernelSeconds / (16 * 1024), `gather/scatter ${rate}`);
  });
});
