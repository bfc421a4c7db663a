import type { BackendName } from '../native/common/schemas.js';

/** Numbers as people read them. Bytes and ages come from the module the CLI uses too. */
export { formatAgo, formatBytes, formatBytesPair } from '../native/common/format.js';

export function formatPct(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '—' : `${Math.round(v)} %`;
}

export function formatTemp(c: number | null | undefined): string {
  return c === null || c === undefined ? '—' : `${Math.round(c)} °C`;
}

export function formatWatts(w: number | null | undefined, limit?: number | null): string {
  if (w === null || w === undefined) return '—';
  return limit ? `${Math.round(w)} / ${Math.round(limit)} W` : `${Math.round(w)} W`;
}

export function formatGflops(g: number): string {
  if (g >= 1000) return `${(g / 1000).toFixed(g >= 10_000 ? 0 : 1)} TFLOP/s`;
  return `${g >= 100 ? g.toFixed(0) : g.toFixed(1)} GFLOP/s`;
}

/** Typed by the shared list of backends, so a new backend cannot go without a label. */
const BACKEND_LABELS: Record<BackendName, string> = {
  'tensorflow-gpu': 'TF GPU',
  webgpu: 'WebGPU',
  tensorflow: 'TF CPU',
  wasm: 'WASM',
  cpu: 'JS CPU',
};

export function backendLabel(name: string): string {
  return BACKEND_LABELS[name as BackendName] ?? name;
}
