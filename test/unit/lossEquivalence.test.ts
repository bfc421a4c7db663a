import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { openDataset } from '../../native/data/openDataset.js';
import { EpochSampler } from '../../native/data/sampler.js';
import { LOSS_NAMES } from '../../native/model/spec.js';
import { datasetFeed } from '../../native/pipeline/datasetFeed.js';
import { LocalPipeline } from '../../native/pipeline/localPipeline.js';
import { ReferenceTrainer } from '../../native/pipeline/referenceTrainer.js';
import { lossModel } from '../helpers/lossModels.js';
import { maxAbsDiff } from '../helpers/training.js';

describe('every loss trains in a 2-stage pipeline as in one process (the arithmetic, in-process)', () => {
  let tf: Tf;
  before(async () => {
    tf = (await initBackend({ prefer: 'wasm' })).tf;
  });

  for (const loss of LOSS_NAMES) {
    for (const recompute of [false, true]) {
      it(`${loss}, last stage ${recompute ? 'recomputes its forward' : 'keeps activations'}: 8 steps within 1e-4`, async () => {
        const spec = lossModel(loss, recompute);
        const ds = openDataset('synthetic', spec);
        const m = 4;
        const feed = datasetFeed(ds, new EpochSampler(ds.size('train'), 32, 3), m, spec.inputShape);
        const optimizer = { name: 'sgd', learningRate: 0.1 } as const;
        const n = spec.layers.length;
        const slices = [
          { start: 0, end: 1 },
          { start: 1, end: n },
        ];
        const pipe = new LocalPipeline(tf, spec, slices, '1f1b', m, optimizer, feed);
        assert.equal(pipe.executors[1]!.backwardMode, recompute ? 'recompute' : 'stash');
        const ref = new ReferenceTrainer(tf, spec, m, optimizer, feed);
        const losses: number[] = [];
        for (let s = 0; s < 8; s++) {
          const piped = (await pipe.step(s)).at(-1)!.loss!;
          const single = ref.step(s);
          assert.ok(Math.abs(piped - single) < 1e-4, `step ${s}: loss ${piped} vs ${single}`);
          losses.push(piped);
        }
        const diff = maxAbsDiff(pipe.weights(), ref.weights());
        assert.ok(diff < 1e-4, `max abs weight difference ${diff}`);
        assert.ok(
          losses.at(-1)! < losses[0]!,
          `loss fell: ${losses.map((l) => l.toFixed(4)).join(' ')}`,
        );
        pipe.dispose();
        ref.dispose();
      });
    }
  }
});
