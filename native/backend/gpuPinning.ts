import { BACKEND_ENV } from './initBackend.js';

export interface StageProcessEnvOptions {
  /** The GPU (nvidia-smi's index, as the inventory reports it) this process may use; null: none. */
  gpu: number | null;
  /** Its PCI address as nvidia-smi prints it ("00000000:17:00.0"): how Vulkan (webgpu) is pinned. */
  busId?: string | null;
  /** Environment to start from (default process.env). */
  base?: NodeJS.ProcessEnv;
}

/**
 * The environment for a child process that hosts one stage. TensorFlow takes every GPU it can see,
 * so each stage process is shown exactly one: CUDA_VISIBLE_DEVICES names it, and inside the
 * process it becomes GPU 0. CUDA numbers devices fastest-first by default while nvidia-smi (and so
 * the inventory and the plan) numbers them by PCI bus, so the order is pinned to PCI_BUS_ID to make
 * "GPU 2" mean the same card everywhere. Growth on demand keeps a process from reserving the whole
 * card up front, which matters when two stages are placed on one GPU.
 */
export function stageProcessEnv(opts: StageProcessEnvOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...(opts.base ?? process.env) };
  if (opts.gpu === null) {
    // An empty list hides every GPU, so tfjs-node-gpu is skipped and the CPU backends are used.
    env.CUDA_VISIBLE_DEVICES = '';
    if (env[BACKEND_ENV] === 'tensorflow-gpu' || env[BACKEND_ENV] === 'webgpu')
      delete env[BACKEND_ENV];
    return env;
  }
  if (!Number.isInteger(opts.gpu) || opts.gpu < 0)
    throw new RangeError(`GPU index must be a non-negative integer, got ${opts.gpu}`);
  env.CUDA_DEVICE_ORDER = 'PCI_BUS_ID';
  env.CUDA_VISIBLE_DEVICES = String(opts.gpu);
  env.TF_FORCE_GPU_ALLOW_GROWTH = 'true';
  const tag = opts.busId ? vulkanPciTag(opts.busId) : null;
  if (tag) {
    // Vulkan ignores CUDA_VISIBLE_DEVICES. Mesa's device-select layer (an implicit Vulkan layer
    // that mesa-vulkan-drivers installs; it sees every vendor's devices) puts the device at this
    // PCI address first and, forced, hides the others, so Dawn's first adapter is this card.
    env.DRI_PRIME = tag;
    env.MESA_VK_DEVICE_SELECT_FORCE_DEFAULT_DEVICE = '1';
  }
  return env;
}

/**
 * nvidia-smi's bus id ("00000000:17:00.0", domain:bus:device.function) as the device-select
 * layer's DRI_PRIME tag ("pci-0000_17_00_0"); null when it is not a PCI address.
 */
export function vulkanPciTag(busId: string): string | null {
  const m = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i.exec(busId.trim());
  if (!m) return null;
  const domain = m[1]!.slice(-4).toLowerCase();
  return `pci-${domain}_${m[2]!.toLowerCase()}_${m[3]!.toLowerCase()}_${m[4]}`;
}
