import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import type * as tfc from '@tensorflow/tfjs-core';
import { initBackend } from '../../native/backend/initBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { checkDatasetFits, datasetFitProblem } from '../../native/data/datasetFit.js';
import { openDataset } from '../../native/data/openDataset.js';
import { importModelJson, loadModelFile } from '../../native/model/importModelJson.js';
import { checkLossFits, lossFromKeras, normaliseLossName } from '../../native/model/losses.js';
import { ModelError } from '../../native/model/modelError.js';
import { LOSS_NAMES, type LossName, type ModelSpec } from '../../native/model/spec.js';
import { correctCount, lossValue } from '../../native/pipeline/loss.js';
import { makePlan, PlanError } from '../../native/planner/plan.js';

const fixture = (name: string) => path.join('test/fixtures/models', name);

/** A Keras 2 style Sequential model.json around `layers`, with `extra` merged into the top level. */
function modelJson(
  layers: { units: number; activation: string }[],
  topology: Record<string, unknown> = {},
  top: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    format: 'layers-model',
    modelTopology: {
      class_name: 'Sequential',
      config: {
        name: 'm',
        layers: layers.map((l, i) => ({
          class_name: 'Dense',
          config: {
            name: `d${i}`,
            units: l.units,
            activation: l.activation,
            ...(i === 0 ? { batch_input_shape: [null, 8] } : {}),
          },
        })),
      },
      ...topology,
    },
    ...top,
  });
}
const binaryLayers = [
  { units: 16, activation: 'relu' },
  { units: 1, activation: 'sigmoid' },
];

