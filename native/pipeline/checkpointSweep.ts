import fs from 'node:fs';
import path from 'node:path';

/** A run's checkpoints untouched this long belong to a run that will not resume: removed. */
export const STALE_CHECKPOINT_MS = 7 * 24 * 3600 * 1000;

/**
 * Removes the run folders under an agent's checkpoint folder whose newest file is older than
 * `maxAgeMs` (a run that failed for good, or whose stages were killed with their agent, leaves its
 * checkpoints behind; a finished run removes its own). Returns the run ids removed.
 */
export function sweepStaleCheckpoints(
  dir: string,
  now = Date.now(),
  maxAgeMs = STALE_CHECKPOINT_MS,
): string[] {
  let runs: fs.Dirent[];
  try {
    runs = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const run of runs) {
    if (!run.isDirectory()) continue;
    const folder = path.join(dir, run.name);
    let newest = 0;
    try {
      newest = fs.statSync(folder).mtimeMs;
      for (const f of fs.readdirSync(folder))
        newest = Math.max(newest, fs.statSync(path.join(folder, f)).mtimeMs);
    } catch {
      continue;
    }
    if (now - newest > maxAgeMs) {
      fs.rmSync(folder, { recursive: true, force: true });
      removed.push(run.name);
    }
  }
  return removed;
}
