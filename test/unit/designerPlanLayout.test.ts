import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parsePlan, planStage } from '../../native/planner/planSchema.js';
import {
  layoutOfPlan,
  newDoc,
  setLayout,
  stageMachineIds,
} from '../../renderer/designer/planModel.js';

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

  it('says it cannot show a stage with several chunks, rather than dropping them', () => {
    const q = plan();
    q.stages[0] = planStage(
      [
        { layers: [0, 1], layerNames: ['a', 'a'] },
        { layers: [1, 2], layerNames: ['b', 'b'] },
      ],
      q.stages[0]!.replicas,
    );
    assert.match((layoutOfPlan(q) as { problem: string }).problem, /Stage 0 .* 2 layer ranges/);
  });
});
