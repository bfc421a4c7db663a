import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Prediction } from '../../native/api/designerSchemas.js';
import type { ApiResult } from '../../native/api/schemas.js';
import { ApiServer } from '../../native/api/server.js';
import { getModel } from '../../native/model/catalogue.js';
import { clusterFromNodes } from '../../native/coordinator/nodesToCluster.js';
import { makePlan } from '../../native/planner/plan.js';
import { parsePlan, type Plan } from '../../native/planner/planSchema.js';
import { syntheticCluster } from '../bench/syntheticCluster.js';
import { bigModelJson } from '../helpers/bigModel.js';

const plansDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-plans-'));
const lab = syntheticCluster(3, 1, plansDir);
const api = new ApiServer(lab.backend);
after(() => api.close());

async function ok<T>(op: string, req: unknown): Promise<T> {
  const r: ApiResult = await api.call(op, req);
  assert.ok(r.ok, JSON.stringify(r));
  return r.value as T;
}
async function fails(op: string, req: unknown): Promise<string> {
  const r: ApiResult = await api.call(op, req);
  assert.ok(!r.ok, 'expected a failure');
  return r.error.message;
}

const settings = {
  batch: 64,
  microbatches: 4,
  schedule: '1f1b',
  optimizer: 'adam',
  preset: 'balanced',
};
const ids = async () =>
  (await ok<{ nodes: { id: string }[] }>('listNodes', {})).nodes.map((n) => n.id);

