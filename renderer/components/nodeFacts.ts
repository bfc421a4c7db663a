import type { NodeView } from '../../native/api/types.js';
import { backendLabel, formatGflops } from '../format.js';
import { isGpuBackend, isSingleThreaded } from '../../native/common/names.js';

export interface GpuFacts {
  index: number;
  model: string;
  vramUsed: number | null;
  vramTotal: number | null;
  util: number | null;
  temp: number | null;
  power: number | null;
  powerLimit: number | null;
  /** The GPU backend measured fastest on this GPU, with its GFLOP/s ("WebGPU · 812 GFLOP/s"). */
  drive: string | null;
}

/**
 * A measured speed in words: a single-threaded backend's is a core's, and a machine trains on all of
 * its cores at once (one stage or replica per core), so both are said.
 */
export function speedWords(backend: string, gflops: number, cores: number): string {
  if (!isSingleThreaded(backend) || cores <= 1) return formatGflops(gflops);
  return `${formatGflops(gflops)} a core, ${formatGflops(gflops * cores)} on ${cores} cores`;
}

/** What a card or row shows for a machine, derived once from the record (inventory + live sample). */
export function nodeFacts(n: NodeView) {
  const inv = n.inventory?.static ?? null;
  const t = n.telemetry;
  const os = inv ? `${inv.os.distro} ${inv.os.release}`.trim() + ` (${inv.os.arch})` : null;
  const cpu = inv ? `${inv.cpu.brand} · ${inv.cpu.cores} cores` : null;
  const memTotal = t?.memTotalBytes ?? inv?.memory.totalBytes ?? null;
  const memUsed = t ? t.memTotalBytes - t.memAvailableBytes : null;
  const speeds = (n.inventory?.speeds ?? []).filter((s) => isGpuBackend(s.backend));
  const gpus: GpuFacts[] = (inv?.gpus ?? []).map((g, i) => {
    const s = t?.gpus.find((x) => x.index === g.index) ?? t?.gpus[i];
    const fastest = speeds
      .filter((x) => x.gpu === g.index || ((x.gpu ?? null) === null && i === 0))
      .sort((a, b) => b.gflops - a.gflops)[0];
    return {
      index: g.index,
      model: g.model,
      vramUsed: s?.memUsedBytes ?? null,
      vramTotal: s?.memTotalBytes ?? g.vramBytes ?? null,
      util: s?.utilizationPct ?? null,
      temp: s?.temperatureC ?? null,
      power: s?.powerW ?? null,
      powerLimit: s?.powerLimitW ?? null,
      drive: fastest ? `${backendLabel(fastest.backend)} · ${formatGflops(fastest.gflops)}` : null,
    };
  });
  const best = n.inventory?.bestBackend ?? n.speed?.backend ?? null;
  const speed = n.speed ?? n.inventory?.speed ?? null;
  const backend = n.inventory?.backendsPending
    ? 'probing backends…'
    : best
      ? `${backendLabel(best)}${speed ? ` · ${speedWords(best, speed.gflops, inv?.cpu.cores ?? 1)}` : ''}`
      : n.inventory
        ? 'no usable backend'
        : null;
  // Said only when no GPU backend works: each one's reason, tfjs-node-gpu's and webgpu's.
  const gpuReports = (n.inventory?.backends ?? []).filter((b) => isGpuBackend(b.name));
  const gpuBackendWhyNot =
    gpuReports.length > 0 && gpuReports.every((b) => !b.available)
      ? gpuReports.map((b) => `${b.name}: ${b.reason ?? 'unavailable'}`).join('; ')
      : null;
  return {
    os,
    cpu,
    cpuLoad: t ? t.cpuLoad * 100 : null,
    memUsed,
    memTotal,
    gpus,
    gpuNote: t?.gpuNote ?? inv?.gpuNote ?? null,
    backend,
    gpuBackendWhyNot,
    address: `${n.endpoint.host}:${n.endpoint.controlPort}`,
  };
}

/** A warning line under the address: an id conflict, or why a machine is refused or offline. */
export function nodeWarning(n: NodeView): string | null {
  if (n.conflict) return n.conflict;
  // Unreachable says "seen N s ago" in its badge; the registry's reason would only repeat it.
  if (n.state === 'refused' || n.state === 'offline') return n.stateReason;
  return null;
}

/**
 * Card height from what the card shows (GPU count, optional lines): computed, not measured, so the
 * virtual grid places cards without layout reads and nothing jumps when a sample arrives.
 */
const CARD_BASE_HEIGHT = 192;
const CARD_LINE = 18;
const CARD_GPU_HEIGHT = 66;
export function cardHeight(n: NodeView | undefined): number {
  if (!n) return CARD_BASE_HEIGHT;
  // Runs for every machine on every update (the grid's layout): reads only what changes the height.
  const gpus = n.inventory?.static.gpus.length ?? 0;
  const gpuBackend = n.inventory?.backends.find((b) => b.name === 'tensorflow-gpu');
  const lines =
    (nodeWarning(n) ? 1 : 0) + (gpuBackend && !gpuBackend.available ? 2 : 0) + (gpus === 0 ? 1 : 0);
  return CARD_BASE_HEIGHT + CARD_LINE * lines + CARD_GPU_HEIGHT * gpus;
}
export const ROW_BASE_HEIGHT = 52;
export const ROW_GPU_HEIGHT = 21;
export function rowHeight(n: NodeView | undefined): number {
  const gpus = n?.inventory?.static.gpus.length ?? 0;
  return Math.max(ROW_BASE_HEIGHT, 14 + ROW_GPU_HEIGHT * gpus);
}
