import { execFile, spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import type { GpuInfo, GpuSample } from '../protocol/inventorySchemas.js';

/** Fields queried from nvidia-smi, in this order (`nvidia-smi --help-query-gpu` names). */
export const NVIDIA_QUERY_FIELDS = [
  'index',
  'uuid',
  'name',
  'pci.bus_id',
  'driver_version',
  'memory.total',
  'memory.used',
  'utilization.gpu',
  'temperature.gpu',
  'power.draw',
  'power.limit',
] as const;

export const NVIDIA_QUERY_ARGS = [
  `--query-gpu=${NVIDIA_QUERY_FIELDS.join(',')}`,
  '--format=csv,noheader,nounits',
];

const MIB = 1024 * 1024;

export interface NvidiaGpuRow {
  info: GpuInfo;
  sample: GpuSample;
}

export type NvidiaParseResult = { ok: true; gpus: NvidiaGpuRow[] } | { ok: false; reason: string };

/** "[N/A]", "[Not Supported]", "N/A", "" and the like mean "unknown": null, never 0. A real 0 stays 0. */
export function parseNvidiaNumber(field: string | undefined): number | null {
  if (field === undefined) return null;
  const v = field.trim();
  if (v === '' || v.startsWith('[') || /^n\/?a$/i.test(v) || /not supported/i.test(v)) return null;
  // Some drivers print units despite `nounits` ("250.00 W"); take the leading number.
  const m = /^-?\d+(\.\d+)?/.exec(v);
  return m ? Number(m[0]) : null;
}

function parseText(field: string | undefined): string | null {
  const v = field?.trim() ?? '';
  return v === '' || v.startsWith('[') || /^n\/?a$/i.test(v) ? null : v;
}

/** Parses one line of `--format=csv,noheader,nounits` output, or null if it is not a GPU row. */
export function parseNvidiaLine(line: string): NvidiaGpuRow | null {
  const f = line.split(',').map((s) => s.trim());
  if (f.length !== NVIDIA_QUERY_FIELDS.length) return null;
  const index = parseNvidiaNumber(f[0]);
  if (index === null || !Number.isInteger(index) || index < 0) return null;
  const totalMiB = parseNvidiaNumber(f[5]);
  const usedMiB = parseNvidiaNumber(f[6]);
  return {
    info: {
      index,
      vendor: 'NVIDIA',
      model: parseText(f[2]) ?? 'NVIDIA GPU',
      vramBytes: totalMiB === null ? null : totalMiB * MIB,
      driver: parseText(f[4]),
      busId: parseText(f[3]),
      uuid: parseText(f[1]),
    },
    sample: {
      index,
      utilizationPct: parseNvidiaNumber(f[7]),
      memUsedBytes: usedMiB === null ? null : usedMiB * MIB,
      memTotalBytes: totalMiB === null ? null : totalMiB * MIB,
      temperatureC: parseNvidiaNumber(f[8]),
      powerW: parseNvidiaNumber(f[9]),
      powerLimitW: parseNvidiaNumber(f[10]),
    },
  };
}

/** Parses a whole nvidia-smi query output, including the "no devices" and driver-failure texts. */
export function parseNvidiaOutput(stdout: string): NvidiaParseResult {
  const text = stdout.trim();
  if (text === '' || /no devices were found/i.test(text)) return { ok: true, gpus: [] };
  if (/has failed|couldn't communicate|driver/i.test(text) && !/^\d/.test(text)) {
    return { ok: false, reason: `nvidia-smi failed: ${text.split('\n')[0]}` };
  }
  const gpus: NvidiaGpuRow[] = [];
  for (const line of text.split(/\r?\n/)) {
    const row = parseNvidiaLine(line);
    if (row) gpus.push(row);
  }
  if (gpus.length === 0)
    return { ok: false, reason: `unexpected nvidia-smi output: ${text.split('\n')[0]}` };
  return { ok: true, gpus };
}

/** Runs one query without blocking the event loop (systeminformation's own call uses execSync). */
export function queryNvidiaSmi(
  binary = 'nvidia-smi',
  timeoutMs = 5000,
): Promise<NvidiaParseResult> {
  return new Promise((resolve) => {
    execFile(
      binary,
      NVIDIA_QUERY_ARGS,
      { timeout: timeoutMs, windowsHide: true },
      (err, stdout, stderr) => {
        if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          resolve({ ok: false, reason: 'nvidia-smi not found (no NVIDIA driver installed)' });
          return;
        }
        const parsed = parseNvidiaOutput(String(stdout || stderr));
        if (err && parsed.ok && parsed.gpus.length === 0 && !/no devices/i.test(String(stdout))) {
          resolve({
            ok: false,
            reason: `nvidia-smi failed: ${
              String(stderr || err.message)
                .trim()
                .split('\n')[0]
            }`,
          });
          return;
        }
        resolve(parsed);
      },
    );
  });
}

/**
 * Live GPU figures from one long-lived `nvidia-smi -lms` child: cheaper than a process per second and
 * never blocks. Keeps the latest row per GPU; restarts the child if it dies, at most once per 10 s.
 */
export class NvidiaSmiStream {
  private child: ChildProcess | null = null;
  private latest = new Map<number, GpuSample>();
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;
  note: string | null = null;

  constructor(
    private readonly binary = 'nvidia-smi',
    private readonly intervalMs = 1000,
  ) {}

  start(): void {
    if (this.stopped || this.child) return;
    const child = spawn(this.binary, [...NVIDIA_QUERY_ARGS, `-lms`, String(this.intervalMs)], {
      stdio: ['ignore', 'pipe', 'ignore'],
      windowsHide: true,
    });
    this.child = child;
    child.on('error', (err: NodeJS.ErrnoException) => {
      this.note =
        err.code === 'ENOENT'
          ? 'nvidia-smi not found: no live GPU figures'
          : `nvidia-smi: ${err.message}`;
    });
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const row = parseNvidiaLine(line);
      if (row) {
        this.latest.set(row.sample.index, row.sample);
        this.note = null;
      }
    });
    child.on('exit', () => {
      this.child = null;
      if (this.stopped) return;
      this.restartTimer = setTimeout(() => this.start(), 10_000);
      this.restartTimer.unref();
    });
  }

  samples(): GpuSample[] {
    return [...this.latest.values()].sort((a, b) => a.index - b.index);
  }

  stop(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.child?.kill('SIGTERM');
    this.child = null;
  }
}
