import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { trainWithCli, type TrainLine } from '../helpers/cliTraining.js';
import { webgpuForTest } from '../helpers/webgpuTest.js';

/** One epoch of mnist-mlp on 2 local agents with `--backend name`: its JSON lines and seconds. */
async function oneEpoch(backend: string): Promise<{ lines: TrainLine[]; seconds: number }> {
  const r = await trainWithCli([
    '--model',
    'mnist-mlp',
    '--dataset',
    'mnist',
    '--local',
    '2',
    '--epochs',
    '1',
    '--backend',
    backend,
  ]);
  assert.equal(r.code, 0, r.stderr);
  return r;
}

function accuracyOf(lines: TrainLine[]): number {
  const v = lines.filter(
    (l): l is Extract<RunEvent, { type: 'validation' }> => l.type === 'validation',
  );
  assert.equal(v.length, 1, 'one validation after the epoch');
  const accuracy = v[0]!.accuracy;
  assert.notEqual(accuracy, null, 'mnist-mlp (cross-entropy) reports an accuracy');
  return accuracy!;
}

describe('pipefitter train on webgpu', () => {
  it('a 2-stage mnist-mlp run on webgpu reaches wasm’s accuracy (±0.5 points) after one epoch, and its stages report webgpu with the adapter', async (t) => {
    const gpu = await webgpuForTest();
    if ('skip' in gpu) return t.skip(gpu.skip);
    const wasm = await oneEpoch('wasm');
    const webgpu = await oneEpoch('webgpu');
    const [a, b] = [accuracyOf(wasm.lines), accuracyOf(webgpu.lines)];
    console.log(
      `one epoch of mnist-mlp on 2 stages: wasm ${(a * 100).toFixed(2)}% in ${wasm.seconds.toFixed(0)} s, ` +
        `webgpu ${(b * 100).toFixed(2)}% in ${webgpu.seconds.toFixed(0)} s (${gpu.adapter})`,
    );
    assert.ok(Math.abs(a - b) <= 0.005, `webgpu ${b} vs wasm ${a}`);

    const started = webgpu.lines.find((l) => l.type === 'started') as Extract<
      RunEvent,
      { type: 'started' }
    >;
    assert.deepEqual(
      started.stages.map((s) => s.backend),
      ['webgpu', 'webgpu'],
    );
    for (const k of [0, 1]) {
      const chosen = webgpu.lines.find(
        (l) => l.type === 'log' && l.stage === k && /backend webgpu: chosen/.test(l.message),
      ) as { message: string } | undefined;
      assert.ok(chosen, `stage ${k} logged its backend`);
      // The adapter's name, and that a software one is used only because webgpu was forced.
      assert.match(chosen.message, /WebGPU \(Dawn\) on \S+/);
      if (/software/.test(gpu.adapter))
        assert.match(chosen.message, /a software adapter .*used only because webgpu was forced/);
    }
  });
});
