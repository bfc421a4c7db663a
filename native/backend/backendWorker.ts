import { execFile } from 'node:child_process';
import {
  BackendReportSchema,
  SpeedReportSchema,
  type BackendName,
  type BackendReport,
  type SpeedReport,
} from '../protocol/inventorySchemas.js';
import { selfCommand } from '../util/selfCommand.js';
import { z } from 'zod';

function runWorker(args: string[], timeoutMs: number): Promise<unknown> {
  const [cmd, argv] = selfCommand('__backend-worker', ...args);
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: timeoutMs, maxBuffer: 1024 * 1024 }, (err, stdout, stderr) => {
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

export async function measureSpeedIsolated(
  backend: BackendName,
  timeoutMs = 60_000,
): Promise<SpeedReport> {
  return SpeedReportSchema.parse(await runWorker(['speed', backend], timeoutMs));
}
