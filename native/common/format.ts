/**
 * Numbers as people read them, for the CLI's tables and the UI alike. Null (or a value that is not a
 * finite number) means "could not be read": shown as a dash, never as 0.
 */
const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** The largest binary unit `bytes` fills at least once (B for anything under 1 KiB). */
function byteUnit(bytes: number): number {
  let i = 0;
  while (Math.abs(bytes) >= 1024 ** (i + 1) && i < BYTE_UNITS.length - 1) i++;
  return i;
}

/** At most three significant figures: "9.5 GiB", "38 MiB", "512 MiB". */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  const i = byteUnit(bytes);
  const v = bytes / 1024 ** i;
  return `${v.toFixed(Math.abs(v) >= 10 || i === 0 ? 0 : 1)} ${BYTE_UNITS[i]}`;
}

/** "3.1 / 15.6 GiB": both figures in the larger one's unit, so they compare at a glance. */
export function formatBytesPair(used: number | null, total: number | null): string {
  if (used === null || total === null) return `${formatBytes(used)} / ${formatBytes(total)}`;
  const i = byteUnit(total);
  const t = total / 1024 ** i;
  const d = t >= 100 || i === 0 ? 0 : 1;
  return `${(used / 1024 ** i).toFixed(d)} / ${t.toFixed(d)} ${BYTE_UNITS[i]}`;
}

export function formatAgo(ms: number): string {
  if (ms < 1500) return 'just now';
  if (ms < 90_000) return `${Math.round(ms / 1000)} s ago`;
  if (ms < 5_400_000) return `${Math.round(ms / 60_000)} min ago`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h ago`;
  return `${Math.round(ms / 86_400_000)} days ago`;
}

/** "sgd, momentum or adam": a list as a sentence says it. */
export function wordList(words: readonly string[], last = 'or'): string {
  return words.length < 2
    ? words.join('')
    : `${words.slice(0, -1).join(', ')} ${last} ${words[words.length - 1]}`;
}

/** A link's one-way latency: "0.11 ms". */
export function formatLatency(seconds: number): string {
  return `${(seconds * 1000).toPrecision(2)} ms`;
}

/** A link's rate in bits: "755 Mbit/s", "1.25 Gbit/s". */
export function formatRate(bytesPerSecond: number): string {
  const mbit = (bytesPerSecond * 8) / 1e6;
  return mbit >= 1000 ? `${(mbit / 1000).toPrecision(3)} Gbit/s` : `${mbit.toPrecision(3)} Mbit/s`;
}

/** A link's latency and rate: "0.11 ms, 755 Mbit/s". */
export function formatLink(l: { latencySeconds: number; bytesPerSecond: number }): string {
  return `${formatLatency(l.latencySeconds)}, ${formatRate(l.bytesPerSecond)}`;
}
