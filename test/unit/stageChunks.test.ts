import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { openDataset } from '../../native/data/openDataset.js';
import { EpochSampler } from '../../native/data/sampler.js';
import { getModel } from '../../native/model/catalogue.js';
import { datasetFeed } from '../../native/pipeline/datasetFeed.js';
import { LocalPipeline } from '../../native/pipeline/localPipeline.js';
import { chunksInModelOrder, StageChunks } from '../../native/pipeline/stageChunks.js';
import { StageExecutor } from '../../native/pipeline/stageExecutor.js';
import { evenSlices } from '../helpers/training.js';

describe('a stage of several chunks, seen as one stage', () => {
  let tf: Tf;
  before(async () => {
    tf = (await initBackend({ prefer: 'wasm' })).tf;
  });

  it('puts stages’ chunk-after-chunk lists back in model order (chunk 0 of every stage first)', () => {
    // Stage 0 holds virtual stages 0 and 2, stage 1 holds 1 and 3.
    const perStage = [
      ['v0a', 'v0b', 'v2a'],
      ['v1a', 'v3a', 'v3b'],
    ];
    assert.deepEqual(
      chunksInModelOrder(perStage, [
        [2, 1],
        [1, 2],
      ]),
      ['v0a', 'v0b', 'v1a', 'v2a', 'v3a', 'v3b'],
    );
    assert.deepEqual(chunksInModelOrder([['a'], ['b', 'c']], [[1], [2]]), ['a', 'b', 'c']);
    assert.throws(
      () =>
        chunksInModelOrder(perStage, [
          [2, 2],
          [1, 2],
        ]),
      /stage 0 sent 3 arrays; its chunks hold 4/,
    );
  });

  for (const optimizer of ['adam', 'momentum'] as const)
    it(`${optimizer}: weights and optimizer state leave and come back chunk by chunk, and the state reads as one stage's`, async () => {
      const spec = getModel('deep-mlp');
      const ds = openDataset('mnist', spec);
      const feed = datasetFeed(ds, new EpochSampler(ds.size('train'), 32, 1), 4, spec.inputShape);
      const opt = { name: optimizer, learningRate: 0.01 } as const;
      const slices = evenSlices(spec.layers.length, 4);
      // Two stages of two chunks, trained two steps so the optimizer keeps state for every variable.
      const pipe = new LocalPipeline(tf, spec, slices, 'interleaved-1f1b', 4, opt, feed, 2);
      for (let s = 0; s < 2; s++) await pipe.step(s);
      const trained = new StageChunks([pipe.executors[0]!, pipe.executors[2]!], optimizer);
      const state = await trained.readOptimizerState();
      const weights = await trained.readWeights();
      const vars = trained.layout.reduce((n, l) => n + l.variables, 0);
      // One step count, per-variable state for both chunks' variables, one set of Adam's powers.
      assert.equal(state.length, 1 + (optimizer === 'adam' ? 2 * vars + 2 : vars));
      assert.deepEqual(
        trained.layout.map((l) => l.weights),
        [slices[0]!, slices[2]!].map((s) => 2 * (s.end - s.start)),
      );

      const fresh = new StageChunks(
        [slices[0]!, slices[2]!].map((s) => new StageExecutor(tf, spec, s, opt)),
        optimizer,
      );
      fresh.setWeights(weights);
      await fresh.restoreOptimizerState(state);
      const again = await fresh.readOptimizerState();
      assert.deepEqual(
        again.map((a) => [a.shape, Array.from(a.data.subarray(0, 8))]),
        state.map((a) => [a.shape, Array.from(a.data.subarray(0, 8))]),
      );
      assert.deepEqual(
        (await fresh.readWeights()).map((w) => Array.from(w.data.subarray(0, 8))),
        weights.map((w) => Array.from(w.data.subarray(0, 8))),
      );
      assert.throws(() => fresh.setWeights(weights.slice(1)), /stage expects \d+ weight arrays/);
      await assert.rejects(
        fresh.restoreOptimizerState([...state.slice(0, 2), ...state.slice(3)]),
        /arrays are not an optimizer state|optimizer state for \d+ variables/,
      );
      fresh.dispose();
      pipe.dispose();
    });
});
