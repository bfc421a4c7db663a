import { isGpuBackend } from '../common/names.js';
import type { BackendName, SpeedReport } from '../protocol/inventorySchemas.js';
import { speedOnCurve } from '../util/speedCurve.js';
import { OVERHEAD_PROBE_REVISION } from './probe.js';

/** Micro-batch rows to compare at when the plan's are not known (the inventory's own choice). */
export const DEFAULT_CHOICE_ROWS = 256;

/** GFLOP/s of a dense training step at `rows`, interpolated on the speed curve (log rows). */
export function rateAt(report: SpeedReport, rows: number): number {
  return speedOnCurve(report.curve, report.gflops, rows);
}

export interface MeasuredChoice {
  backend: BackendName;
  /** The report that won (its gpu and device say what did the work). */
  report: SpeedReport;
  /** One line for the run log: which, and why. */
  why: string;
}

/**
 * The fastest backend measured on this machine for a stage pinned to `gpu` (null: a stage that
 * sees no GPU; undefined: not pinned, any GPU's figure counts) at `rows` micro-batch rows. A GPU
 * backend measured on another GPU than the stage's is not a candidate: that card is not its.
 */
export function chooseByMeasurement(
  speeds: SpeedReport[],
  rows: number = DEFAULT_CHOICE_ROWS,
  gpu?: number | null,
): MeasuredChoice | null {
  const candidates = speeds.filter((s) => {
    // A GPU backend is measured per GPU: only the pinned GPU's figure counts.
    if (!isGpuBackend(s.backend)) return true;
    if (gpu === null) return false;
    return gpu === undefined || s.gpu === undefined || s.gpu === null || s.gpu === gpu;
  });
  if (candidates.length === 0) return null;
  // One figure per backend (the best GPU's when not pinned).
  const best = new Map<BackendName, { report: SpeedReport; rate: number }>();
  for (const report of candidates) {
    const rate = rateAt(report, rows);
    const prev = best.get(report.backend);
    if (!prev || rate > prev.rate) best.set(report.backend, { report, rate });
  }
  const ranked = [...best.values()].sort((a, b) => b.rate - a.rate);
  const winner = ranked[0]!;
  const fmt = (x: { report: SpeedReport; rate: number }) =>
    `${x.report.backend}${x.report.device ? ` on ${x.report.device}` : ''} ${x.rate.toFixed(1)} GFLOP/s`;
  const why =
    ranked.length === 1
      ? `the only backend measured here (${fmt(winner)} at ${rows} rows)`
      : `fastest measured here at ${rows} rows per micro-batch: ${ranked.map(fmt).join(', ')}`;
  return { backend: winner.report.backend, report: winner.report, why };
}

export interface GpuDrive {
  /** nvidia-smi's index; null for a GPU no index names (webgpu on a machine without nvidia-smi). */
  gpu: number | null;
  backend: BackendName;
  device: string | null;
  gflops: number;
}

/** Per GPU: the fastest GPU backend measured on it, and how fast (what the inventory shows). */
export function gpuDrives(speeds: SpeedReport[], rows: number = DEFAULT_CHOICE_ROWS): GpuDrive[] {
  const best = new Map<number | null, GpuDrive>();
  for (const s of speeds) {
    if (!isGpuBackend(s.backend)) continue;
    const gpu = s.gpu ?? null;
    const gflops = rateAt(s, rows);
    const prev = best.get(gpu);
    if (!prev || gflops > prev.gflops)
      best.set(gpu, { gpu, backend: s.backend, device: s.device ?? null, gflops });
  }
  return [...best.values()].sort((a, b) => (a.gpu ?? -1) - (b.gpu ?? -1));
}

/**
 * Whether cached speed reports cover every backend that works here: each has a report with a speed
 * curve and costs taken by the current probe (OVERHEAD_PROBE_REVISION; the cpu backend, which
 * stages never train on by choice, needs only its figure). Otherwise the agent measures again.
 */
export function speedsCover(speeds: SpeedReport[], working: BackendName[]): boolean {
  return (
    working.length > 0 &&
    working.every((name) =>
      speeds.some(
        (s) =>
          s.backend === name &&
          (name === 'cpu' || (s.curve && (s.overhead?.revision ?? 1) >= OVERHEAD_PROBE_REVISION)),
      ),
    )
  );
}
