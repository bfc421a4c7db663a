import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { BackendName, GpuAdapter } from '../protocol/inventorySchemas.js';
import { explainLoadError } from './explainLoadError.js';
import type { Tf } from './tfTypes.js';
import { installWasmKernels } from './wasmKernels/index.js';
import { loadWebgpu } from './webgpuBackend.js';

export type LoadResult =
  | { ok: true; tf: Tf; detail: string; adapter?: GpuAdapter }
  | { ok: false; reason: string; adapter?: GpuAdapter };

export interface LoadOptions {
  /** webgpu: accept a software adapter (llvmpipe, SwiftShader); only a forced backend does. */
  allowSoftware?: boolean;
}

const require = createRequire(import.meta.url);

const NATIVE_PACKAGES = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
} as const;

function isInstalled(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

function notInstalled(name: 'tensorflow-gpu' | 'tensorflow'): string {
  const pkg = NATIVE_PACKAGES[name];
  return name === 'tensorflow-gpu'
    ? `${pkg} is not installed (optional dependency; needs CUDA 11.2 and cuDNN 8.1, and downloads libtensorflow at install)`
    : `${pkg} is not installed (optional dependency; downloads libtensorflow at install)`;
}

/**
 * Whether the package's native addon was built or downloaded. npm installs the JavaScript even when
 * the install step that fetches libtensorflow fails or is skipped (no network, scripts disabled), and
 * requiring such a package half-registers a backend before it throws, so look before loading.
 */
function addonPresent(pkg: string): boolean {
  const lib = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'lib');
  try {
    return fs
      .readdirSync(lib)
      .some((d) => d.startsWith('napi-v') && fs.existsSync(path.join(lib, d, 'tfjs_binding.node')));
  } catch {
    return false;
  }
}

function addonMissing(pkg: string): string {
  return (
    `${pkg} is installed but its native addon (lib/napi-v*/tfjs_binding.node) is missing: its ` +
    'install step, which downloads libtensorflow, did not run or failed (no network, or install ' +
    'scripts disabled)'
  );
}

interface NodeBinding {
  isUsingGpuDevice?: () => boolean;
}

/** A product the backend must get right before anyone trains on it. */
async function smokeTest(tf: Tf): Promise<string | null> {
  const product = tf.tidy(() => {
    const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    return tf.matMul(a, a, false, true);
  });
  const got = Array.from(await product.data());
  product.dispose();
  const want = [14, 32, 32, 77];
  return got.every((v, i) => v === want[i]) ? null : 'computed a wrong matrix product';
}

async function loadNative(name: 'tensorflow-gpu' | 'tensorflow'): Promise<LoadResult> {
  // Both packages register the same 'tensorflow' backend and a process can hold only one binding,
  // so once tfjs-node-gpu is loaded (even without a GPU) it is TensorFlow on the CPU here too.
  let pkg: string = NATIVE_PACKAGES[name];
  if (name === 'tensorflow' && gpuPackageLoaded) pkg = NATIVE_PACKAGES['tensorflow-gpu'];
  if (!isInstalled(pkg)) return { ok: false, reason: notInstalled(name) };
  if (!addonPresent(pkg)) return { ok: false, reason: addonMissing(pkg) };
  let tf: Tf;
  try {
    tf = require(pkg) as Tf;
    if (pkg === NATIVE_PACKAGES['tensorflow-gpu']) gpuPackageLoaded = true;
    if (!(await tf.setBackend('tensorflow')))
      return { ok: false, reason: `${pkg} loaded but its backend failed to initialise` };
  } catch (err) {
    return { ok: false, reason: explainLoadError((err as Error).message) };
  }
  const binding = (tf.backend() as { binding?: NodeBinding }).binding;
  const onGpu = binding?.isUsingGpuDevice?.() ?? false;
  if (name === 'tensorflow-gpu' && !onGpu) {
    const visible = process.env.CUDA_VISIBLE_DEVICES;
    return {
      ok: false,
      reason:
        visible !== undefined
          ? `no CUDA GPU visible (CUDA_VISIBLE_DEVICES=${JSON.stringify(visible)})`
          : 'no CUDA GPU visible to TensorFlow (driver missing, or no NVIDIA GPU)',
    };
  }
  const wrong = await smokeTest(tf);
  if (wrong) return { ok: false, reason: `${pkg} ${wrong}` };
  return {
    ok: true,
    tf,
    detail: `TensorFlow ${tf.version_core} via ${pkg}${onGpu ? ' on a CUDA GPU' : ' on the CPU'}`,
  };
}

let gpuPackageLoaded = false;

async function loadEmbedded(name: 'wasm' | 'cpu'): Promise<LoadResult> {
  try {
    const tf = (await import('@tensorflow/tfjs')) as Tf;
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend(name)))
      return { ok: false, reason: `the ${name} backend failed to initialise` };
    let detail = 'pure JavaScript (slow: for tests and as a last resort)';
    if (name === 'wasm') {
      installWasmKernels();
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      detail = `WebAssembly${simd ? ' SIMD' : ' without SIMD'}, 1 thread, with Pipefitter's training kernels`;
    }
    quietCpuBackendAdvice(tf);
    const wrong = await smokeTest(tf);
    return wrong ? { ok: false, reason: `the ${name} backend ${wrong}` } : { ok: true, tf, detail };
  } catch (err) {
    return { ok: false, reason: explainLoadError((err as Error).message) };
  }
}

/**
 * The cpu backend prints a banner urging tfjs-node on its first tensor in Node. The reports already
 * say why tfjs-node was skipped, so the banner is only noise (in logs, tests and the bench).
 */
function quietCpuBackendAdvice(tf: Tf): void {
  const backend = tf.findBackend('cpu') as { firstUse?: boolean } | null;
  if (backend && 'firstUse' in backend) backend.firstUse = false;
}

/**
 * The small smoke test runs on the CPU inside webgpu (it forwards tiny ops on CPU-resident data);
 * this product is large enough to run a shader on the adapter.
 */
async function gpuSmokeTest(tf: Tf): Promise<string | null> {
  const product = tf.tidy(() => {
    const a = tf.ones([64, 64]);
    return tf.matMul(a, tf.mul(a, 2), false, true);
  });
  const got = await product.data();
  product.dispose();
  return got.every((v) => v === 128) ? null : 'computed a wrong matrix product on the adapter';
}

async function loadGpu(opts: LoadOptions): Promise<LoadResult> {
  const r = await loadWebgpu(opts.allowSoftware ?? false);
  if (!r.ok) return r;
  try {
    if (!(await r.tf.setBackend('webgpu')))
      return { ok: false, adapter: r.adapter, reason: 'the webgpu backend failed to initialise' };
    const wrong = (await smokeTest(r.tf)) ?? (await gpuSmokeTest(r.tf));
    if (wrong) return { ok: false, adapter: r.adapter, reason: `the webgpu backend ${wrong}` };
  } catch (err) {
    return { ok: false, adapter: r.adapter, reason: (err as Error).message.split('\n')[0]! };
  }
  return r;
}

/** Loads one backend in this process and makes it the active one, or says why it cannot. */
export function loadBackend(name: BackendName, opts: LoadOptions = {}): Promise<LoadResult> {
  if (name === 'webgpu') return loadGpu(opts);
  return name === 'tensorflow-gpu' || name === 'tensorflow' ? loadNative(name) : loadEmbedded(name);
}
