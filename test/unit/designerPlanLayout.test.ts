import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parsePlan, planStage } from '../../native/planner/planSchema.js';
import { getModel } from '../../native/model/catalogue.js';
import { clusterFromJson } from '../../native/planner/cluster.js';
import { makePlan } from '../../native/planner/plan.js';
import {
  boundsToPredict,
  chunkCount,
  layoutOfPlan,
  newDoc,
  setLayout,
  setSettings,
  splitAt,
  stageMachineIds,
  stageOfLayers,
} from '../../renderer/designer/planModel.js';
import { parseChunks } from '../../renderer/designer/validate.js';

const file = path.join(import.meta.dirname, '../fixtures/plans/designer-deep-mlp.v1.json');
const plan = () => parsePlan(JSON.parse(fs.readFileSync(file, 'utf8')), file);

describe('the designer reads a plan’s topology', () => {
  it('lays a saved v1 plan out as stage rows on its machines', () => {
    assert.deepEqual(layoutOfPlan(plan()), {
      bounds: [0, 2, 5, 9],
      machines: [
        { id: 'ws-01', name: 'ws-01' },
        { id: 'ws-02', name: 'ws-02' },
        { id: 'ws-01', name: 'ws-01' },
      ],
      replicas: [[], [], []],
    });
  });

  it('reads a stage’s replicas as its further machines, and opens the layout with them', () => {
    const p = plan();
    p.stages[2] = planStage(p.stages[2]!.chunks, [
      ...p.stages[2]!.replicas,
      { machineId: 'ws-09', machineName: 'ws-09', gpu: 1 },
    ]);
    const layout = layoutOfPlan(p);
    assert.ok(!('problem' in layout));
    assert.deepEqual(layout.machines[2], { id: 'ws-01', name: 'ws-01' });
    assert.deepEqual(layout.replicas, [[], [], [{ id: 'ws-09', name: 'ws-09' }]]);
    const d = setLayout(newDoc(9), layout);
    assert.deepEqual(
      d.machines.map((_, k) => stageMachineIds(d, k)),
      ['ws-01', 'ws-02', ['ws-01', 'ws-09']],
    );
  });

  it('says it cannot show stages of unequal chunk counts, rather than dropping chunks', () => {
    const q = plan();
    q.stages[0] = planStage(
      [
        { layers: [0, 1], layerNames: ['a', 'a'] },
        { layers: [1, 2], layerNames: ['b', 'b'] },
      ],
      q.stages[0]!.replicas,
    );
    assert.match(
      (layoutOfPlan(q) as { problem: string }).problem,
      /Stage 2 of this plan holds 1 layer ranges and stage 1 holds 2/,
    );
  });
});

/** An interleaved plan of deep-mlp on two machines, as `pipefitter plan` makes it. */
function interleavedPlan(chunks = 2) {
  const r = makePlan({
    model: getModel('deep-mlp'),
    source: 'catalogue',
    path: null,
    cluster: clusterFromJson({
      machines: [
        { id: 'ws-01', gflops: 40, memoryBytes: 2 ** 33 },
        { id: 'ws-02', gflops: 20, memoryBytes: 2 ** 33 },
      ],
    }),
    stages: 2,
    chunks,
    batch: 64,
    microbatches: 8,
    schedule: 'interleaved-1f1b',
    optimizer: 'adam',
    preset: 'balanced',
  });
  assert.ok(r.ok);
  return r.plan;
}

describe('the designer interleaves', () => {
  it('opens an interleaved plan as stage rows that keep its chunks, and predicts with them', () => {
    const p = interleavedPlan();
    const layout = layoutOfPlan(p);
    assert.ok(!('problem' in layout));
    // Pipeline order: chunk 0 of each stage, then chunk 1 of each.
    assert.deepEqual(layout.chunkBounds, [
      0,
      p.stages[0]!.chunks[0]!.layers[1],
      p.stages[1]!.chunks[0]!.layers[1],
      p.stages[0]!.chunks[1]!.layers[1],
      9,
    ]);
    assert.equal(layout.bounds.length, 3);
    const d = setSettings(setLayout(newDoc(9), layout), {
      schedule: 'interleaved-1f1b',
      chunks: 2,
    });
    assert.equal(chunkCount(d.settings), 2);
    assert.deepEqual(boundsToPredict(d), layout.chunkBounds);
    // Another schedule, chunk count or stage count: the stages' bounds (the engine splits chunks).
    assert.deepEqual(boundsToPredict(setSettings(d, { schedule: '1f1b' })), d.bounds);
    assert.deepEqual(boundsToPredict(setSettings(d, { chunks: 3 })), d.bounds);
    assert.equal(boundsToPredict(splitAt(d, 1)).length, 4);
    // A new layout drops chunks that came with the old one.
    assert.equal(setLayout(d, { bounds: [0, 9], machines: [null] }).chunkBounds, undefined);
  });

  it('colours each layer by the stage whose chunk holds it', () => {
    const p = interleavedPlan(3);
    const stages = stageOfLayers(p)!;
    assert.equal(stages.length, 9);
    p.stages.forEach((st, k) =>
      st.chunks.forEach(({ layers: [s, e] }) => {
        for (let i = s; i < e; i++) assert.equal(stages[i], k);
      }),
    );
  });

  it('takes 2 to 16 chunks as typed, and says why not otherwise', () => {
    assert.deepEqual(parseChunks(' 4 '), { chunks: 4 });
    for (const bad of ['1', '17', '2.5', 'x', ''])
      assert.match(
        (parseChunks(bad) as { problem: string }).problem,
        /from 2 to 16 chunks/,
        `"${bad}"`,
      );
  });
});
