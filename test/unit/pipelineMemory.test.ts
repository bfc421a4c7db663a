import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import { EpochSampler } from '../../native/data/sampler.js';
import { SyntheticDataset } from '../../native/data/synthetic.js';
import type { ModelSpec } from '../../native/model/spec.js';
import { datasetFeed } from '../../native/pipeline/datasetFeed.js';
import { LocalPipeline } from '../../native/pipeline/localPipeline.js';

const tiny: ModelSpec = {
  id: 'tiny-mlp',
  name: 'tiny',
  description: 'three small dense layers',
  inputShape: [16],
  inputDtype: 'float32',
  layers: [
    { className: 'Dense', config: { name: 'd1', units: 16, activation: 'relu' } },
    { className: 'Dense', config: { name: 'd2', units: 16, activation: 'relu' } },
    { className: 'Dense', config: { name: 'd3', units: 4, activation: 'softmax' } },
  ],
  loss: 'sparseCategoricalCrossentropy',
  numClasses: 4,
  seed: 9,
  dataset: 'synthetic',
};

describe('pipeline memory', () => {
  for (const schedule of ['gpipe', '1f1b'] as const) {
    it(`${schedule}: tensors and bytes after 1,000 steps equal those after 10`, async () => {
      const { tf } = await initBackend({ prefer: 'wasm' });
      const ds = new SyntheticDataset([16], 4, { train: 512, test: 64 });
      const feed = datasetFeed(ds, new EpochSampler(512, 16, 3), 4, [16]);
      const pipe = new LocalPipeline(
        tf,
        tiny,
        [
          { start: 0, end: 1 },
          { start: 1, end: 2 },
          { start: 2, end: 3 },
        ],
        schedule,
        4,
        { name: 'adam', learningRate: 0.01 },
        feed,
      );
      let at10 = { numTensors: -1, numBytes: -1 };
      let firstLoss = NaN;
      let lastLoss = NaN;
      for (let s = 0; s < 1000; s++) {
        const r = await pipe.step(s);
        if (s === 0) firstLoss = r[2]!.loss!;
        lastLoss = r[2]!.loss!;
        if (s === 9) at10 = { numTensors: tf.memory().numTensors, numBytes: tf.memory().numBytes };
      }
      const at1000 = tf.memory();
      assert.equal(at1000.numTensors, at10.numTensors, 'no tensor leaked per step');
      assert.equal(at1000.numBytes, at10.numBytes, 'no bytes leaked per step');
      assert.ok(lastLoss < firstLoss, `the model trained (${firstLoss} → ${lastLoss})`);
      pipe.dispose();
    });
  }
});
