import { BACKEND_ENV } from './initBackend.js';

export interface StageProcessEnvOptions {
  /** The GPU (nvidia-smi's index, as the inventory reports it) this process may use; null: none. */
  gpu: number | null;
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
    if (env[BACKEND_ENV] === 'tensorflow-gpu') delete env[BACKEND_ENV];
    return env;
  }
  if (!Number.isInteger(opts.gpu) || opts.gpu < 0)
    throw new RangeError(`GPU index must be a non-negative integer, got ${opts.gpu}`);
  env.CUDA_DEVICE_ORDER = 'PCI_BUS_ID';
  env.CUDA_VISIBLE_DEVICES = String(opts.gpu);
  env.TF_FORCE_GPU_ALLOW_GROWTH = 'true';
  return env;
}