describe('designer API over the real ApiServer', () => {
  it('lists the catalogue with per-layer cost', async () => {
    const { models } = await ok<{ models: { id: string; layers: { flops: number }[] }[] }>(
      'designerModels',
      {},
    );
    const deep = models.find((m) => m.id === 'deep-mlp')!;
    assert.equal(deep.layers.length, 9);
    assert.ok(deep.layers.every((l) => l.flops > 0));
  });

  it('predicts a hand-made layout: a plan file, memory per machine, one step of timeline', async () => {
    const [a, b] = await ids();
    const p = await ok<Prediction>('predictLayout', {
      model: { catalogue: 'deep-mlp' },
      settings,
      bounds: [0, 3, 5, 9],
      machineIds: [a, b, a],
    });
    assert.deepEqual(
      parsePlan(p.plan).stages.map((s) => s.machineId),
      [a, b, a],
    );
    const onA = p.machines.find((m) => m.id === a)!;
    assert.deepEqual(onA.stages, [0, 2]);
    const expected =
      p.plan.prediction.stages[0]!.memoryBytes + p.plan.prediction.stages[2]!.memoryBytes;
    assert.equal(onA.usedBytes, expected);
    assert.ok(p.timeline.some((t) => t.kind === 'compute' && t.stage === 2));
  });

  it('names a machine it cannot plan on, and a layout that does not cover the model', async () => {
    const [a] = await ids();
    assert.match(
      await fails('predictLayout', {
        model: { catalogue: 'deep-mlp' },
        settings,
        bounds: [0, 9],
        machineIds: ['nobody'],
      }),
      /machine nobody is not on the network/,
    );
    assert.match(
      await fails('predictLayout', {
        model: { catalogue: 'deep-mlp' },
        settings,
        bounds: [0, 4],
        machineIds: [a],
      }),
      /must cover layers 0–8/,
    );
  });

  it('interleaves: chunks split by cost on the stages, saved with the plan, refusals in the designer’s words', async () => {
    const [a, b] = await ids();
    const interleaved = { ...settings, schedule: 'interleaved-1f1b' as const, chunks: 2 };
    const p = await ok<Prediction>('predictLayout', {
      model: { catalogue: 'deep-mlp' },
      settings: interleaved,
      bounds: [0, 4, 9],
      machineIds: [a, b],
    });
    assert.deepEqual(
      p.plan.stages.map((s) => s.chunks.length),
      [2, 2],
    );
    // The timeline names each chunk's actions: "F0.1" is micro-batch 0 through chunk 1.
    assert.ok(p.timeline.some((t) => t.kind === 'compute' && t.label === 'F0.1'));
    const saved = await ok<{ path: string }>('savePlan', { name: 'interleaved', plan: p.plan });
    assert.equal(
      parsePlan(JSON.parse(fs.readFileSync(saved.path, 'utf8'))).stages[1]!.chunks.length,
      2,
    );
    // The plans test lists what it saved alone.
    fs.rmSync(saved.path);
    const refusal = await fails('predictLayout', {
      model: { catalogue: 'deep-mlp' },
      settings: { ...interleaved, chunks: 5 },
      bounds: [0, 4, 9],
      machineIds: [a, b],
    });
    assert.match(refusal, /need 10 layers .* use 4 chunks or fewer, or fewer stages/);
    assert.doesNotMatch(refusal, /--/);
  });

  it('auto-partitions over the machines it is given only', async () => {
    const [a, , c] = await ids();
    const p = await ok<Prediction>('autoPartition', {
      model: { catalogue: 'deep-mlp' },
      settings,
      machineIds: [a, c],
    });
    assert.ok(p.plan.stages.every((s) => s.machineId === a || s.machineId === c));
    assert.ok(p.plan.prediction.samplesPerSecond > 0);
  });

  it('saves, lists and opens plans; refuses files that are not plans, in words', async () => {
    const [a] = await ids();
    const { plan } = await ok<Prediction>('predictLayout', {
      model: { catalogue: 'mnist-mlp' },
      settings,
      bounds: [0, 3],
      machineIds: [a],
    });
    const saved = await ok<{ path: string }>('savePlan', { name: 'my plan', plan });
    assert.equal(saved.path, path.join(plansDir, 'my plan.json'));
    const { plans } = await ok<{ plans: { name: string; modelId: string }[] }>('listPlans', {});
    assert.deepEqual(
      plans.map((p) => [p.name, p.modelId]),
      [['my plan', 'mnist-mlp']],
    );
    const opened = await ok<{ plan: Plan }>('openPlan', { name: 'my plan' });
    assert.deepEqual(opened.plan, plan);
    assert.match(
      await fails('openPlan', { text: '{"version":7}', fileName: 'old.json' }),
      /old.json: plan version 7 is not supported/,
    );
    assert.match(await fails('savePlan', { name: '../escape', plan }), /name/);
  });

  it('opens what `pipefitter plan --json` writes, unchanged', async () => {
    const nodes = (await ok<{ nodes: Parameters<typeof clusterFromNodes>[0] }>('listNodes', {}))
      .nodes;
    const outcome = makePlan({
      model: getModel('deep-mlp'),
      source: 'catalogue',
      path: null,
      cluster: clusterFromNodes(nodes).cluster,
      batch: 64,
      microbatches: 4,
      schedule: '1f1b',
      optimizer: 'adam',
      preset: 'balanced',
    });
    assert.ok(outcome.ok);
    const text = JSON.stringify(outcome.plan, null, 2);
    const opened = await ok<{ plan: Plan }>('openPlan', { text, fileName: 'cli.json' });
    assert.deepEqual(opened.plan, outcome.plan);
  });

  it('imports a model.json, and explains one it cannot import', async () => {
    assert.match(
      await fails('importModel', { text: '{"format":"graph-model"}', fileName: 'g.json' }),
      /g.json is a tfjs graph model/,
    );
    assert.match(
      await fails('importModel', { text: 'nope', fileName: 'x.json' }),
      /not valid JSON/,
    );
  });

  it('keeps an imported model in the engine: a prediction names it by a short reference', async () => {
    const big = bigModelJson(5 << 20);
    const { model } = await ok<{
      model: { ref: { imported: string; path: string }; layers: unknown[] };
    }>('importModel', { text: big.text, fileName: 'deep-chain.json' });
    assert.equal(model.layers.length, big.layers);
    assert.deepEqual(Object.keys(model.ref).sort(), ['imported', 'path']);
    const [a, b] = await ids();
    const half = Math.floor(big.layers / 2);
    const p = await ok<Prediction>('predictLayout', {
      model: model.ref,
      settings,
      bounds: [0, half, big.layers],
      machineIds: [a, b],
    });
    assert.deepEqual(
      p.plan.stages.map((s) => s.layers),
      [
        [0, half],
        [half, big.layers],
      ],
    );
    // The plan names the engine's own copy of the import (a browser gives only the file's name).
    assert.match(p.plan.model.path ?? '', /[/\\]models[/\\][0-9a-f]{32}[/\\]deep-chain\.json$/);
    assert.equal(fs.readFileSync(p.plan.model.path!, 'utf8').length > 5_000_000, true);
    assert.match(
      await fails('predictLayout', {
        model: { imported: '0'.repeat(32), path: 'gone.json' },
        settings,
        bounds: [0, 1],
        machineIds: [a],
      }),
      /the imported model gone\.json is no longer loaded .*import its model\.json again/,
    );
  });
});
