import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { getModel, listModels } from '../../native/model/catalogue.js';
import { relativeError } from '../helpers/backendCompare.js';
import { samplesFor, trainSteps, type TrainOptions } from '../helpers/backendTraining.js';

let tf: Tf;

before(async () => {
  tf = (await initBackend({ prefer: 'wasm' })).tf;
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

// deep-mlp's 8 M weights make Adam's update the larger part of a small-batch step; SGD exercises
// the same gradient kernels in a fraction of the time.
const OPTIONS: Record<string, TrainOptions> = {
  'deep-mlp': { optimizer: 'sgd', learningRate: 0.2 },
};

describe('every catalogue model trains on wasm', () => {
  for (const spec of listModels()) {
    it(`${spec.id}: loss falls over 20 steps`, async () => {
      tf.setBackend('wasm');
      const batch = spec.id === 'deep-mlp' ? 16 : 32;
      // Four batches, cycled: the loss must fall on data the model has seen.
      const { losses } = await trainSteps(
        tf,
        spec,
        samplesFor(spec, batch * 4),
        batch,
        20,
        OPTIONS[spec.id] ?? { learningRate: 3e-3 },
      );
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

describe('training on wasm matches training on cpu', () => {
  // Same seeded weights, same batches: the losses of the first steps must agree, which checks every
  // kernel of a whole forward and backward pass and the optimizer update in between. (mnist-cnn's
  // convolution gradients are compared kernel by kernel in wasmKernels.test.ts: the cpu backend's
  // filter gradient takes seconds per step.)
  for (const id of ['mnist-mlp', 'char-gru']) {
    it(`${id}: the first 3 losses agree`, async () => {
      const spec = getModel(id);
      // A quarter of the char model's context: the same kernels, a quarter of the cpu's time.
      if (id === 'char-gru') spec.inputShape = [8];
      const data = samplesFor(spec, 8);
      const run = async (backend: string) => {
        tf.setBackend(backend);
        return (await trainSteps(tf, spec, data, 4, 3, { learningRate: 1e-2 })).losses;
      };
      const cpu = await run('cpu');
      const wasm = await run('wasm');
      assert.ok(relativeError(wasm, cpu) < 1e-3, `cpu ${cpu} vs wasm ${wasm}`);
      assert.notEqual(cpu[0], cpu[2], 'the weights changed between steps');
    });
  }
});
