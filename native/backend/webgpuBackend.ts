import { createRequire } from 'node:module';
import type { GpuAdapter } from '../protocol/inventorySchemas.js';
import type { Tf } from './tfTypes.js';
import { explainNoAdapter } from './vulkanDiagnosis.js';

/**
 * Picks an adapter by (a substring of) its device name: Dawn's own `adapter=` option. Identical
 * cards share a name, so this tells models apart, not cards; see gpuPinning.ts for cards.
 */
export const WEBGPU_ADAPTER_ENV = 'PIPEFITTER_WEBGPU_ADAPTER';

const require = createRequire(import.meta.url);

export type WebgpuLoad =
  | { ok: true; tf: Tf; adapter: GpuAdapter; detail: string }
  | { ok: false; reason: string; adapter?: GpuAdapter };

interface DawnModule {
  create(flags: string[]): GPU;
  globals: object;
}

/** A CPU rasteriser dressed as a GPU: fine for tests, never what a lab wants to train on. */
export function isSoftwareAdapter(info: {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}): boolean {
  if (info.isFallbackAdapter) return true;
  if (info.architecture === 'software') return true;
  return /llvmpipe|lavapipe|swiftshader|software rasterizer|microsoft basic render/i.test(
    `${info.device ?? ''} ${info.description ?? ''}`,
  );
}

function dawnApi(): string {
  return process.platform === 'darwin'
    ? 'metal'
    : process.platform === 'win32'
      ? 'd3d12'
      : 'vulkan';
}

function describeAdapter(adapter: GPUAdapter): GpuAdapter {
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return {
    api: dawnApi(),
    vendor: info.vendor || 'unknown',
    architecture: info.architecture || '',
    device: info.device || '',
    description: info.description || '',
    software: isSoftwareAdapter(info),
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

/** One line for logs and the inventory: "NVIDIA H200 (nvidia hopper, vulkan; …)". */
export function adapterLine(a: GpuAdapter): string {
  const name = a.description || a.device || a.vendor;
  const gib = (n: number) =>
    n >= 2 ** 30 ? `${Math.round(n / 2 ** 30)} GiB` : `${Math.round(n / 2 ** 20)} MiB`;
  return (
    `${name} (${[a.vendor, a.architecture].filter(Boolean).join(' ')}, ${a.api}${a.software ? ', software' : ''}; ` +
    `buffers up to ${gib(a.maxBufferSize)}, bindings up to ${gib(a.maxStorageBufferBindingSize)})`
  );
}

let loaded: Promise<WebgpuLoad> | null = null;

/**
 * Loads Dawn (the `webgpu` package), finds an adapter, creates a device on it and registers
 * tfjs-backend-webgpu over that device. Once per process: Dawn's instance and device live as long
 * as the process. A software adapter is refused unless `allowSoftware` (a forced backend).
 */
export function loadWebgpu(allowSoftware: boolean): Promise<WebgpuLoad> {
  loaded ??= open();
  return loaded.then((r) => {
    if (r.ok && r.adapter.software && !allowSoftware)
      return {
        ok: false,
        adapter: r.adapter,
        reason:
          `only a software adapter: ${r.adapter.description || r.adapter.device} (a CPU rasteriser: ` +
          'reported, never chosen automatically; --backend webgpu or PIPEFITTER_BACKEND=webgpu uses it)',
      };
    return r;
  });
}

async function open(): Promise<WebgpuLoad> {
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (err) {
    const message = (err as Error).message.split('\n')[0] ?? '';
    return {
      ok: false,
      reason: /Cannot find (module|package) 'webgpu'/.test(message)
        ? 'the webgpu package (Dawn) is not installed'
        : `Dawn (the webgpu package) does not load on ${process.platform}-${process.arch}: ${message}`,
    };
  }
  // The backend's module registers its own factory only when navigator.gpu exists as it loads;
  // load it first, so the only 'webgpu' factory is ours, over the adapter chosen here.
  const tf = (await import('@tensorflow/tfjs')) as Tf;
  const { WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as {
    WebGPUBackend: new (device: GPUDevice, info?: GPUAdapterInfo) => object;
  };
  Object.assign(globalThis, dawn.globals);
  const adapterName = process.env[WEBGPU_ADAPTER_ENV]?.trim();
  const gpu = dawn.create(adapterName ? [`adapter=${adapterName}`] : []);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    // Dawn rejects (listing the adapters it has) when adapter= matches none.
    const listed = ((err as Error).message ?? String(err)).replace(/\n\s*/g, ' ');
    return {
      ok: false,
      reason: adapterName
        ? `${WEBGPU_ADAPTER_ENV}=${adapterName} matches no adapter: ${listed}`
        : `Dawn could not list adapters: ${listed}`,
    };
  }
  if (!adapter) return { ok: false, reason: explainNoAdapter() };
  const info = describeAdapter(adapter);
  let device: GPUDevice;
  try {
    const limits = adapter.limits;
    device = await adapter.requestDevice({
      requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
      // What tfjs-backend-webgpu asks for: the adapter's own limits, not WebGPU's small defaults.
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      },
    });
  } catch (err) {
    return {
      ok: false,
      adapter: info,
      reason: `the adapter ${info.device} refused a device: ${(err as Error).message}`,
    };
  }
  // tfjs-backend-webgpu checks navigator.gpu when it constructs (Node 20 has no navigator).
  const g = globalThis as { navigator?: { gpu?: GPU } };
  g.navigator ??= {};
  if (!g.navigator.gpu)
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  // Priority 0: it is never anybody's default by accident; initBackend sets it explicitly.
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, adapter.info) as never, 0);
  return { ok: true, tf, adapter: info, detail: `WebGPU (Dawn) on ${adapterLine(info)}` };
}
