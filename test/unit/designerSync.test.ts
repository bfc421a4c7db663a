import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { PlanFile, Prediction } from '../../native/api/designerSchemas.js';
import type { ApiResult } from '../../native/api/schemas.js';
import { ApiServer } from '../../native/api/server.js';
import {
  DEFAULT_OUTER_LR,
  DEFAULT_OUTER_MOMENTUM,
  SyncSchema,
} from '../../native/common/schemas.js';
import {
  addReplica,
  newDoc,
  placeStage,
  setSettings,
  splitAt,
} from '../../renderer/designer/planModel.js';
import {
  localSgd,
  MAX_SYNC_EVERY,
  parseSyncEvery,
  syncEveryOf,
  validate,
  type MachineStatus,
} from '../../renderer/designer/validate.js';
import { syntheticCluster } from '../bench/syntheticCluster.js';

const A = { id: 'a'.repeat(16), name: 'alpha' };
const B = { id: 'b'.repeat(16), name: 'bravo' };
const online = new Map<string, MachineStatus>([
  [A.id, { name: 'alpha', state: 'online', measured: true }],
  [B.id, { name: 'bravo', state: 'online', measured: true }],
]);

/** Two stages: stage 1 on alpha (+ bravo), stage 2 on bravo (+ alpha when `both`). */
function twoStages(both: boolean) {
  let d = splitAt(newDoc(4), 2);
  d = addReplica(placeStage(d, 0, A), 0, B);
  d = placeStage(d, 1, B);
  return both ? addReplica(d, 1, A) : d;
}

describe('designer replicas sync: the settings', () => {
  it('reads H from what was typed, by the bounds a run takes, and says why not', () => {
    assert.deepEqual(parseSyncEvery('5'), { every: 5 });
    assert.deepEqual(parseSyncEvery(' 1 '), { every: 1 });
    assert.deepEqual(parseSyncEvery(String(MAX_SYNC_EVERY)), { every: MAX_SYNC_EVERY });
    for (const bad of ['0', '-3', '2.5', '1e3', 'ten', '', String(MAX_SYNC_EVERY + 1)]) {
      const r = parseSyncEvery(bad);
      assert.ok('problem' in r, bad);
      assert.match(r.problem, /H must be a whole number from 1 to 1,000,000/);
    }
    const r = parseSyncEvery('2.5');
    assert.ok('problem' in r && r.problem.endsWith('not “2.5”.'));
    // The designer's bound is the run's: the schema a run's settings are checked by agrees.
    assert.ok(SyncSchema.safeParse(localSgd(MAX_SYNC_EVERY)).success);
    assert.ok(!SyncSchema.safeParse(localSgd(MAX_SYNC_EVERY + 1)).success);
  });

  it('local SGD takes the default outer step; absent settings are every step', () => {
    assert.deepEqual(localSgd(7), {
      kind: 'local',
      every: 7,
      outerLr: DEFAULT_OUTER_LR,
      outerMomentum: DEFAULT_OUTER_MOMENTUM,
    });
    const d = newDoc(3);
    assert.equal(syncEveryOf(d.settings), null);
    assert.equal(syncEveryOf(setSettings(d, { sync: { kind: 'every-step' } }).settings), null);
    assert.equal(syncEveryOf(setSettings(d, { sync: localSgd(7) }).settings), 7);
  });
});

