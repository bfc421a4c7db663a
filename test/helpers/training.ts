import assert from 'node:assert/strict';
import type { NamedWeight } from '../../native/pipeline/stageExecutor.js';

export function maxAbsDiff(a: NamedWeight[], b: NamedWeight[]): number {
  assert.equal(a.length, b.length, 'same number of weight arrays');
  let max = 0;
  a.forEach((w, i) => {
    assert.deepEqual(w.shape, b[i]!.shape, w.name);
    for (let j = 0; j < w.data.length; j++)
      max = Math.max(max, Math.abs(w.data[j]! - b[i]!.data[j]!));
  });
  return max;
}

/** Contiguous [start, end) slices of `layers` into p stages, as even as possible. */
export function evenSlices(layers: number, p: number): { start: number; end: number }[] {
  return Array.from({ length: p }, (_, k) => ({
    start: Math.round((k * layers) / p),
    end: Math.round(((k + 1) * layers) / p),
  }));
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