function refusesWith(fn: () => unknown, pattern: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ModelError, `expected a ModelError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('loss names and Keras loss configs', () => {
  it('normalises every spelling of the four losses, and nothing else', () => {
    const cases: [string, LossName][] = [
      ['binary_crossentropy', 'binaryCrossentropy'],
      ['BinaryCrossentropy', 'binaryCrossentropy'],
      ['binaryCrossentropy', 'binaryCrossentropy'],
      ['bce', 'binaryCrossentropy'],
      ['categorical_crossentropy', 'categoricalCrossentropy'],
      ['CategoricalCrossentropy', 'categoricalCrossentropy'],
      ['sparse_categorical_crossentropy', 'sparseCategoricalCrossentropy'],
      ['SparseCategoricalCrossentropy', 'sparseCategoricalCrossentropy'],
      ['mean_squared_error', 'meanSquaredError'],
      ['MeanSquaredError', 'meanSquaredError'],
      ['mse', 'meanSquaredError'],
    ];
    for (const [raw, want] of cases) assert.equal(normaliseLossName(raw), want, raw);
    for (const raw of [
      'hinge',
      'kl_divergence',
      'mean_absolute_error',
      'binary_focal_crossentropy',
    ])
      assert.equal(normaliseLossName(raw), null, raw);
    for (const name of LOSS_NAMES) assert.equal(normaliseLossName(name), name);
  });

  it('reads strings, Keras 3 objects and functions, and one-entry per-output forms', () => {
    const keras3 = {
      module: 'keras.losses',
      class_name: 'BinaryCrossentropy',
      config: {
        name: 'binary_crossentropy',
        reduction: 'sum_over_batch_size',
        from_logits: false,
        label_smoothing: 0,
        axis: -1,
      },
      registered_name: null,
    };
    assert.equal(lossFromKeras(keras3, 'f'), 'binaryCrossentropy');
    assert.equal(
      lossFromKeras(
        {
          module: 'keras.losses',
          class_name: 'function',
          config: 'mean_squared_error',
          registered_name: 'mean_squared_error',
        },
        'f',
      ),
      'meanSquaredError',
    );
    assert.equal(
      lossFromKeras({ out: 'sparse_categorical_crossentropy' }, 'f'),
      'sparseCategoricalCrossentropy',
    );
    assert.equal(lossFromKeras(['categoricalCrossentropy'], 'f'), 'categoricalCrossentropy');
  });

  it('refuses other losses and options that change the arithmetic, by name', () => {
    refusesWith(
      () => lossFromKeras('hinge', 'f.json'),
      /f\.json: the model's loss "hinge" is not supported; supported losses: binaryCrossentropy/,
    );
    refusesWith(
      () => lossFromKeras({ module: 'keras.losses', class_name: 'KLDivergence', config: {} }, 'f'),
      /loss KLDivergence is not supported/,
    );
    refusesWith(
      () => lossFromKeras({ class_name: 'BinaryCrossentropy', config: { from_logits: true } }, 'f'),
      /BinaryCrossentropy\(from_logits=True\) is not supported.*sigmoid/,
    );
    refusesWith(
      () =>
        lossFromKeras(
          { class_name: 'CategoricalCrossentropy', config: { label_smoothing: 0.1 } },
          'f',
        ),
      /label_smoothing=0\.1/,
    );
    refusesWith(
      () => lossFromKeras({ class_name: 'MeanSquaredError', config: { reduction: 'sum' } }, 'f'),
      /reduction="sum"/,
    );
    refusesWith(
      () =>
        lossFromKeras(
          {
            module: 'losses',
            class_name: 'BinaryCrossentropy',
            config: {},
            registered_name: 'Custom>BinaryCrossentropy',
          },
          'f',
        ),
      /custom loss/,
    );
    refusesWith(
      () =>
        lossFromKeras(
          { module: 'my_losses', class_name: 'function', config: 'binary_crossentropy' },
          'f',
        ),
      /custom loss/,
    );
    refusesWith(() => lossFromKeras([['mse']], 'f'), /records nested losses/);
    refusesWith(
      () => lossFromKeras({ a: 'mse', b: 'binary_crossentropy' }, 'f'),
      /records 2 losses \(one per output\)/,
    );
  });
});

describe('model.json import reads the model’s own loss', () => {
  it('a tfjs layers-model with binary_crossentropy in training_config (Keras 2 via the converter)', () => {
    const { spec, notes } = loadModelFile(fixture('binary-mlp.json'));
    assert.equal(spec.loss, 'binaryCrossentropy');
    assert.equal(spec.numClasses, 1);
    assert.deepEqual(spec.inputShape, [8]);
    assert.equal(spec.dataset, 'synthetic');
    assert.deepEqual(notes, []);
  });

  it('a Keras 3 model.to_json() with compile_config and a serialized BinaryCrossentropy', () => {
    const { spec } = loadModelFile(fixture('keras3-binary.json'));
    assert.equal(spec.loss, 'binaryCrossentropy');
    assert.equal(spec.numClasses, 1);
  });

  it('compile_config under modelTopology.model_config, and tfjs trainingConfig at the top', () => {
    const k3 = JSON.parse(fs.readFileSync(fixture('keras3-binary.json'), 'utf8')) as object;
    const wrapped = JSON.stringify({ format: 'layers-model', modelTopology: { model_config: k3 } });
    assert.equal(importModelJson(wrapped, 'k3.json').spec.loss, 'binaryCrossentropy');
    const mse = modelJson(
      [
        { units: 16, activation: 'relu' },
        { units: 3, activation: 'linear' },
      ],
      {},
      { trainingConfig: { loss: 'meanSquaredError', optimizer_config: { class_name: 'Adam' } } },
    );
    assert.equal(importModelJson(mse, 'mse.json').spec.loss, 'meanSquaredError');
  });

  it('refuses an unsupported loss at import, naming it', () => {
    refusesWith(
      () =>
        importModelJson(modelJson(binaryLayers, { training_config: { loss: 'hinge' } }), 'h.json'),
      /h\.json: the model's loss "hinge" is not supported/,
    );
    refusesWith(
      () =>
        importModelJson(
          modelJson(binaryLayers, {
            compile_config: {
              loss: { module: 'keras.losses', class_name: 'KLDivergence', config: {} },
            },
          }),
          'kl.json',
        ),
      /kl\.json: the model's loss KLDivergence is not supported/,
    );
  });

  it('refuses a loss its output cannot train, saying what would', () => {
    refusesWith(
      () =>
        importModelJson(
          modelJson([{ units: 10, activation: 'softmax' }], {
            training_config: { loss: 'binary_crossentropy' },
          }),
          'b.json',
        ),
      /binaryCrossentropy needs a 1-unit sigmoid output, but "d0" \(Dense\) gives 10 units with activation softmax: .*categoricalCrossentropy/,
    );
    refusesWith(
      () =>
        importModelJson(
          modelJson([{ units: 1, activation: 'linear' }], {
            training_config: { loss: 'binary_crossentropy' },
          }),
          'b.json',
        ),
      /gives 1 unit with activation linear: use activation "sigmoid"/,
    );
    refusesWith(
      () =>
        importModelJson(
          modelJson(binaryLayers, { training_config: { loss: 'categorical_crossentropy' } }),
          'c.json',
        ),
      /categoricalCrossentropy needs a softmax output over 2 or more classes.*binaryCrossentropy/,
    );
  });

  it('a file without a loss keeps the default, except a 1-unit sigmoid output', () => {
    const plain = importModelJson(modelJson([{ units: 4, activation: 'softmax' }]), 'p.json');
    assert.equal(plain.spec.loss, 'categoricalCrossentropy');
    assert.match(plain.notes.join(), /records no loss: training with categoricalCrossentropy/);
    assert.equal(
      importModelJson(modelJson(binaryLayers), 'b.json').spec.loss,
      'binaryCrossentropy',
    );
  });

  it('refuses a mismatched loss at plan time too (a spec built in code)', () => {
    const spec = binarySpec('categoricalCrossentropy');
    assert.throws(
      () =>
        makePlan({
          model: spec,
          source: 'catalogue',
          path: null,
          cluster: {
            machines: [{ id: 'a', name: 'a', gflops: 10, memoryBytes: 1e9 }],
            links: new Map(),
            defaultLink: { bytesPerSecond: 1e9, latencySeconds: 1e-4 },
          },
          batch: 32,
          microbatches: 4,
          schedule: '1f1b',
          optimizer: 'sgd',
          preset: 'balanced',
        }),
      (e: unknown) =>
        e instanceof PlanError && /categoricalCrossentropy needs a softmax/.test(e.message),
    );
    assert.throws(
      () => checkLossFits({ ...spec, loss: 'hinge' as LossName }),
      /the loss "hinge" is not supported/,
    );
  });
});

function binarySpec(loss: LossName = 'binaryCrossentropy'): ModelSpec {
  return {
    id: 'bin',
    name: 'bin',
    description: '',
    inputShape: [8],
    inputDtype: 'float32',
    layers: [
      { className: 'Dense', config: { name: 'h', units: 16, activation: 'relu' } },
      { className: 'Dense', config: { name: 'o', units: 1, activation: 'sigmoid' } },
    ],
    loss,
    numClasses: 1,
    seed: 1,
    dataset: 'synthetic',
  };
}

describe('loss gradients', () => {
  let tf: Tf;
  before(async () => {
    tf = (await initBackend({ prefer: 'cpu' })).tf;
  });

  const n = 6;
  const labelsFor = (k: number) => Int32Array.from({ length: n }, (_, i) => (i * 7 + 3) % k);

  /** Model outputs each loss takes: probabilities for cross-entropies, any values for MSE. */
  function outputsFor(loss: LossName, units: number): tfc.Tensor {
    const z = tf.randomNormal([n, units], 0, 1.5, 'float32', 42);
    if (loss === 'binaryCrossentropy') return tf.sigmoid(z);
    if (loss === 'meanSquaredError') return z;
    return tf.softmax(z);
  }

  /** The loss's gradient with respect to the outputs, in closed form. */
  function closedForm(loss: LossName, p: Float32Array, y: Int32Array, units: number): number[] {
    return Array.from(p, (pv, j) => {
      const row = Math.floor(j / units);
      const col = j % units;
      const t = units === 1 ? y[row]! : y[row] === col ? 1 : 0;
      switch (loss) {
        case 'binaryCrossentropy':
          return (pv - t) / (pv * (1 - pv)) / n;
        case 'categoricalCrossentropy':
        case 'sparseCategoricalCrossentropy':
          return -t / pv / n;
        case 'meanSquaredError':
          return (2 * (pv - t)) / (n * units);
      }
    });
  }

  const cases: { loss: LossName; units: number }[] = [
    { loss: 'binaryCrossentropy', units: 1 },
    { loss: 'categoricalCrossentropy', units: 4 },
    { loss: 'sparseCategoricalCrossentropy', units: 4 },
    { loss: 'meanSquaredError', units: 1 },
    { loss: 'meanSquaredError', units: 3 },
  ];
  for (const { loss, units } of cases) {
    it(`${loss} (${units} unit${units === 1 ? '' : 's'}): gradient equals the closed form and a finite difference`, () => {
      const model = { loss, numClasses: units };
      const p = outputsFor(loss, units);
      const yData = labelsFor(units === 1 ? 2 : units);
      const y = tf.tensor1d(yData, 'int32');
      const g = tf.grad((x: tfc.Tensor) => lossValue(tf, model, x, y))(p);
      const grad = g.dataSync() as Float32Array;
      const pData = p.dataSync() as Float32Array;
      const want = closedForm(loss, pData, yData, units);
      grad.forEach((v, j) =>
        assert.ok(
          Math.abs(v - want[j]!) <= 1e-4 * Math.max(1, Math.abs(want[j]!)),
          `∂L/∂p[${j}] = ${v}, closed form ${want[j]}`,
        ),
      );
      // Central differences on the loss itself (float32: a step of 1e-3, a tolerance to match).
      const value = (d: Float32Array) =>
        tf.tidy(() => lossValue(tf, model, tf.tensor(d, p.shape), y).dataSync()[0]!);
      const h = 1e-3;
      for (let j = 0; j < pData.length; j++) {
        const plus = Float32Array.from(pData);
        const minus = Float32Array.from(pData);
        plus[j]! += h;
        minus[j]! -= h;
        const fd = (value(plus) - value(minus)) / (2 * h);
        assert.ok(
          Math.abs(fd - grad[j]!) <= 2e-2 * Math.max(1, Math.abs(grad[j]!)),
          `finite difference ${fd} vs gradient ${grad[j]} at ${j}`,
        );
      }
      tf.dispose([p, y, g]);
    });
  }

  it('matches the loss Keras/tfjs computes for the same outputs and targets', () => {
    const p = tf.tensor2d([[0.9], [0.2], [0.6], [0.01]]);
    const y = tf.tensor1d([1, 0, 0, 1], 'int32');
    const ours = lossValue(tf, { loss: 'binaryCrossentropy', numClasses: 1 }, p, y).dataSync()[0]!;
    const theirs = tf.metrics.binaryCrossentropy(tf.cast(tf.reshape(y, [4, 1]), 'float32'), p);
    assert.ok(Math.abs(ours - tf.mean(theirs).dataSync()[0]!) < 1e-5, `${ours}`);
    const q = tf.tensor2d([
      [0.5, 2],
      [1, -1],
    ]);
    const mse = lossValue(
      tf,
      { loss: 'meanSquaredError', numClasses: 2 },
      q,
      tf.tensor1d([1, 0], 'int32'),
    );
    // targets [0,1], [1,0]: ((0.5)² + 1² + 0² + 1²) / 4
    assert.ok(Math.abs(mse.dataSync()[0]! - 2.25 / 4) < 1e-6);
  });

  it('counts binary predictions above 0.5 as class 1, and has no accuracy for MSE', () => {
    const p = tf.tensor2d([[0.9], [0.4], [0.51], [0.2]]);
    const y = tf.tensor1d([1, 1, 1, 0], 'int32');
    assert.equal(correctCount(tf, { loss: 'binaryCrossentropy', numClasses: 1 }, p, y), 3);
    assert.equal(correctCount(tf, { loss: 'meanSquaredError', numClasses: 1 }, p, y), null);
    const soft = tf.tensor2d([
      [0.1, 0.9],
      [0.8, 0.2],
    ]);
    assert.equal(
      correctCount(
        tf,
        { loss: 'categoricalCrossentropy', numClasses: 2 },
        soft,
        tf.tensor1d([1, 1], 'int32'),
      ),
      1,
    );
  });
});

describe('datasets match the model', () => {
  const bin = binarySpec();

  it('plain "synthetic" gives a 1-unit model binary labels; synthetic:8:2 fits it too', () => {
    const ds = openDataset('synthetic', bin);
    assert.equal(ds.numClasses, 2);
    assert.deepEqual(
      new Set(
        ds.labels(
          'train',
          Int32Array.from({ length: 200 }, (_, i) => i),
        ),
      ),
      new Set([0, 1]),
    );
    assert.equal(datasetFitProblem(bin, ds), null);
    checkDatasetFits(bin, 'synthetic');
    checkDatasetFits(bin, 'synthetic:8:2');
  });

  it('refuses more classes than the output predicts, and the wrong feature count, saying what fits', () => {
    assert.throws(
      () => checkDatasetFits(bin, 'synthetic:8:10'),
      /dataset synthetic:8:10 has 10 classes \(classes 0–9\), but model bin has one output unit \(binary cross-entropy: labels 0 and 1\): use synthetic:8:2, or plain "synthetic"/,
    );
    assert.throws(
      () => checkDatasetFits(bin, 'synthetic:784:2'),
      /dataset synthetic:784:2 has 784 values per sample, but model bin takes 8 \(\[8\]\); plain "synthetic" is shaped for the model/,
    );
    assert.throws(
      () => checkDatasetFits(bin, 'mnist'),
      /dataset mnist has 784 values per sample, but model bin takes 8/,
    );
    const mlp10 = {
      ...bin,
      id: 'ten',
      inputShape: [784],
      numClasses: 3,
      loss: 'categoricalCrossentropy' as const,
    };
    assert.throws(
      () => checkDatasetFits(mlp10, 'mnist'),
      /has 10 classes \(classes 0–9\), but model ten has 3 output units \(classes 0–2\)/,
    );
    assert.throws(
      () => checkDatasetFits(bin, 'text'),
      /takes real values, but dataset text holds integer ids|values per sample/,
    );
  });

  it('a CSV with a 0/1 label fits a 1-unit model; labels beyond 1 are refused', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-csv-'));
    const ok = path.join(dir, 'ok.csv');
    const rows = Array.from(
      { length: 20 },
      (_, i) => `${Array.from({ length: 8 }, (_, f) => (i * f) % 5).join(',')},${i % 2}`,
    );
    fs.writeFileSync(
      ok,
      `${Array.from({ length: 8 }, (_, f) => `f${f}`).join(',')},label\n${rows.join('\n')}\n`,
    );
    checkDatasetFits(bin, `csv:${ok}`);
    checkDatasetFits(bin, `csv:${ok}:label`);
    const three = path.join(dir, 'three.csv');
    fs.writeFileSync(three, rows.map((r, i) => r.replace(/,\d$/, `,${i % 3}`)).join('\n') + '\n');
    assert.throws(
      () => checkDatasetFits(bin, `csv:${three}`),
      /has 3 classes \(classes 0–2\).*its label column must hold 0 and 1/,
    );
    // A file this machine does not have is left to the stage that reads it.
    checkDatasetFits(bin, `csv:${path.join(dir, 'elsewhere.csv')}`);
  });
});
