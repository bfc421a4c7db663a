import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sweepStaleCheckpoints } from '../../native/pipeline/checkpointSweep.js';
import { tempDir } from '../helpers/agents.js';

describe("an agent's checkpoint folder", () => {
  it('loses the runs untouched for longer than the limit, and keeps the others', () => {
    const dir = tempDir();
    const now = Date.now();
    const day = 24 * 3600 * 1000;
    for (const [run, age] of [
      ['run-old', 9 * day],
      ['run-recent', 1 * day],
    ] as const) {
      fs.mkdirSync(path.join(dir, run));
      const f = path.join(dir, run, 'stage-0-step-100.ckpt');
      fs.writeFileSync(f, 'x');
      const t = new Date(now - age);
      fs.utimesSync(f, t, t);
      fs.utimesSync(path.join(dir, run), t, t);
    }
    assert.deepEqual(sweepStaleCheckpoints(dir, now), ['run-old']);
    assert.deepEqual(fs.readdirSync(dir), ['run-recent']);
    assert.deepEqual(sweepStaleCheckpoints(path.join(dir, 'missing'), now), []);
  });
});
