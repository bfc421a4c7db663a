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
import {
  chooseByMeasurement,
  gpuDrives,
  rateAt,
  speedsCover,
} from '../../native/backend/backendChoice.js';
import { vulkanPciTag } from '../../native/backend/gpuPinning.js';
import { bestBackend, OVERHEAD_PROBE_REVISION } from '../../native/backend/probe.js';
import { explainNoAdapter } from '../../native/backend/vulkanDiagnosis.js';
import { isSoftwareAdapter } from '../../native/backend/webgpuBackend.js';
import type { SpeedReport } from '../../native/protocol/inventorySchemas.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
  it('unmeasured, tries tensorflow-gpu, webgpu, tensorflow, wasm, cpu in that order and stops at the first that works', async () => {
    assert.deepEqual(BACKEND_ORDER, ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
    const m = machine(['wasm', 'cpu']);
    const choice = await initBackend({ load: m.load, env: {} });
    assert.equal(choice.name, 'wasm');
    assert.equal(choice.chosenBy, 'auto');
    assert.deepEqual(m.tried, ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm']);
    assert.deepEqual(
      choice.reports.map((r) => [r.name, r.available, r.reason]),
      [
        ['tensorflow-gpu', false, 'tensorflow-gpu is broken here'],
        ['webgpu', false, 'webgpu is broken here'],
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
      /PIPEFITTER_BACKEND=cuda names no backend; use one of auto, tensorflow-gpu, webgpu, tensorflow, wasm, cpu/,
    );
  });

  it('says why for every backend when none works', async () => {
    const m = machine([]);
    await assert.rejects(initBackend({ load: m.load, env: {} }), (err: unknown) => {
      assert.ok(err instanceof NoBackendError);
      assert.equal(err.reports.length, 5);
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
    const [gpu, webgpu, node] = choice.reports;
    // Here webgpu finds only llvmpipe (CI installs Mesa's software Vulkan), or no Vulkan at all.
    assert.match(webgpu!.reason!, /only a software adapter|Vulkan|Dawn/);
    const why = (pkg: string) =>
      new RegExp(
        `${pkg} is (not installed \\(optional dependency|installed but its native addon .* is missing: its install step, which downloads libtensorflow)`,
      );
    assert.match(gpu!.reason!, why('@tensorflow/tfjs-node-gpu'));
    assert.match(node!.reason!, why('@tensorflow/tfjs-node'));
    assert.match(choice.reports[3]!.detail!, /WebAssembly/);
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

describe('backend choice by measurement', () => {
  const report = (
    backend: BackendName,
    gflops: number,
    extra: Partial<SpeedReport> = {},
  ): SpeedReport => ({
    backend,
    gflops,
    matrix: [512, 1024, 1024],
    measuredAt: 0,
    durationMs: 1,
    ...extra,
  });

  it('picks the fastest of the backends measured, and says which and why', () => {
    const c = chooseByMeasurement([report('cpu', 0.9), report('wasm', 21.4)])!;
    assert.equal(c.backend, 'wasm');
    assert.match(
      c.why,
      /fastest measured here at 256 rows per micro-batch: wasm 21\.4 GFLOP\/s, cpu 0\.9 GFLOP\/s/,
    );
  });

  it('cached reports an older probe took are measured again; current ones are kept', () => {
    const overhead = (revision?: number) => ({
      kernelSeconds: 5e-6,
      readbackSeconds: 7e-6,
      stepSecondsPerParam: { sgd: 4e-10, momentum: 1e-9, adam: 5e-9 },
      elementSeconds: 2e-10,
      poolGradSecondsPerElement: 2e-8,
      ...(revision === undefined ? {} : { revision }),
    });
    const curve = [{ rows: 16, gflops: 12 }];
    const current = report('wasm', 20, { curve, overhead: overhead(OVERHEAD_PROBE_REVISION) });
    assert.equal(speedsCover([current, report('cpu', 1)], ['wasm', 'cpu']), true);
    // Before revisions were counted, and one revision back: the optimizer's figure was 3× too high.
    for (const old of [overhead(), overhead(OVERHEAD_PROBE_REVISION - 1)])
      assert.equal(speedsCover([report('wasm', 20, { curve, overhead: old })], ['wasm']), false);
    assert.equal(
      speedsCover([report('wasm', 20, { overhead: overhead(OVERHEAD_PROBE_REVISION) })], ['wasm']),
      false,
    );
    assert.equal(speedsCover([current], ['wasm', 'webgpu']), false, 'a backend not measured');
    assert.equal(speedsCover([current], []), false, 'nothing works: nothing is covered');
  });

  it('compares at the plan’s micro-batch rows on each speed curve', () => {
    // A GPU that wins at large micro-batches and loses at small ones (launch overhead).
    const gpu = report('webgpu', 500, {
      gpu: 0,
      device: 'NVIDIA H200',
      curve: [
        { rows: 16, gflops: 5 },
        { rows: 1024, gflops: 2000 },
      ],
    });
    const wasm = report('wasm', 20, {
      curve: [
        { rows: 16, gflops: 12 },
        { rows: 1024, gflops: 20 },
      ],
    });
    assert.equal(chooseByMeasurement([gpu, wasm], 16)!.backend, 'wasm');
    const big = chooseByMeasurement([gpu, wasm], 1024)!;
    assert.equal(big.backend, 'webgpu');
    assert.match(big.why, /webgpu on NVIDIA H200 2000\.0 GFLOP\/s/);
    assert.ok(rateAt(gpu, 128) > 5 && rateAt(gpu, 128) < 2000, 'interpolated between points');
  });

  it('a stage pinned to GPU i counts only GPU i’s figure; a stage without a GPU only CPU backends', () => {
    const speeds = [
      report('webgpu', 900, { gpu: 0 }),
      report('webgpu', 100, { gpu: 1 }),
      report('wasm', 150),
    ];
    assert.equal(chooseByMeasurement(speeds, 256, 0)!.backend, 'webgpu');
    assert.equal(chooseByMeasurement(speeds, 256, 1)!.backend, 'wasm');
    assert.equal(chooseByMeasurement(speeds, 256, null)!.backend, 'wasm');
    assert.equal(chooseByMeasurement(speeds)!.report.gpu, 0, 'unpinned: the best GPU');
    assert.equal(chooseByMeasurement([]), null);
  });

  it('the inventory shows, per GPU, the backend that drives it and its GFLOP/s', () => {
    const drives = gpuDrives([
      report('webgpu', 900, { gpu: 1, device: 'NVIDIA H200' }),
      report('tensorflow-gpu', 1200, { gpu: 0, device: null }),
      report('webgpu', 800, { gpu: 0, device: 'NVIDIA H200' }),
      report('wasm', 20),
    ]);
    assert.deepEqual(
      drives.map((d) => [d.gpu, d.backend, d.gflops]),
      [
        [0, 'tensorflow-gpu', 1200],
        [1, 'webgpu', 900],
      ],
    );
  });

  it('initBackend takes the agent’s measured choice and logs why; only a forced webgpu may use a software adapter', async () => {
    const seen: [BackendName, boolean | undefined][] = [];
    const load = async (name: BackendName, opts: { allowSoftware?: boolean }) => {
      seen.push([name, opts.allowSoftware]);
      return { ok: true as const, tf: fakeTf, detail: `${name} works` };
    };
    const why =
      'fastest measured here at 64 rows per micro-batch: wasm 20.0 GFLOP/s, cpu 0.9 GFLOP/s';
    const c = await initBackend({ prefer: 'wasm', measuredWhy: why, load, env: {} });
    assert.equal(c.chosenBy, 'measured');
    assert.equal(describeChoice(c)[0], `backend wasm: chosen (${why}) — wasm works`);
    await initBackend({ load, env: {} });
    await initBackend({ prefer: 'webgpu', load, env: {} });
    await initBackend({ load, env: { PIPEFITTER_BACKEND: 'webgpu' } });
    assert.deepEqual(seen, [
      ['wasm', false],
      ['tensorflow-gpu', false],
      ['webgpu', true],
      ['webgpu', true],
    ]);
  });

  it('a forced software adapter is used and the log says so', async () => {
    const adapter = {
      api: 'vulkan',
      vendor: 'mesa',
      architecture: 'software',
      device: 'llvmpipe',
      description: 'llvmpipe: Mesa 25',
      software: true,
      maxBufferSize: 2 ** 32,
      maxStorageBufferBindingSize: 2 ** 27,
    };
    const load = async () => ({
      ok: true as const,
      tf: fakeTf,
      detail: 'WebGPU on llvmpipe',
      adapter,
    });
    const c = await initBackend({ prefer: 'webgpu', load, env: {} });
    assert.deepEqual(c.reports[0]!.adapter, adapter);
    assert.match(
      describeChoice(c)[0]!,
      /webgpu: chosen \(option\) — WebGPU on llvmpipe — a software adapter \(CPU rasteriser\), used only because webgpu was forced/,
    );
  });
});

describe('webgpu adapters and why none loads', () => {
  it('tells software rasterisers from GPUs', () => {
    assert.equal(isSoftwareAdapter({ vendor: 'mesa', architecture: 'software' }), true);
    assert.equal(isSoftwareAdapter({ device: 'SwiftShader Device (Subzero)' }), true);
    assert.equal(isSoftwareAdapter({ isFallbackAdapter: true }), true);
    assert.equal(
      isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H200' }),
      false,
    );
  });

  function fakeSystem(withLoader: boolean, icds: string[]) {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-vk-'));
    const lib = path.join(root, 'lib');
    const icd = path.join(root, 'icd.d');
    fs.mkdirSync(lib);
    fs.mkdirSync(icd);
    if (withLoader) fs.writeFileSync(path.join(lib, 'libvulkan.so.1'), '');
    for (const f of icds) fs.writeFileSync(path.join(icd, f), '{}');
    return { libDirs: [lib], icdDirs: [icd] };
  }

  it('names a missing Vulkan loader, a missing driver, a driver Dawn refused', () => {
    assert.match(
      explainNoAdapter({}, fakeSystem(false, []), 'linux'),
      /^no Vulkan loader \(libvulkan\.so\.1 not found\): install libvulkan1/,
    );
    assert.match(
      explainNoAdapter({}, fakeSystem(true, []), 'linux'),
      /^no Vulkan driver .*nvidia_icd\.json.*mesa-vulkan-drivers/,
    );
    assert.match(
      explainNoAdapter(
        { VK_ICD_FILENAMES: '/nowhere/x_icd.json' },
        fakeSystem(true, ['lvp_icd.json']),
        'linux',
      ),
      /VK_ICD_FILENAMES\/VK_DRIVER_FILES names \/nowhere\/x_icd\.json, which does not exist/,
    );
    assert.match(
      explainNoAdapter({}, fakeSystem(true, ['lvp_icd.json']), 'linux'),
      /^Dawn refused every Vulkan adapter \(drivers: lvp_icd\.json\).*Mesa needs 24 or later/,
    );
  });
});

describe('pinning a webgpu stage to one GPU', () => {
  it('turns nvidia-smi’s bus id into the Vulkan device-select tag', () => {
    assert.equal(vulkanPciTag('00000000:17:00.0'), 'pci-0000_17_00_0');
    assert.equal(vulkanPciTag('0000:AB:1F.3'), 'pci-0000_ab_1f_3');
    assert.equal(vulkanPciTag('not a bus'), null);
  });

  it('a stage on GPU 2 sees that card first and alone in Vulkan, as CUDA sees it', () => {
    const env = stageProcessEnv({ gpu: 2, busId: '00000000:41:00.0', base: {} });
    assert.equal(env.CUDA_VISIBLE_DEVICES, '2');
    assert.equal(env.DRI_PRIME, 'pci-0000_41_00_0');
    assert.equal(env.MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE, '1');
    assert.equal(stageProcessEnv({ gpu: 2, base: {} }).DRI_PRIME, undefined, 'no bus id, no tag');
  });

  it('a CPU-only stage also drops a forced webgpu', () => {
    const env = stageProcessEnv({ gpu: null, base: { PIPEFITTER_BACKEND: 'webgpu' } });
    assert.equal(env.PIPEFITTER_BACKEND, undefined);
  });
});
