import { z } from 'zod';
import { BackendNameSchema, BackendPreferenceSchema } from '../common/schemas.js';

/** What a machine is: read once at agent start (systeminformation). */
export const GpuInfoSchema = z.object({
  index: z.number().int().nonnegative(),
  vendor: z.string(),
  model: z.string(),
  vramBytes: z.number().nonnegative().nullable(),
  driver: z.string().nullable(),
  busId: z.string().nullable(),
  uuid: z.string().nullable(),
});
export type GpuInfo = z.infer<typeof GpuInfoSchema>;

export const NetworkInterfaceSchema = z.object({
  name: z.string(),
  ip4: z.string(),
  netmask: z.string(),
  mac: z.string(),
  internal: z.boolean(),
});
export type NetworkInterfaceInfo = z.infer<typeof NetworkInterfaceSchema>;

export { BackendNameSchema, BackendPreferenceSchema };
export type { BackendName, BackendPreference } from '../common/schemas.js';

/** The GPU a WebGPU (Dawn) backend runs on, as its adapter describes itself. */
export const GpuAdapterSchema = z.object({
  /** Dawn's backend: vulkan (Linux), metal (macOS), d3d12 (Windows). */
  api: z.string(),
  vendor: z.string(),
  architecture: z.string(),
  device: z.string(),
  /** Driver and version where the adapter says (e.g. "NVIDIA: 550.54"). */
  description: z.string(),
  /** A CPU rasteriser (llvmpipe, SwiftShader): reported, never chosen automatically. */
  software: z.boolean(),
  maxBufferSize: z.number().nonnegative(),
  maxStorageBufferBindingSize: z.number().nonnegative(),
});
export type GpuAdapter = z.infer<typeof GpuAdapterSchema>;

/** One compute backend as probed on this machine: whether it loads and works, and why not. */
export const BackendReportSchema = z.object({
  name: BackendNameSchema,
  available: z.boolean(),
  reason: z.string().nullable(),
  detail: z.string().nullable(),
  /** webgpu only: the adapter found, also when it was not used (a software adapter). */
  adapter: GpuAdapterSchema.optional(),
});
export type BackendReport = z.infer<typeof BackendReportSchema>;

/**
 * What the backend costs beyond the curve's products (probe.ts measureOverhead): one kernel's launch,
 * one read-back of a small result to the host, each optimizer's update per parameter, and a pooling's
 * backward per element. Bounded so
 * that a broken measurement cannot make a machine look a thousand times slower than any is.
 */
export const SpeedOverheadSchema = z.object({
  kernelSeconds: z.number().nonnegative().max(0.01),
  readbackSeconds: z.number().nonnegative().max(0.1),
  stepSecondsPerParam: z.object({
    sgd: z.number().nonnegative().max(1e-6),
    momentum: z.number().nonnegative().max(1e-6),
    adam: z.number().nonnegative().max(1e-6),
  }),
  /** An elementwise kernel (an add) per element: what a recurrent layer's gates cost. */
  elementSeconds: z.number().nonnegative().max(1e-6),
  /** A max pooling's backward, per input element. */
  poolGradSecondsPerElement: z.number().nonnegative().max(1e-5),
  /**
   * A weight matrix's first product after the optimizer changed it, beyond the product, per element:
   * what the backend spends preparing (packing) new weights. Absent in reports cached before.
   */
  repackSecondsPerParam: z.number().nonnegative().max(1e-6).optional(),
  /**
   * An embedding lookup (a gather of table rows) per element it writes, and its gradient (a
   * scatter-add into the table) per element: tens of ns on wasm, far beyond a kernel's launch.
   * Absent in reports cached before.
   */
  gatherSecondsPerElement: z.number().nonnegative().max(1e-5).optional(),
  scatterSecondsPerElement: z.number().nonnegative().max(1e-5).optional(),
  /**
   * Which revision of the probe's methods took these figures (OVERHEAD_PROBE_REVISION); an agent
   * measures a report of an older one again. Absent: before revisions were counted.
   */
  revision: z.number().int().nonnegative().optional(),
  /** The link to another agent on this computer (CurveZMQ over loopback); absent: not measured. */
  loopback: z
    .object({
      latencySeconds: z.number().nonnegative().max(1),
      bytesPerSecond: z.number().positive(),
    })
    .optional(),
});
export type SpeedOverhead = z.infer<typeof SpeedOverheadSchema>;

