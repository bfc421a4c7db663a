import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { planWithCli, trainPlanLocally } from '../helpers/cliTraining.js';
import { tempDir } from '../helpers/agents.js';
import path from 'node:path';

describe('backend choice by measurement', () => {
  it('each agent measures the backends that work, the stages train on the fastest, and the run log says which and why', () => {
    // Here wasm and cpu work (webgpu finds only a software adapter, never chosen by itself).
    const planFile = path.join(tempDir(), 'plan.json');
    const cluster = path.join(import.meta.dirname, '../fixtures/clusters/lab4.json');
    planWithCli(planFile, [
      '--model',
      'mnist-mlp',
      '--cluster',
      cluster,
      '--stages',
      '2',
      '--batch',
      '64',
      '--microbatches',
      '2',
    ]);
    const lines = trainPlanLocally('mnist-mlp', planFile, 2);
    const started = lines.find((l) => l.type === 'started') as Extract<
      RunEvent,
      { type: 'started' }
    >;
    for (const k of [0, 1]) {
      const chosen = lines.find(
        (l) => l.type === 'log' && l.stage === k && /: chosen \(/.test(l.message),
      ) as { message: string } | undefined;
      assert.ok(chosen, `stage ${k} logged its backend`);
      const m =
        /backend (\S+): chosen \(fastest measured here at (\d+) rows per micro-batch: (.*)\) — /.exec(
          chosen.message,
        );
      assert.ok(m, `stage ${k}: ${chosen.message}`);
      const [, name, rows, list] = m;
      assert.equal(rows, '32', 'compared at the plan’s micro-batch rows (64 / 2)');
      const rates = [...list!.matchAll(/(\S+)(?: on [^,]+)? ([\d.]+) GFLOP\/s/g)].map((r) => ({
        backend: r[1]!,
        gflops: Number(r[2]),
      }));
      assert.ok(rates.length >= 2, `two backends measured: ${list}`);
      const fastest = rates.reduce((a, b) => (b.gflops > a.gflops ? b : a));
      assert.equal(name, fastest.backend, 'the fastest one is chosen');
      assert.equal(started.stages[k]!.backend, name);
      console.log(`stage ${k}: ${chosen.message.replace(/^.*?backend/, 'backend')}`);
    }
  });
});
