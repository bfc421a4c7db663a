import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getModel, listModels } from '../../native/model/catalogue.js';
import {
  layerCost,
  modelCost,
  optimizerStateBytes,
  optimizerStepFlops,
} from '../../native/model/cost.js';
import { ModelError } from '../../native/model/modelError.js';

const L = (className: string, config: Record<string, unknown>) => ({ className, config });

describe('cost per layer (hand-computed)', () => {
  it('dense 784 → 512', () => {
    const c = layerCost(L('Dense', { units: 512 }), 0, [784]);
    assert.deepEqual(c.outputShape, [512]);
    assert.equal(c.params, 784 * 512 + 512); // 401,920
    assert.equal(c.forwardFlops, 2 * 784 * 512 + 512); // 803,328
    assert.equal(c.backwardFlops, 4 * 784 * 512 + 512); // 1,606,144
    assert.equal(c.activationBytes, 2048);
    assert.equal(c.stashBytes, 2048);
    assert.equal(c.weightBytes, 401_920 * 4);
  });

  it('dense without bias, applied per timestep', () => {
    const c = layerCost(L('Dense', { units: 10, useBias: false }), 0, [5, 8]);
    assert.deepEqual(c.outputShape, [5, 10]);
    assert.equal(c.params, 80);
    assert.equal(c.forwardFlops, 2 * 5 * 8 * 10);
    assert.equal(c.backwardFlops, 4 * 5 * 8 * 10);
  });

  it('conv2d 5×5 same, 1 → 16 channels on 28×28', () => {
    const c = layerCost(
      L('Conv2D', { filters: 16, kernelSize: 5, padding: 'same' }),
      0,
      [28, 28, 1],
    );
    assert.deepEqual(c.outputShape, [28, 28, 16]);
    assert.equal(c.params, 5 * 5 * 1 * 16 + 16); // 416
    assert.equal(c.forwardFlops, 2 * 28 * 28 * 16 * 25 + 28 * 28 * 16); // 639,744
    assert.equal(c.backwardFlops, 4 * 28 * 28 * 16 * 25 + 28 * 28 * 16);
    assert.equal(c.activationBytes, 28 * 28 * 16 * 4);
  });

  it('conv2d 3×3 valid, stride 2', () => {
    const c = layerCost(
      L('Conv2D', { filters: 8, kernelSize: [3, 3], strides: 2 }),
      0,
      [10, 10, 3],
    );
    assert.deepEqual(c.outputShape, [4, 4, 8]); // floor((10 - 3) / 2) + 1
    assert.equal(c.params, 9 * 3 * 8 + 8);
    assert.equal(c.forwardFlops, 2 * 16 * 8 * 27 + 128);
  });

  it('max and average pooling 2×2', () => {
    for (const cls of ['MaxPooling2D', 'AveragePooling2D']) {
      const c = layerCost(L(cls, { poolSize: 2 }), 0, [28, 28, 16]);
      assert.deepEqual(c.outputShape, [14, 14, 16]);
      assert.equal(c.params, 0);
      assert.equal(c.forwardFlops, 14 * 14 * 16 * 4);
      assert.equal(c.backwardFlops, 14 * 14 * 16 * 4);
    }
    const g = layerCost(L('GlobalAveragePooling2D', {}), 0, [7, 7, 32]);
    assert.deepEqual(g.outputShape, [32]);
    assert.equal(g.forwardFlops, 7 * 7 * 32);
  });

  it('embedding 30 × 32 over 32 ids', () => {
    const c = layerCost(L('Embedding', { inputDim: 30, outputDim: 32 }), 0, [32]);
    assert.deepEqual(c.outputShape, [32, 32]);
    assert.equal(c.params, 960);
    assert.equal(c.forwardFlops, 1024);
    assert.equal(c.backwardFlops, 1024);
  });

  it('LSTM 32 → 128 over 32 steps', () => {
    const c = layerCost(L('LSTM', { units: 128 }), 0, [32, 32]);
    assert.deepEqual(c.outputShape, [128]);
    assert.equal(c.params, 4 * (32 * 128 + 128 * 128 + 128)); // 82,432 as Keras reports
    assert.equal(c.forwardFlops, 2 * 32 * 4 * 128 * 160 + 32 * 4 * 128); // 5,259,264
    assert.equal(c.backwardFlops, 4 * 32 * 4 * 128 * 160 + 32 * 4 * 128);
    // Output, every step's 4 gates and every hidden state.
    assert.equal(c.stashBytes, (128 + 32 * 4 * 128 + 32 * 128) * 4);
  });

  it('GRU 32 → 128 with sequences returned', () => {
    const c = layerCost(L('GRU', { units: 128, returnSequences: true }), 0, [32, 32]);
    assert.deepEqual(c.outputShape, [32, 128]);
    assert.equal(c.params, 3 * (32 * 128 + 128 * 128 + 128)); // 61,824 (tfjs: reset_after false)
    assert.equal(c.forwardFlops, 2 * 32 * 3 * 128 * 160 + 32 * 3 * 128);
    assert.equal(c.stashBytes, (32 * 128 + 32 * 3 * 128) * 4);
    const s = layerCost(L('SimpleRNN', { units: 4 }), 0, [3, 2]);
    assert.equal(s.params, 2 * 4 + 4 * 4 + 4);
  });

  it('batch normalization', () => {
    const c = layerCost(L('BatchNormalization', {}), 0, [14, 14, 16]);
    assert.deepEqual(c.outputShape, [14, 14, 16]);
    assert.equal(c.params, 64); // gamma, beta, moving mean, moving variance
    assert.equal(c.trainableParams, 32);
    assert.equal(c.forwardFlops, 7 * 14 * 14 * 16);
    assert.equal(c.stashBytes, 2 * 14 * 14 * 16 * 4);
  });

  it('dropout keeps its mask; flatten is a free view', () => {
    const d = layerCost(L('Dropout', { rate: 0.5 }), 0, [256]);
    assert.equal(d.params, 0);
    assert.equal(d.stashBytes, 2 * 256 * 4);
    const f = layerCost(L('Flatten', {}), 0, [7, 7, 32]);
    assert.deepEqual(f.outputShape, [1568]);
    assert.equal(f.forwardFlops, 0);
    assert.equal(f.activationBytes, 1568 * 4);
    assert.equal(f.stashBytes, 0);
  });

  it('optimizer state and step for sgd, momentum and adam', () => {
    assert.equal(optimizerStateBytes(1000, 'sgd'), 0);
    assert.equal(optimizerStateBytes(1000, 'momentum'), 4000);
    assert.equal(optimizerStateBytes(1000, 'adam'), 8000);
    assert.ok(optimizerStepFlops(1000, 'adam') > optimizerStepFlops(1000, 'sgd'));
  });

  it('frozen layers have no trainable parameters', () => {
    const c = layerCost(L('Dense', { units: 4, trainable: false }), 0, [3]);
    assert.equal(c.params, 16);
    assert.equal(c.trainableParams, 0);
  });
});

