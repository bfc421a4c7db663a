/**
 * The one copy of every list of names that crosses a boundary: plan files, the wire, the API, the
 * UI's pickers and the CLI's options all read these. `schemas.ts` builds the zod enums from them and
 * every TypeScript type of a name comes from those enums.
 *
 * native/common/ is environment-free (no Node built-ins, no ZeroMQ, no tfjs; only zod) so the renderer
 * may import it at run time; ESLint enforces both.
 */

/**
 * Pipeline schedules (planner/schedule.ts builds their action lists). `interleaved-1f1b` gives each
 * stage several chunks (virtual stages) of non-adjacent layers; the others one.
 */
export const SCHEDULE_KINDS = ['gpipe', '1f1b', 'zb-h1', 'interleaved-1f1b'] as const;

/** Chunks per stage of an interleaved schedule unless told otherwise (`--chunks`). */
export const DEFAULT_CHUNKS = 2;
/** Most chunks one stage holds (each is a slice of the model with its own optimizer state). */
export const MAX_CHUNKS = 16;

/**
 * The actions a stage computes (the rest of a schedule's actions move tensors): forward, backward
 * (the input gradient, and the weight gradient too unless the schedule has W), the weight gradient
 * apart (zero-bubble schedules), and the optimizer step.
 */
export const COMPUTE_OPS = ['F', 'B', 'W', 'STEP'] as const;

export function isComputeOp(op: string): boolean {
  return (COMPUTE_OPS as readonly string[]).includes(op);
}

/**
 * How a stage's replicas keep their weights together: `every-step` sums their gradients before every
 * optimizer step (a step equals ordinary training); `local` lets them train apart for H steps and then
 * averages what they learned (local SGD with DiLoCo's outer optimizer: H times less communication).
 */
export const SYNC_KINDS = ['every-step', 'local'] as const;

/** What a lost stage does to a run: fail it, or restart the stages from the last checkpoint. */
export const ON_FAILURE_POLICIES = ['resume', 'stop'] as const;

/** Optimizers a plan or a run may name (pipeline/optimizer.ts makes them). */
export const OPTIMIZER_NAMES = ['sgd', 'momentum', 'adam'] as const;

/** How the planner splits layers when the machines are given. */
export const PLAN_PRESETS = ['balanced', 'uniform', 'parameters'] as const;

/**
 * Compute backends, in initBackend's fallback order where nothing was measured (the first that works
 * wins); stages started by an agent train on the one it measured fastest.
 */
export const BACKEND_NAMES = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const;

/**
 * The backends that compute on one core: a machine runs one stage (or replica) per core on them, so
 * its measured speed is a core's, and the machine's is that times its cores.
 */
export const SINGLE_THREADED_BACKENDS = ['wasm', 'cpu'] as const;

export function isSingleThreaded(name: string): boolean {
  return (SINGLE_THREADED_BACKENDS as readonly string[]).includes(name);
}

/** The backends that train on a GPU: a stage on one is pinned to one card, which it has to itself. */
export const GPU_BACKENDS = ['tensorflow-gpu', 'webgpu'] as const;

export function isGpuBackend(name: string | undefined): boolean {
  return (GPU_BACKENDS as readonly string[]).includes(name ?? '');
}

/** What a run or a stage may ask for: one backend, or `auto` (the best that works there). */
export const BACKEND_PREFERENCES = ['auto', ...BACKEND_NAMES] as const;

/** Element types of a model's input, a dataset's input and a tensor on the wire. */
export const DTYPES = ['float32', 'int32'] as const;

/** Where a plan's model comes from: the catalogue, or a model.json file. */
export const MODEL_SOURCES = ['catalogue', 'file'] as const;

/** Tensors between stages: activations forward, gradients back, validation activations forward. */
export const TENSOR_KINDS = ['act', 'grad', 'vact'] as const;
