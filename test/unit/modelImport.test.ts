import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import { buildModel } from '../../native/model/build.js';
import { modelCost } from '../../native/model/cost.js';
import { importModelJson, loadModelFile } from '../../native/model/importModelJson.js';
import { ModelError } from '../../native/model/modelError.js';
import { resolveModel } from '../../native/model/resolveModel.js';

const fixture = (name: string) => path.join('test/fixtures/models', name);

function refuses(name: string, pattern: RegExp) {
  assert.throws(
    () => loadModelFile(fixture(name)),
    (e: unknown) => {
      assert.ok(e instanceof ModelError, `expected a ModelError, got ${String(e)}`);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

describe('model.json import', () => {
  it('imports a tfjs Sequential with its weights manifest', async () => {
    await tf.setBackend('cpu');
    const { spec, weights } = loadModelFile(fixture('sequential-mlp.json'));
    assert.equal(spec.id, 'sequential-mlp');
    assert.deepEqual(spec.inputShape, [784]);
    assert.deepEqual(
      spec.layers.map((l) => [l.className, l.config.name]),
      [
        ['Dense', 'hidden'],
        ['Dropout', 'drop'],
        ['Dense', 'out'],
      ],
    );
    assert.equal(spec.layers[0]!.config.useBias, true);
    assert.equal(spec.numClasses, 10);
    assert.equal(spec.dataset, 'mnist');
    assert.equal(weights?.values, 784 * 32 + 32 + 32 * 10 + 10);
    assert.deepEqual(weights?.paths, ['group1-shard1of1.bin']);
    // The imported spec builds, with tfjs agreeing on the parameter count.
    const model = buildModel(tf, spec);
    assert.equal(model.countParams(), modelCost(spec).params);
    model.dispose();
  });

  it('imports a Sequential without weights (conv, batch-norm, pool, flatten)', () => {
    const { spec, weights } = loadModelFile(fixture('sequential-cnn-noweights.json'));
    assert.equal(weights, null);
    assert.deepEqual(spec.inputShape, [28, 28, 1]);
    assert.equal(spec.layers[0]!.config.dataFormat, 'channelsLast');
    assert.deepEqual(
      (spec.layers[0]!.config.kernelInitializer as { className: string }).className,
      'VarianceScaling',
    );
    assert.deepEqual(modelCost(spec).layers.at(-1)!.outputShape, [10]);
  });

  it('imports a Keras 3 export with an input layer, int ids and a GRU', () => {
    const { spec, notes } = loadModelFile(fixture('keras3-char-gru.json'));
    assert.deepEqual(spec.inputShape, [32]);
    assert.equal(spec.inputDtype, 'int32');
    assert.equal(spec.loss, 'sparseCategoricalCrossentropy');
    assert.deepEqual(
      spec.layers.map((l) => l.className),
      ['Embedding', 'GRU', 'Dense'],
    );
    assert.equal(spec.layers[1]!.config.recurrentActivation, 'sigmoid');
    assert.equal('module' in spec.layers[0]!.config, false);
    assert.match(notes.join(), /dtype policies/);
    const model = buildModel(tf, spec);
    assert.equal(model.countParams(), modelCost(spec).params);
    model.dispose();
  });

  it('imports a functional model that is a single chain', () => {
    const { spec } = loadModelFile(fixture('functional-chain.json'));
    assert.deepEqual(spec.inputShape, [16]);
    assert.deepEqual(
      spec.layers.map((l) => l.config.name),
      ['h1', 'out'],
    );
  });

  it('refuses a functional model with a branch, naming where', () => {
    refuses(
      'functional-branch.json',
      /\("sum", Add\) merges 2 inputs \(a, b\); branches and merges are not supported/,
    );
  });

  it('refuses custom and unknown classes, naming the layer and the supported classes', () => {
    refuses(
      'custom-layer.json',
      /layer 1 \("attn", MyAttention\) is not a supported layer class.*Dense, Conv2D/,
    );
    refuses('lambda-layer.json', /layer 1 \("double_it", Lambda\) is a Lambda layer \(code\)/);
  });

  it('refuses a GRU with reset_after, saying how to fix it', () => {
    refuses('gru-reset-after.json', /"gru", GRU\) uses reset_after=True.*reset_after=False/);
  });

  it('refuses malformed and mismatched files in words', () => {
    refuses('malformed.json', /malformed\.json is not valid JSON/);
    refuses('weights-mismatch.json', /holds 25,440 values but the layers need 25,450/);
    refuses('graph-model.json', /graph model/);
    refuses('does-not-exist.json', /no such file/);
    assert.throws(() => importModelJson('[1, 2]', 'x.json'), /top level/);
    assert.throws(
      () =>
        importModelJson(
          '{"modelTopology": {"class_name": "Sequential", "config": {"layers": []}}}',
          'x.json',
        ),
      /no layer list/,
    );
    assert.throws(
      () =>
        importModelJson(
          JSON.stringify({
            modelTopology: {
              class_name: 'Sequential',
              config: { layers: [{ class_name: 'Dense', config: { units: 3, name: 'd' } }] },
            },
          }),
          'x.json',
        ),
      /declares no fixed input shape/,
    );
    assert.throws(
      () =>
        importModelJson(
          JSON.stringify({
            modelTopology: {
              class_name: 'Sequential',
              config: {
                layers: [
                  {
                    class_name: 'Dense',
                    config: { units: 3, name: 'd', batch_input_shape: [null, 4] },
                  },
                ],
              },
            },
            weightsManifest: [{ paths: ['../../etc/passwd'], weights: [] }],
          }),
          'x.json',
        ),
      /must be a file name next to model.json/,
    );
  });

  it('resolves catalogue ids and files, and says what it accepts', () => {
    assert.equal(resolveModel('mnist-cnn').source, 'catalogue');
    assert.equal(resolveModel(fixture('sequential-mlp.json')).source, 'file');
    assert.throws(() => resolveModel('vgg16'), /neither a catalogue model \(mnist-mlp/);
  });
});