describe('model cost', () => {
  it('totals mnist-mlp', () => {
    const c = modelCost(getModel('mnist-mlp'));
    assert.equal(c.params, 401_920 + 131_328 + 2_570); // 535,818
    assert.equal(c.inputBytes, 784 * 4);
    assert.equal(c.layers.length, 3);
  });

  it('costs every catalogue model', () => {
    for (const m of listModels()) {
      const c = modelCost(m);
      assert.ok(c.forwardFlops > 0 && c.backwardFlops > c.forwardFlops, m.id);
    }
  });

  it('names the layer whose input does not fit', () => {
    const spec = {
      ...getModel('mnist-mlp'),
      layers: [
        L('Dense', { units: 4, name: 'd' }),
        L('Conv2D', { name: 'c', filters: 2, kernelSize: 3 }),
      ],
    };
    assert.throws(
      () => modelCost(spec),
      (e: unknown) =>
        e instanceof ModelError &&
        /layer 1 \("c", Conv2D\) expects \[height, width/.test(e.message),
    );
  });

  it('rejects a pooling window larger than its input', () => {
    assert.throws(
      () => layerCost(L('MaxPooling2D', { poolSize: 5 }), 3, [2, 2, 1]),
      /layer 3 .*does not fit input 2×2/,
    );
  });
});
