import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Tensor } from '@tensorflow/tfjs-core';
import { loadBackend } from '../../native/backend/loadBackend.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import { buildModel } from '../../native/model/build.js';
import { listModels } from '../../native/model/catalogue.js';
import type { LayerSpec, ModelSpec } from '../../native/model/spec.js';
import { randomValues, relativeError } from '../helpers/backendCompare.js';
import { webgpuForTest } from '../helpers/webgpuTest.js';

let tf: Tf | null = null;
let skip = '';

before(async () => {
  const w = await webgpuForTest();
  if ('skip' in w) skip = w.skip;
  else tf = w.tf;
  // The reference: the pure-JS backend, registered on the same tfjs-core.
  if (tf) await loadBackend('cpu');
  // Small ops on CPU-resident inputs otherwise run on the CPU inside webgpu: test the GPU kernels.
  tf?.env().set('WEBGPU_CPU_FORWARD', false);
});

interface Case {
  name: string;
  inputShape: number[];
  inputDtype: 'float32' | 'int32';
  layer: LayerSpec;
}

/** One layer of each allowlisted class the catalogue uses, at a small size, with its options. */
const CASES: Case[] = [
  {
    name: 'Dense relu',
    inputShape: [24],
    inputDtype: 'float32',
    layer: { className: 'Dense', config: { name: 'd', units: 16, activation: 'relu' } },
  },
  {
    name: 'Dense softmax',
    inputShape: [24],
    inputDtype: 'float32',
    layer: { className: 'Dense', config: { name: 'd', units: 10, activation: 'softmax' } },
  },
  {
    name: 'Conv2D 5×5 same relu',
    inputShape: [12, 12, 3],
    inputDtype: 'float32',
    layer: {
      className: 'Conv2D',
      config: { name: 'c', filters: 4, kernelSize: 5, activation: 'relu', padding: 'same' },
    },
  },
  {
    name: 'MaxPooling2D 2',
    inputShape: [8, 8, 3],
    inputDtype: 'float32',
    layer: { className: 'MaxPooling2D', config: { name: 'p', poolSize: 2 } },
  },
  {
    name: 'Flatten',
    inputShape: [4, 4, 2],
    inputDtype: 'float32',
    layer: { className: 'Flatten', config: { name: 'f' } },
  },
  {
    name: 'Embedding',
    inputShape: [6],
    inputDtype: 'int32',
    layer: { className: 'Embedding', config: { name: 'e', inputDim: 20, outputDim: 8 } },
  },
  {
    name: 'GRU',
    inputShape: [5, 8],
    inputDtype: 'float32',
    layer: { className: 'GRU', config: { name: 'g', units: 12 } },
  },
];

function specFor(c: Case): ModelSpec {
  return {
    id: `one-${c.layer.className}`,
    name: c.name,
    description: '',
    inputShape: c.inputShape,
    inputDtype: c.inputDtype,
    layers: [c.layer],
    loss: 'categoricalCrossentropy',
    numClasses: 2,
    seed: 7,
    dataset: 'synthetic',
  };
}

/**
 * Output, input gradient (float inputs) and every weight gradient of Σ layer(x)·r for a fixed
 * random r, on the active backend, read back asynchronously (webgpu cannot read synchronously).
 */
async function gradients(t: Tf, c: Case, batch: number): Promise<Float32Array[]> {
  const spec = specFor(c);
  const model = buildModel(t, spec);
  const size = batch * c.inputShape.reduce((a, b) => a * b, 1);
  const x =
    c.inputDtype === 'int32'
      ? t.tensor(
          Int32Array.from(randomValues(size, 3), (v) => Math.floor((v + 1) * 10) % 20),
          [batch, ...c.inputShape],
          'int32',
        )
      : t.tensor(randomValues(size, 3), [batch, ...c.inputShape]);
  const outShape = (model.apply(x) as Tensor).shape;
  const r = t.tensor(
    randomValues(
      outShape.reduce((a, b) => a * b, 1),
      5,
    ),
    outShape,
  );
  const vars = model.trainableWeights.map((w) => w.read());
  const wrt = c.inputDtype === 'float32' ? [x, ...vars] : vars;
  const { value, grads } = t
    .engine()
    .gradients(() => t.sum(t.mul(model.apply(x, { training: true }) as Tensor, r)), wrt as never);
  const out = t.tidy(() => model.apply(x) as Tensor);
  const all = [out, ...grads];
  const values = await Promise.all(all.map(async (g) => Float32Array.from(await g.data())));
  t.dispose([value, x, r, ...all]);
  model.dispose();
  return values;
}

describe('webgpu gradients equal the cpu backend’s (1e-3 relative), per layer class the catalogue uses', () => {
  it('covers every class the catalogue uses', () => {
    const used = new Set(listModels().flatMap((m) => m.layers.map((l) => l.className)));
    const covered = new Set(CASES.map((c) => c.layer.className));
    assert.deepEqual(
      [...used].filter((u) => !covered.has(u)),
      [],
    );
  });

  for (const c of CASES) {
    it(c.name, async (t) => {
      if (!tf) return t.skip(skip);
      await tf.setBackend('cpu');
      const want = await gradients(tf, c, 3);
      await tf.setBackend('webgpu');
      const got = await gradients(tf, c, 3);
      assert.equal(got.length, want.length);
      want.forEach((w, i) => {
        assert.equal(got[i]!.length, w.length, `output ${i} size`);
        const err = relativeError(got[i]!, w);
        assert.ok(err <= 1e-3, `${c.name}: output ${i} (of ${want.length}) relative error ${err}`);
      });
    });
  }
});
