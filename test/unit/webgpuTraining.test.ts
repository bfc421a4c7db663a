import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Tf } from '../../native/backend/tfTypes.js';
import { listModels } from '../../native/model/catalogue.js';
import { samplesFor, trainSteps, type TrainOptions } from '../helpers/backendTraining.js';
import { webgpuForTest } from '../helpers/webgpuTest.js';

let tf: Tf | null = null;
let skip = '';

before(async () => {
  const w = await webgpuForTest();
  if ('skip' in w) skip = w.skip;
  else tf = w.tf;
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

// As on wasm (wasmTraining.test.ts): SGD for deep-mlp, whose Adam update dominates a small batch.
const OPTIONS: Record<string, TrainOptions> = {
  'deep-mlp': { optimizer: 'sgd', learningRate: 0.2 },
};

describe('every catalogue model trains on webgpu', () => {
  for (const spec of listModels()) {
    it(`${spec.id}: loss falls over 20 steps`, async (t) => {
      if (!tf) return t.skip(skip);
      await tf.setBackend('webgpu');
      const batch = spec.id === 'deep-mlp' ? 16 : 32;
      const { losses } = await trainSteps(
        tf,
        spec,
        samplesFor(spec, batch * 4),
        batch,
        20,
        OPTIONS[spec.id] ?? { learningRate: 3e-3 },
      );
      assert.equal(tf.getBackend(), 'webgpu');
      assert.equal(losses.length, 20);
      assert.ok(
        losses.every((l) => Number.isFinite(l)),
        `non-finite loss: ${losses.join(', ')}`,
      );
      const first = mean(losses.slice(0, 4));
      const last = mean(losses.slice(-4));
      assert.ok(last < 0.9 * first, `loss did not fall: ${losses.map((l) => l.toFixed(3))}`);
    });
  }
});