export const SpeedReportSchema = z.object({
  backend: BackendNameSchema,
  gflops: z.number().nonnegative(),
  matrix: z.tuple([z.number(), z.number(), z.number()]),
  measuredAt: z.number(),
  durationMs: z.number().nonnegative(),
  /**
   * Speed of a dense layer's training products (forward, weight gradient, input gradient) at several
   * micro-batch sizes: small micro-batches multiply slower, and the planner must know by how much.
   */
  curve: z
    .array(
      z.object({
        rows: z.number().int().positive(),
        gflops: z.number().nonnegative(),
        /** Each product's own GFLOP/s (util/speedCurve.ts CurvePoint); absent in older reports. */
        forward: z.number().positive().optional(),
        inputGrad: z.number().positive().optional(),
        weightGrad: z.number().positive().optional(),
      }),
    )
    .optional(),
  /** Fixed and elementwise costs (absent in reports cached before they were measured). */
  overhead: SpeedOverheadSchema.optional(),
  /** The GPU measured (nvidia-smi's index) when the measuring process was pinned to one. */
  gpu: z.number().int().nonnegative().nullable().optional(),
  /** The device that did the work: a GPU adapter's name, or null for the CPU. */
  device: z.string().nullable().optional(),
});
export type SpeedReport = z.infer<typeof SpeedReportSchema>;

export const StaticInventorySchema = z.object({
  hostname: z.string(),
  os: z.object({ platform: z.string(), distro: z.string(), release: z.string(), arch: z.string() }),
  cpu: z.object({
    manufacturer: z.string(),
    brand: z.string(),
    cores: z.number().int().nonnegative(),
    physicalCores: z.number().int().nonnegative(),
    speedGHz: z.number().nonnegative(),
  }),
  memory: z.object({ totalBytes: z.number().nonnegative() }),
  network: z.array(NetworkInterfaceSchema),
  gpus: z.array(GpuInfoSchema),
  /** Why the GPU list is empty or has no live figures ("no GPU found", "nvidia-smi not found"). */
  gpuNote: z.string().nullable(),
});
export type StaticInventory = z.infer<typeof StaticInventorySchema>;

/** Everything `inventory` answers: static facts, backends, best backend and its measured speed. */
export const InventorySchema = z.object({
  static: StaticInventorySchema,
  backends: z.array(BackendReportSchema),
  /** True while the agent is still probing backends (a few seconds after start). */
  backendsPending: z.boolean(),
  /** Goes up whenever backends or speed change; telemetry carries it, so a missed notice is noticed. */
  revision: z.number().int().nonnegative().optional(),
  /** The backend stages train on: the fastest measured one (the preference order until measured). */
  bestBackend: BackendNameSchema.nullable(),
  /** The best backend's speed: what the planner plans this machine at. */
  speed: SpeedReportSchema.nullable(),
  /** Every working backend measured, per GPU for GPU backends; the choice is the fastest. */
  speeds: z.array(SpeedReportSchema).optional(),
});
export type Inventory = z.infer<typeof InventorySchema>;

export const GpuSampleSchema = z.object({
  index: z.number().int().nonnegative(),
  utilizationPct: z.number().nullable(),
  memUsedBytes: z.number().nullable(),
  memTotalBytes: z.number().nullable(),
  temperatureC: z.number().nullable(),
  powerW: z.number().nullable(),
  powerLimitW: z.number().nullable(),
});
export type GpuSample = z.infer<typeof GpuSampleSchema>;

/** One live sample, published once a second. Null GPU figures mean "could not be read", never 0. */
export const TelemetrySampleSchema = z.object({
  nodeId: z.string(),
  seq: z.number().int().nonnegative(),
  time: z.number(),
  cpuLoad: z.number().min(0).max(1),
  memAvailableBytes: z.number().nonnegative(),
  memTotalBytes: z.number().nonnegative(),
  gpus: z.array(GpuSampleSchema),
  gpuNote: z.string().nullable(),
  /** The agent's current Inventory.revision. */
  inventoryRevision: z.number().int().nonnegative().optional(),
});
export type TelemetrySample = z.infer<typeof TelemetrySampleSchema>;
