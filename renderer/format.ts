/** Numbers as people read them. Null means "could not be read": shown as a dash, never as 0. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 || i === 0 ? 0 : 1)} ${units[i]}`;
}

/** "3.1 / 15.6 GiB": both figures in the larger one's unit, so they compare at a glance. */
export function formatBytesPair(used: number | null, total: number | null): string {
  if (used === null || total === null) return `${formatBytes(used)} / ${formatBytes(total)}`;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let t = total;
  while (t >= 1024 && i < units.length - 1) {
    t /= 1024;
    i++;
  }
  const div = 1024 ** i;
  const d = t >= 100 || i === 0 ? 0 : 1;
  return `${(used / div).toFixed(d)} / ${t.toFixed(d)} ${units[i]}`;
}

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

export function formatAgo(ms: number): string {
  if (ms < 1500) return 'just now';
  if (ms < 90_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 5_400_000) return `${Math.round(ms / 60_000)} min ago`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h ago`;
  return `${Math.round(ms / 86_400_000)} days ago`;
}

const BACKEND_LABELS: Record<string, string> = {
  'tensorflow-gpu': 'TF GPU',
  webgpu: 'WebGPU',
  tensorflow: 'TF CPU',
  wasm: 'WASM',
  cpu: 'JS CPU',
};

export function backendLabel(name: string): string {
  return BACKEND_LABELS[name] ?? name;
}
