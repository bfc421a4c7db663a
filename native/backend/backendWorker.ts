import { execFile } from 'node:child_process';
import {
  BackendReportSchema,
  SpeedReportSchema,
  type BackendName,
  type BackendReport,
  type SpeedReport,
} from '../protocol/inventorySchemas.js';
import { selfCommand } from '../util/selfCommand.js';
import { stageProcessEnv } from './gpuPinning.js';
import { z } from 'zod';

function runWorker(args: string[], timeoutMs: number, env?: NodeJS.ProcessEnv): Promise<unknown> {
  const [cmd, argv] = selfCommand('__backend-worker', ...args);
  return new Promise((resolve, reject) => {
    const opts = { timeout: timeoutMs, maxBuffer: 1024 * 1024, ...(env ? { env } : {}) };
    execFile(cmd, argv, opts, (err, stdout, stderr) => {
      const last = String(stdout).trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last));
      } catch {
        const why = err?.signal
          ? `killed by ${err.signal}`
          : String(stderr).trim().split('\n').pop() || err?.message || 'no output';
        reject(new Error(`backend worker failed: ${why}`));
      }
    });
  });
}

/** Probes backends in a child process, so a native library that aborts cannot take the agent down. */
export async function probeBackendsIsolated(timeoutMs = 60_000): Promise<BackendReport[]> {
  return z.array(BackendReportSchema).parse(await runWorker(['probe'], timeoutMs));
}

/**
 * Measures one backend in a child process; `gpu` pins that child to one GPU (the environment a
 * stage on that GPU gets), so a GPU backend is measured on the card it would train on.
 */
export async function measureSpeedIsolated(
  backend: BackendName,
  timeoutMs = 60_000,
  gpu?: { index: number; busId: string | null },
): Promise<SpeedReport> {
  const args = gpu ? ['speed', backend, String(gpu.index)] : ['speed', backend];
  const env = gpu ? stageProcessEnv({ gpu: gpu.index, busId: gpu.busId }) : undefined;
  return SpeedReportSchema.parse(await runWorker(args, timeoutMs, env));
}
