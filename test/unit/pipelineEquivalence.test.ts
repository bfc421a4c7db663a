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

  // Interleaving needs two layers a stage at least: the catalogue's 3-layer models have too few.
  // Batches split into equal micro-batches; even so deep-mlp with Adam at batch 48 ends 1e-3 from
  // the reference under every schedule, 1F1B included (rounding that Adam's normalisation magnifies),
  // so its interleaved cases train batches of 12 a stage.
  const cases = [
    ...['mnist-mlp', 'char-gru'].flatMap((modelId) =>
      SCHEDULE_KINDS.filter((s) => s !== 'interleaved-1f1b').map((schedule) => ({
        modelId,
        schedule,
        p: 3,
        m: 4,
        batch: 32,
        chunks: 1,
      })),
    ),
    ...['deep-mlp', 'mnist-cnn'].flatMap((modelId) =>
      [2, 3].map((p) => ({
        modelId,
        schedule: 'interleaved-1f1b' as const,
        p,
        m: 2 * p,
        batch: 12 * p,
        chunks: 2,
      })),
    ),
    {
      modelId: 'deep-mlp',
      schedule: 'interleaved-1f1b' as const,
      p: 2,
      m: 4,
      batch: 32,
      chunks: 3,
    },
  ];
  for (const { modelId, schedule, p, m, batch, chunks } of cases) {
    for (const opt of ['sgd', 'adam'] as const) {
      const shape = `${p} stages${chunks > 1 ? ` of ${chunks} chunks` : ''} × ${m} micro-batches`;
      it(`${modelId}, ${schedule}, ${opt}: ${shape}, 5 steps`, async () => {
        const spec = getModel(modelId);
        const ds = openDataset(spec.dataset === 'text' ? 'text' : 'mnist', spec);
        const feed = datasetFeed(
          ds,
          new EpochSampler(ds.size('train'), batch, 11),
          m,
          spec.inputShape,
        );
        const optimizer = { name: opt, learningRate: opt === 'sgd' ? 0.1 : 0.001 } as const;
        const slices = evenSlices(spec.layers.length, p * chunks);
        const pipe = new LocalPipeline(tf, spec, slices, schedule, m, optimizer, feed, chunks);
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
            new LocalPipeline(tf, spec, slices, schedule, m, optimizer, feed, chunks).weights(),
          ) > 1e-4,
          'training changed the weights',
        );
        pipe.dispose();
        ref.dispose();
      });
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
