import { z } from 'zod';
import {
  BackendNameSchema,
  type BackendName,
  type SpeedOverhead,
} from '../protocol/inventorySchemas.js';
import { isGpuBackend } from '../common/names.js';
import {
  productRatiosOnCurve,
  speedOnCurve,
  type CurvePoint,
  type ProductRatios,
} from '../util/speedCurve.js';

/** A machine as the planner sees it: measured speed on its training backend and free memory. */
export interface Machine {
  id: string;
  name: string;
  gflops: number;
  memoryBytes: number;
  /** Measured training speed by micro-batch rows (see SpeedReport.curve); absent: `gflops` at any size. */
  speedCurve?: CurvePoint[];
  /**
   * Each product's rate relative to `gflops` (the planner sets it with `gflops`, at the plan's
   * micro-batch rows, from the curve); absent: every product at `gflops`.
   */
  productRatios?: ProductRatios;
  /** The backend `gflops` was measured on, which its stages train with (absent: not known). */
  backend?: BackendName;
  /** GPUs the backend can use (tensorflow-gpu, webgpu). */
  gpus?: number;
  /** CPU cores (physical where known): how many single-threaded stages run side by side. */
  cores?: number;
  /**
   * The computer it runs on, where several agents share one (local agents): they share its cores
   * and GPUs. Absent: a computer of its own.
   */
  host?: string;
  /** Its backend's measured costs beyond FLOPs (SpeedReport.overhead); absent: FLOPs only. */
  overhead?: SpeedOverhead;
}

/**
 * What a stage placed on `machine` (pinned to `gpu`, or not) computes on, and how many stages that
 * resource runs at once; stages naming the same resource share it (the simulator serialises them past
 * its capacity). One GPU runs one stage at a time; the single-threaded wasm and cpu backends run one
 * stage per core; tensorflow's CPU backend already uses every core, so its stages take turns. With no
 * backend known, a machine with GPUs is a GPU machine, else one with `cores` (default 1) cores.
 */
export function computeResource(
  machine: Machine,
  gpu: number | null,
): { id: string; capacity: number } {
  const at = machine.host === undefined ? machine.id : `host:${machine.host}`;
  if (trainsOnGpu(machine)) return { id: `${at}/gpu${gpu ?? 0}`, capacity: 1 };
  if (machine.backend === 'tensorflow') return { id: `${at}/cpu`, capacity: 1 };
  return { id: `${at}/cpu`, capacity: Math.max(1, machine.cores ?? 1) };
}

/** GPUs a stage on this machine may be pinned to (0 when its stages do not train on a GPU). */
export function pinnableGpus(machine: Machine): number {
  return trainsOnGpu(machine) ? (machine.gpus ?? 1) : 0;
}

function trainsOnGpu(machine: Machine): boolean {
  return (
    isGpuBackend(machine.backend) || (machine.backend === undefined && (machine.gpus ?? 0) > 0)
  );
}

/**
 * The speed to plan a micro-batch of `rows` samples with: the measured curve, interpolated in
 * log(rows) and clamped at its ends, or the single figure when there is no curve.
 */
export function speedAt(machine: Machine, rows: number): number {
  return speedOnCurve(machine.speedCurve, machine.gflops, rows);
}

/** `machine` as the planner costs a micro-batch of `rows`: its speed there and each product's share. */
export function atRows(machine: Machine, rows: number): Machine {
  const ratios = productRatiosOnCurve(machine.speedCurve, rows);
  return {
    ...machine,
    gflops: speedAt(machine, rows),
    ...(ratios ? { productRatios: ratios } : {}),
  };
}

export interface Link {
  bytesPerSecond: number;
  latencySeconds: number;
}

/** Gigabit Ethernet with a LAN round trip: what a lab has when nobody says otherwise. */
export const DEFAULT_LINK: Link = { bytesPerSecond: 1e9 / 8, latencySeconds: 0.0002 };

export interface Cluster {
  machines: Machine[];
  defaultLink: Link;
  /** Links that differ from the default, keyed by pairKey(idA, idB) (symmetric). */
  links: Map<string, Link>;
}

export const pairKey = (a: string, b: string) => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);

export function linkBetween(cluster: Cluster, a: string, b: string): Link {
  return cluster.links.get(pairKey(a, b)) ?? cluster.defaultLink;
}

/** Links are uniform when no pair differs from the default: then machine identity is only speed and memory. */
export function linksUniform(cluster: Cluster): boolean {
  return cluster.links.size === 0;
}

const LinkJsonSchema = z.object({
  gbps: z.number().positive().describe('bandwidth in gigabits per second (1 = gigabit Ethernet)'),
  latencyMs: z.number().nonnegative().default(0.2),
});

