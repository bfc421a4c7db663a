import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import { SCHEDULE_KINDS } from '../../native/common/names.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { openDataset } from '../../native/data/openDataset.js';
import { EpochSampler } from '../../native/data/sampler.js';
import { getModel } from '../../native/model/catalogue.js';
import { datasetFeed } from '../../native/pipeline/datasetFeed.js';
import { LocalPipeline } from '../../native/pipeline/localPipeline.js';
import { ReferenceTrainer } from '../../native/pipeline/referenceTrainer.js';
import { StageExecutor } from '../../native/pipeline/stageExecutor.js';
import { evenSlices, maxAbsDiff } from '../helpers/training.js';

describe('in-process pipeline equals single-process training (the arithmetic, before any network)', () => {
  let tf: Tf;
  before(async () => {
    tf = (await initBackend({ prefer: 'wasm' })).tf;
  });

  for (const modelId of ['mnist-mlp', 'char-gru']) {
    for (const schedule of SCHEDULE_KINDS) {
      for (const opt of ['sgd', 'adam'] as const) {
        it(`${modelId}, ${schedule}, ${opt}: 3 stages × 4 micro-batches, 5 steps`, async () => {
          const spec = getModel(modelId);
          const ds = openDataset(spec.dataset === 'text' ? 'text' : 'mnist', spec);
          const batch = 32;
          const m = 4;
          const feed = datasetFeed(
            ds,
            new EpochSampler(ds.size('train'), batch, 11),
            m,
            spec.inputShape,
          );
          const optimizer = { name: opt, learningRate: opt === 'sgd' ? 0.1 : 0.001 } as const;
          const p = Math.min(3, spec.layers.length);
          const pipe = new LocalPipeline(
            tf,
            spec,
            evenSlices(spec.layers.length, p),
            schedule,
            m,
            optimizer,
            feed,
          );
          const ref = new ReferenceTrainer(tf, spec, m, optimizer, feed);
          assert.equal(maxAbsDiff(pipe.weights(), ref.weights()), 0, 'same initial weights');
          for (let s = 0; s < 5; s++) {
            const results = await pipe.step(s);
            const refLoss = ref.step(s);
            assert.ok(
              Math.abs(results[p - 1]!.loss! - refLoss) < 1e-4,
              `step ${s} loss ${results[p - 1]!.loss} vs ${refLoss}`,
            );
          }
          const diff = maxAbsDiff(pipe.weights(), ref.weights());
          assert.ok(diff < 1e-4, `max abs weight difference ${diff}`);
          assert.ok(
            maxAbsDiff(
              pipe.weights(),
              new LocalPipeline(
                tf,
                spec,
                evenSlices(spec.layers.length, p),
                schedule,
                m,
                optimizer,
                feed,
              ).weights(),
            ) > 1e-4,
            'training changed the weights',
          );
          pipe.dispose();
          ref.dispose();
        });
      }
    }
  }

  it('keeps activations for dense stacks (no recompute) and recomputes elsewhere', () => {
    const mode = (id: string, start: number, end: number) =>
      new StageExecutor(tf, getModel(id), { start, end }, { name: 'sgd', learningRate: 0.1 })
        .backwardMode;
    assert.equal(mode('deep-mlp', 0, 4), 'stash');
    assert.equal(
      mode('deep-mlp', 4, 9),
      'stash',
      'a dense last stage differentiates only the loss automatically',
    );
    assert.equal(mode('mnist-cnn', 0, 2), 'recompute');
    assert.equal(mode('char-gru', 0, 2), 'recompute');
  });
});
