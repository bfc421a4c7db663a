import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Timing } from '../../native/common/runEvents.js';
import type { StageInfo } from '../../renderer/runs/runData.js';
import { timelineRows } from '../../renderer/runs/timelineRows.js';

const stage = (index: number, node: string, replica: number | null = null): StageInfo => ({
  index,
  replica,
  node: `${node} (127.0.0.1)`,
  nodeId: null,
  backend: 'wasm',
  layers: [index, index + 1],
});
const t = (s: number, op: string, replica?: number): Timing => ({
  stage: s,
  ...(replica === undefined ? {} : { replica }),
  op,
  mb: op === 'STEP' || op === 'ALLREDUCE' ? -1 : 0,
  start: 0,
  end: 1,
});

describe('the run page’s timeline rows', () => {
  it('draws one row per stage when no stage has replicas', () => {
    const rows = timelineRows(
      [t(0, 'F'), t(1, 'F'), t(1, 'B')],
      [stage(0, 'alpha'), stage(1, 'bravo')],
    );
    assert.deepEqual(
      rows.map((r) => [r.label, r.replica, r.node, r.timings.length]),
      [
        ['stage 0', null, 'alpha (127.0.0.1)', 1],
        ['stage 1', null, 'bravo (127.0.0.1)', 2],
      ],
    );
  });

  it('draws a row per replica of a replicated stage, each with its own timings and machine', () => {
    // The runtime tags every timing with its replica once any stage is replicated.
    const timings = [
      t(0, 'F', 0),
      t(1, 'F', 0),
      t(1, 'ALLREDUCE', 0),
      t(1, 'F', 1),
      t(1, 'ALLREDUCE', 1),
      t(1, 'STEP', 1),
    ];
    const rows = timelineRows(timings, [
      stage(0, 'alpha'),
      stage(1, 'alpha', 0),
      stage(1, 'bravo', 1),
    ]);
    assert.deepEqual(
      rows.map((r) => [r.label, r.node, r.timings.map((x) => x.op).join(' ')]),
      [
        ['stage 0', 'alpha (127.0.0.1)', 'F'],
        ['stage 1 · replica 0', 'alpha (127.0.0.1)', 'F ALLREDUCE'],
        ['stage 1 · replica 1', 'bravo (127.0.0.1)', 'F ALLREDUCE STEP'],
      ],
    );
  });

  it('keeps a row for a stage that reported nothing in this step', () => {
    const rows = timelineRows([t(0, 'F')], [stage(0, 'alpha'), stage(1, 'bravo')]);
    assert.deepEqual(
      rows.map((r) => [r.stage, r.timings.length]),
      [
        [0, 1],
        [1, 0],
      ],
    );
  });
});