describe('designer replicas sync: validation', () => {
  const problemsOf = (d: ReturnType<typeof newDoc>, plan: PlanFile | null = null) =>
    validate(d, online, null, plan).filter((p) => p.code === 'sync');

  it('every step needs nothing of the replicas', () => {
    assert.deepEqual(problemsOf(twoStages(false)), []);
    assert.deepEqual(
      problemsOf(setSettings(twoStages(false), { sync: { kind: 'every-step' } })),
      [],
    );
  });

  it('local SGD needs every stage on the same number (≥ 2) of replicas', () => {
    const uneven = problemsOf(setSettings(twoStages(false), { sync: localSgd(5) }));
    assert.equal(uneven.length, 1);
    assert.equal(
      uneven[0]!.message,
      'Local SGD needs every stage on the same number (≥ 2) of replicas; the stages have 2, 1.',
    );
    assert.match(uneven[0]!.fix, /sync every step/);
    // One replica everywhere is even, but there is nothing to average.
    const single = problemsOf(setSettings(placeStage(newDoc(3), 0, A), { sync: localSgd(5) }));
    assert.match(single[0]!.message, /the stages have 1\.$/);
    assert.deepEqual(problemsOf(setSettings(twoStages(true), { sync: localSgd(5) })), []);
    // A stage on no machine is its own problem, not counted here.
    let d = setSettings(splitAt(twoStages(true), 3), { sync: localSgd(5) });
    d = placeStage(d, 2, null);
    assert.deepEqual(
      validate(d, online, null).map((p) => p.code),
      ['unplaced'],
    );
  });

  it('and its stages to split the micro-batches alike, by the plan’s shares', () => {
    const d = setSettings(twoStages(true), { sync: localSgd(5) });
    const planWith = (shares: (number[] | undefined)[]) =>
      ({ stages: shares.map((s) => (s ? { shares: s } : {})) }) as unknown as PlanFile;
    assert.deepEqual(
      problemsOf(
        d,
        planWith([
          [2, 1],
          [2, 1],
        ]),
      ),
      [],
    );
    assert.deepEqual(problemsOf(d, planWith([undefined, undefined])), []);
    const crossed = problemsOf(
      d,
      planWith([
        [2, 1],
        [1, 2],
      ]),
    );
    assert.equal(crossed.length, 1);
    assert.match(crossed[0]!.message, /split the micro-batches alike/);
  });
});

describe('designer replicas sync: the prediction', () => {
  const plansDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-plans-'));
  const lab = syntheticCluster(3, 1, plansDir);
  const api = new ApiServer(lab.backend);
  after(() => api.close());
  const ok = async <T>(op: string, req: unknown): Promise<T> => {
    const r: ApiResult = await api.call(op, req);
    assert.ok(r.ok, JSON.stringify(r));
    return r.value as T;
  };
  const base = {
    batch: 64,
    microbatches: 4,
    schedule: '1f1b',
    optimizer: 'adam',
    preset: 'balanced',
  };

  it('local SGD every H steps carries 1/H of the all-reduce, and says H', async () => {
    const { nodes } = await ok<{ nodes: { id: string }[] }>('listNodes', {});
    const [a, b] = nodes.map((n) => n.id);
    const predict = (settings: object) =>
      ok<Prediction>('predictLayout', {
        model: { catalogue: 'deep-mlp' },
        settings,
        bounds: [0, 4, 9],
        machineIds: [
          [a, b],
          [b, a],
        ],
      });
    const every = await predict(base);
    // The sync's outer step is optional on the wire, as in a run's settings.
    const local = await predict({ ...base, sync: { kind: 'local', every: 8 } });
    const explicit = await predict({ ...base, sync: { kind: 'every-step' } });
    assert.equal(every.syncEvery, undefined);
    assert.equal(explicit.syncEvery, undefined);
    assert.equal(local.syncEvery, 8);
    for (const k of [0, 1]) {
      const full = every.plan.prediction.stages[k]!.allReduceSeconds!;
      assert.ok(full > 0);
      const part = local.plan.prediction.stages[k]!.allReduceSeconds!;
      assert.ok(Math.abs(part - full / 8) <= 1e-9 * full, `stage ${k}: ${part} vs ${full}/8`);
    }
    assert.ok(local.plan.prediction.samplesPerSecond >= every.plan.prediction.samplesPerSecond);
    assert.equal(explicit.plan.prediction.samplesPerSecond, every.plan.prediction.samplesPerSecond);
  });

  it('refuses an H a run would refuse', async () => {
    const { nodes } = await ok<{ nodes: { id: string }[] }>('listNodes', {});
    const r: ApiResult = await api.call('predictLayout', {
      model: { catalogue: 'deep-mlp' },
      settings: { ...base, sync: { kind: 'local', every: 0 } },
      bounds: [0, 9],
      machineIds: [nodes[0]!.id],
    });
    assert.ok(!r.ok);
  });
});
