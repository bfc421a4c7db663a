import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { buildModel } from '../../native/model/build.js';
import { getModel, listModels } from '../../native/model/catalogue.js';
import {
  CHAR_VOCAB,
  decodeChars,
  encodeChars,
  generateCorpus,
} from '../../native/model/charCorpus.js';
import { inferShapes } from '../../native/model/shapes.js';
import { ModelSpecSchema, layerSeed, type ModelSpec } from '../../native/model/spec.js';

before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

function weightsOf(model: tf.Sequential): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

describe('catalogue', () => {
  it('ships the four models, each a valid spec', () => {
    const ids = listModels().map((m) => m.id);
    assert.deepEqual(ids, ['mnist-mlp', 'mnist-cnn', 'deep-mlp', 'char-gru']);
    for (const m of listModels()) ModelSpecSchema.parse(m);
  });

  it('names the known models when an id is unknown', () => {
    assert.throws(() => getModel('resnet-50'), /unknown model "resnet-50".*mnist-mlp, mnist-cnn/);
  });

  it('hands out copies', () => {
    const a = getModel('mnist-mlp');
    a.layers.pop();
    assert.equal(getModel('mnist-mlp').layers.length, 3);
  });

  it('has the layer sizes the issue asks for', () => {
    assert.deepEqual(inferShapes(getModel('mnist-mlp')), [[512], [256], [10]]);
    const deep = inferShapes(getModel('deep-mlp'));
    assert.equal(deep.length, 9);
    assert.deepEqual(deep.slice(0, 8), Array(8).fill([1024]));
    assert.deepEqual(inferShapes(getModel('mnist-cnn')), [
      [28, 28, 16],
      [14, 14, 16],
      [14, 14, 32],
      [7, 7, 32],
      [1568],
      [128],
      [10],
    ]);
    assert.deepEqual(inferShapes(getModel('char-gru')), [[32, 32], [128], [CHAR_VOCAB.length]]);
  });
});

describe('buildModel', () => {
  for (const spec of listModels()) {
    it(`builds ${spec.id} with the shapes and parameter count tfjs reports`, () => {
      const model = buildModel(tf, spec);
      const shapes = inferShapes(spec);
      model.layers.forEach((layer, i) => {
        assert.deepEqual((layer.outputShape as number[]).slice(1), shapes[i]);
      });
      assert.equal(model.layers.length, spec.layers.length);
      model.dispose();
    });
  }

  it('gives the same weights for the same seed and different ones for another', () => {
    const spec = getModel('mnist-mlp');
    const a = buildModel(tf, spec);
    const b = buildModel(tf, spec);
    const c = buildModel(tf, { ...spec, seed: spec.seed + 1 });
    const [wa, wb, wc] = [weightsOf(a), weightsOf(b), weightsOf(c)];
    assert.deepEqual(wa, wb);
    assert.notDeepEqual(wa[0], wc[0]);
    for (const m of [a, b, c]) m.dispose();
  });

  it('builds a slice with the same weights as those layers in a whole build', () => {
    const spec = getModel('mnist-cnn');
    const whole = buildModel(tf, spec);
    const slice = buildModel(tf, spec, { start: 2, end: 6 });
    assert.deepEqual((slice.inputs[0]!.shape as number[]).slice(1), [14, 14, 16]);
    const wholeWeights = weightsOf(whole);
    // conv_1 has 2 weights (kernel, bias); the slice starts at conv_2.
    assert.deepEqual(weightsOf(slice), wholeWeights.slice(2, 6));
    whole.dispose();
    slice.dispose();
  });

  it('trains the char model one step (embedding + GRU on int ids)', async () => {
    const spec = getModel('char-gru');
    const model = buildModel(tf, spec);
    model.compile({ optimizer: 'sgd', loss: spec.loss });
    const ids = encodeChars(generateCorpus(33 * 4)).slice(0, 33 * 4);
    const xs = tf.tensor2d(
      Array.from({ length: 4 }, (_, r) => Array.from(ids.slice(r * 33, r * 33 + 32))),
    );
    const ys = tf.tensor1d(
      Array.from({ length: 4 }, (_, r) => ids[r * 33 + 32]!),
      'float32',
    );
    const h = await model.fit(xs, ys, { epochs: 1, batchSize: 4, verbose: 0 });
    assert.ok(Number.isFinite(h.history.loss![0] as number));
    tf.dispose([xs, ys]);
    model.dispose();
  });

  it('refuses a class outside the allowlist, naming it and what is supported', () => {
    const spec: ModelSpec = {
      ...getModel('mnist-mlp'),
      layers: [{ className: 'Lambda', config: { name: 'evil' } }],
    };
    assert.throws(() => buildModel(tf, spec), /layer 0 \("evil"\) has class Lambda.*Dense, Conv2D/);
  });

  it('rejects an out-of-range slice', () => {
    assert.throws(() => buildModel(tf, getModel('mnist-mlp'), { start: 2, end: 9 }), /outside/);
    assert.throws(() => buildModel(tf, getModel('mnist-mlp'), { start: 2, end: 2 }), /empty/);
  });
});

describe('seeds and corpus', () => {
  it('derives distinct 31-bit seeds per layer and role', () => {
    const seeds = new Set<number>();
    for (let l = 0; l < 50; l++)
      for (let r = 0; r < 3; r++) {
        const s = layerSeed(42, l, r);
        assert.ok(Number.isInteger(s) && s >= 0 && s < 2 ** 31);
        seeds.add(s);
      }
    assert.equal(seeds.size, 150);
  });

  it('generates the same text every time, within the vocabulary', () => {
    const a = generateCorpus(5000);
    assert.equal(a.length, 5000);
    assert.equal(a, generateCorpus(5000));
    assert.notEqual(a, generateCorpus(5000, 8));
    assert.equal(decodeChars(encodeChars(a)), a);
  });
});