/** The cluster.json file: see README ("pipefitter plan"). */
export const ClusterJsonSchema = z.object({
  machines: z
    .array(
      z.object({
        id: z.string().min(1),
        name: z.string().min(1).optional(),
        gflops: z.number().positive(),
        memoryBytes: z.number().positive(),
        speedCurve: z
          .array(
            z.object({
              rows: z.number().int().positive(),
              gflops: z.number().positive(),
              forward: z.number().positive().optional().describe('y = x·W alone, GFLOP/s'),
              inputGrad: z.number().positive().optional().describe('dx = dy·Wᵀ alone, GFLOP/s'),
              weightGrad: z.number().positive().optional().describe('dW = xᵀ·dy alone, GFLOP/s'),
            }),
          )
          .optional(),
        backend: BackendNameSchema.optional(),
        gpus: z.number().int().nonnegative().optional(),
        cores: z.number().int().positive().optional(),
        host: z
          .string()
          .min(1)
          .optional()
          .describe('machines naming one host share its cores and GPUs (agents on one computer)'),
        overhead: z
          .object({
            kernelUs: z.number().nonnegative().max(10_000).describe('one kernel launch, in µs'),
            readbackUs: z
              .number()
              .nonnegative()
              .max(100_000)
              .describe('reading a small result back to the host, in µs'),
            stepNsPerParam: z
              .object({
                sgd: z.number().nonnegative().max(1000),
                momentum: z.number().nonnegative().max(1000),
                adam: z.number().nonnegative().max(1000),
              })
              .describe("each optimizer's update per trainable parameter, in ns"),
            elementNs: z
              .number()
              .nonnegative()
              .max(1000)
              .default(0)
              .describe('an elementwise kernel per element, in ns'),
            poolGradNsPerElement: z
              .number()
              .nonnegative()
              .max(10_000)
              .default(0)
              .describe("a pooling's backward per input element, in ns"),
            repackNsPerParam: z
              .number()
              .nonnegative()
              .max(1000)
              .default(0)
              .describe('preparing a weight element the optimizer changed, once a step, in ns'),
            gatherNsPerElement: z
              .number()
              .nonnegative()
              .max(10_000)
              .default(0)
              .describe('an embedding lookup per element it writes, in ns'),
            scatterNsPerElement: z
              .number()
              .nonnegative()
              .max(10_000)
              .default(0)
              .describe("an embedding lookup's gradient per element, in ns"),
          })
          .optional(),
      }),
    )
    .min(1),
  links: z
    .object({
      default: LinkJsonSchema.optional(),
      pairs: z.array(LinkJsonSchema.extend({ a: z.string(), b: z.string() })).default([]),
    })
    .optional(),
});
export type ClusterJson = z.infer<typeof ClusterJsonSchema>;

const toLink = (l: { gbps: number; latencyMs: number }): Link => ({
  bytesPerSecond: (l.gbps * 1e9) / 8,
  latencySeconds: l.latencyMs / 1000,
});

function overheadFromJson(o: NonNullable<ClusterJson['machines'][number]['overhead']>) {
  const ns = o.stepNsPerParam;
  return {
    kernelSeconds: o.kernelUs / 1e6,
    readbackSeconds: o.readbackUs / 1e6,
    stepSecondsPerParam: { sgd: ns.sgd / 1e9, momentum: ns.momentum / 1e9, adam: ns.adam / 1e9 },
    poolGradSecondsPerElement: o.poolGradNsPerElement / 1e9,
    elementSeconds: o.elementNs / 1e9,
    repackSecondsPerParam: o.repackNsPerParam / 1e9,
    gatherSecondsPerElement: o.gatherNsPerElement / 1e9,
    scatterSecondsPerElement: o.scatterNsPerElement / 1e9,
  };
}

/** Validates a parsed cluster.json; errors say which field is wrong. */
export function clusterFromJson(value: unknown, source = 'cluster.json'): Cluster {
  const r = ClusterJsonSchema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues
      .map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`)
      .join('; ');
    throw new Error(`${source}: ${issues}`);
  }
  const ids = new Set<string>();
  for (const m of r.data.machines) {
    if (ids.has(m.id)) throw new Error(`${source}: machine id "${m.id}" appears twice`);
    ids.add(m.id);
  }
  const links = new Map<string, Link>();
  for (const p of r.data.links?.pairs ?? []) {
    for (const id of [p.a, p.b])
      if (!ids.has(id))
        throw new Error(`${source}: link names machine "${id}", which is not listed`);
    links.set(pairKey(p.a, p.b), toLink(p));
  }
  return {
    machines: r.data.machines.map(({ overhead, ...m }) => ({
      ...m,
      name: m.name ?? m.id,
      ...(overhead ? { overhead: overheadFromJson(overhead) } : {}),
    })),
    defaultLink: r.data.links?.default ? toLink(r.data.links.default) : DEFAULT_LINK,
    links,
  };
}
