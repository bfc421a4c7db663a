import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { explainLoadError } from '../../native/backend/explainLoadError.js';
import { stageProcessEnv } from '../../native/backend/gpuPinning.js';
import {
  BACKEND_ORDER,
  describeChoice,
  initBackend,
  NoBackendError,
  resolvePreference,
} from '../../native/backend/initBackend.js';
import type { LoadResult } from '../../native/backend/loadBackend.js';
import { bestBackend } from '../../native/backend/probe.js';
import type { Tf } from '../../native/backend/tfTypes.js';
import type { BackendName } from '../../native/protocol/inventorySchemas.js';

const fakeTf = {} as Tf;

/** A machine where only `working` load; records what was tried, in order. */
function machine(working: BackendName[]) {
  const tried: BackendName[] = [];
  const load = async (name: BackendName): Promise<LoadResult> => {
    tried.push(name);
    return working.includes(name)
      ? { ok: true, tf: fakeTf, detail: `${name} works` }
      : { ok: false, reason: `${name} is broken here` };
  };
  return { tried, load };
}

describe('backend choice', () => {
  it('tries tensorflow-gpu, tensorflow, wasm, cpu in that order and stops at the first that works', async () => {
    assert.deepEqual(BACKEND_ORDER, ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    const m = machine(['wasm', 'cpu']);
    const choice = await initBackend({ load: m.load, env: {} });
    assert.equal(choice.name, 'wasm');
    assert.equal(choice.chosenBy, 'auto');
    assert.deepEqual(m.tried, ['tensorflow-gpu', 'tensorflow', 'wasm']);
    assert.deepEqual(
      choice.reports.map((r) => [r.name, r.available, r.reason]),
      [
        ['tensorflow-gpu', false, 'tensorflow-gpu is broken here'],
        ['tensorflow', false, 'tensorflow is broken here'],
        ['wasm', true, null],
      ],
    );
    assert.equal(choice.tf, fakeTf);
  });

  it('prefers the GPU when it works', async () => {
    const m = machine(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
    assert.equal((await initBackend({ load: m.load, env: {} })).name, 'tensorflow-gpu');
    assert.deepEqual(m.tried, ['tensorflow-gpu']);
  });

  it('PIPEFITTER_BACKEND forces one backend', async () => {
    const m = machine(['tensorflow', 'wasm', 'cpu']);
    const choice = await initBackend({ load: m.load, env: { PIPEFITTER_BACKEND: 'cpu' } });
    assert.equal(choice.name, 'cpu');
    assert.equal(choice.chosenBy, 'env');
    assert.deepEqual(m.tried, ['cpu']);
    assert.match(describeChoice(choice)[0]!, /cpu: chosen \(PIPEFITTER_BACKEND\)/);
  });

  it('the option wins over the environment; "auto" means the normal order', async () => {
    const m = machine(['wasm', 'cpu']);
    const env = { PIPEFITTER_BACKEND: 'cpu' };
    assert.equal((await initBackend({ load: m.load, env, prefer: 'wasm' })).chosenBy, 'option');
    assert.equal((await initBackend({ load: m.load, env, prefer: 'auto' })).name, 'wasm');
    const auto = await initBackend({ load: m.load, env: { PIPEFITTER_BACKEND: 'auto' } });
    assert.equal(auto.chosenBy, 'auto');
  });

  it('a forced backend that does not work is an error with its reason, not a fallback', async () => {
    const m = machine(['wasm', 'cpu']);
    await assert.rejects(
      initBackend({ load: m.load, env: { PIPEFITTER_BACKEND: 'tensorflow-gpu' } }),
      (err: unknown) =>
        err instanceof NoBackendError &&
        /forced by PIPEFITTER_BACKEND/.test(err.message) &&
        /tensorflow-gpu is broken here/.test(err.message) &&
        err.reports.length === 1,
    );
    assert.deepEqual(m.tried, ['tensorflow-gpu']);
  });

  it('rejects a PIPEFITTER_BACKEND that names no backend, listing the valid ones', () => {
    assert.throws(
      () => resolvePreference(undefined, { PIPEFITTER_BACKEND: 'cuda' }),
      /PIPEFITTER_BACKEND=cuda names no backend; use one of auto, tensorflow-gpu, tensorflow, wasm, cpu/,
    );
  });

  it('says why for every backend when none works', async () => {
    const m = machine([]);
    await assert.rejects(initBackend({ load: m.load, env: {} }), (err: unknown) => {
      assert.ok(err instanceof NoBackendError);
      assert.equal(err.reports.length, 4);
      assert.match(
        err.message,
        /tensorflow-gpu: tensorflow-gpu is broken here;.*cpu: cpu is broken/,
      );
      return true;
    });
  });

  it('bestBackend follows the same order over probe reports', () => {
    const r = (name: BackendName, available: boolean) => ({
      name,
      available,
      reason: null,
      detail: null,
    });
    assert.equal(bestBackend([r('cpu', true), r('wasm', true), r('tensorflow', false)]), 'wasm');
    assert.equal(bestBackend([r('cpu', false)]), null);
  });
});

describe('on this machine (real loaders)', () => {
  it('says why tfjs-node-gpu / tfjs-node are unusable (absent, or installed without their addon) and picks wasm', async (t) => {
    const choice = await initBackend({ env: {} });
    if (choice.name !== 'wasm') return t.skip(`a TensorFlow backend works here (${choice.name})`);
    const [gpu, node] = choice.reports;
    const why = (pkg: string) =>
      new RegExp(
        `${pkg} is (not installed \\(optional dependency|installed but its native addon .* is missing: its install step, which downloads libtensorflow)`,
      );
    assert.match(gpu!.reason!, why('@tensorflow/tfjs-node-gpu'));
    assert.match(node!.reason!, why('@tensorflow/tfjs-node'));
    assert.match(choice.reports[2]!.detail!, /WebAssembly/);
    assert.equal(choice.tf.getBackend(), 'wasm');
  });

  it('cpu can be forced and becomes the active backend', async () => {
    const choice = await initBackend({ env: { PIPEFITTER_BACKEND: 'cpu' } });
    assert.equal(choice.tf.getBackend(), 'cpu');
    assert.deepEqual(Array.from(choice.tf.matMul([[1, 2]], [[3], [4]]).dataSync()), [11]);
    await initBackend({ prefer: 'wasm' });
  });
});

describe('why a native backend failed to load', () => {
  it('names the missing CUDA or cuDNN library and the versions tfjs-node-gpu needs', () => {
    assert.equal(
      explainLoadError(
        'libcudart.so.11.0: cannot open shared object file: No such file or directory',
      ),
      'CUDA 11.2 runtime not found (libcudart.so.11.0): tfjs-node-gpu needs CUDA 11.2 and cuDNN 8.1',
    );
    assert.match(
      explainLoadError('Could not load dynamic library libcudnn.so.8; dlerror: libcudnn.so.8'),
      /^cuDNN 8\.1 not found \(libcudnn\.so\.8\)/,
    );
  });

  it('names a missing libtensorflow and an old C library', () => {
    assert.match(
      explainLoadError(
        "Cannot find module '/x/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node'\nRequire stack:",
      ),
      /^Cannot find module/,
    );
    assert.match(
      explainLoadError('libtensorflow.so.2: cannot open shared object file'),
      /^libtensorflow missing/,
    );
    assert.match(
      explainLoadError("/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.29' not found"),
      /^the C library is too old/,
    );
  });
});

describe('GPU pinning for stage processes', () => {
  it('shows a stage exactly one GPU, numbered as nvidia-smi numbers them', () => {
    const env = stageProcessEnv({
      gpu: 2,
      base: { PATH: '/bin', CUDA_VISIBLE_DEVICES: '0,1,2,3' },
    });
    assert.equal(env.CUDA_VISIBLE_DEVICES, '2');
    assert.equal(env.CUDA_DEVICE_ORDER, 'PCI_BUS_ID');
    assert.equal(env.TF_FORCE_GPU_ALLOW_GROWTH, 'true');
    assert.equal(env.PATH, '/bin');
  });

  it('four stages on a four-GPU machine get four different GPUs', () => {
    const devices = [0, 1, 2, 3].map(
      (gpu) => stageProcessEnv({ gpu, base: {} }).CUDA_VISIBLE_DEVICES,
    );
    assert.deepEqual(devices, ['0', '1', '2', '3']);
  });

  it('a CPU-only stage sees no GPU and drops a forced GPU backend', () => {
    const env = stageProcessEnv({ gpu: null, base: { PIPEFITTER_BACKEND: 'tensorflow-gpu' } });
    assert.equal(env.CUDA_VISIBLE_DEVICES, '');
    assert.equal(env.PIPEFITTER_BACKEND, undefined);
  });

  it('rejects a GPU index that is not a non-negative integer', () => {
    assert.throws(() => stageProcessEnv({ gpu: -1 }), RangeError);
    assert.throws(() => stageProcessEnv({ gpu: 1.5 }), RangeError);
  });
});
