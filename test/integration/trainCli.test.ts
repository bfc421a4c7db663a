import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import type { RunEvent } from '../../native/coordinator/runController.js';
import { MnistDataset } from '../../native/data/mnist.js';
import { correctCount } from '../../native/pipeline/loss.js';
import { fileModelLoader } from '../../native/pipeline/modelFiles.js';
import { CLI, tempDir, TEST_TOKEN } from '../helpers/agents.js';
import { processAlive } from '../helpers/training.js';
import { planWithCli, trainPlanLocally } from '../helpers/cliTraining.js';

type Line = RunEvent | { type: 'exported'; path: string } | { type: 'log'; message: string };

describe('pipefitter train, end to end', () => {
  it('trains mnist-mlp on 2 local agents for 2 epochs to ≥ 97% test accuracy, and exports a model tfjs loads', async () => {
    const out = tempDir('pf-train-out-');
    const proc = spawn(
      process.execPath,
      [
        CLI,
        'train',
        '--model',
        'mnist-mlp',
        '--dataset',
        'mnist',
        '--local',
        '2',
        '--epochs',
        '2',
        '--json',
        '--out',
        out,
        '--state-dir',
        tempDir(),
        '--token',
        TEST_TOKEN,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines: Line[] = [];
    readline
      .createInterface({ input: proc.stdout })
      .on('line', (l) => lines.push(JSON.parse(l) as Line));
    const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
    assert.equal(code, 0, stderr);

    const steps = lines.filter((l): l is Extract<RunEvent, { type: 'step' }> => l.type === 'step');
    const started = lines.find((l) => l.type === 'started') as Extract<
      RunEvent,
      { type: 'started' }
    >;
    assert.equal(started.stages.length, 2);
    assert.equal(steps.length, started.totalSteps);
    assert.ok(steps.at(-1)!.loss < steps[0]!.loss, 'loss fell');
    const validations = lines.filter(
      (l): l is Extract<RunEvent, { type: 'validation' }> => l.type === 'validation',
    );
    assert.equal(validations.length, 2, 'one validation per epoch');
    const accuracy = validations.at(-1)!.accuracy!;
    console.log(
      `test accuracy after 2 epochs: ${(accuracy * 100).toFixed(2)}%; ${steps.at(-1)!.samplesPerSecond.toFixed(0)} samples/s at the end`,
    );
    assert.ok(accuracy >= 0.97, `accuracy ${accuracy}`);

    // Memory: each stage's tensor count is flat from its first report to its last.
    for (const k of [0, 1]) {
      const mem = lines.filter(
        (l): l is Extract<RunEvent, { type: 'memory' }> => l.type === 'memory' && l.stage === k,
      );
      assert.ok(mem.length >= 10, `stage ${k} reported memory`);
      assert.equal(
        mem.at(-1)!.numTensors,
        mem[1]!.numTensors,
        `stage ${k} holds as many tensors at the end as at step 50`,
      );
    }

    // Nothing is left running.
    assert.ok(
      started.stages.every((s) => !processAlive(s.pid)),
      'stage hosts exited',
    );

    // The exported model loads in tfjs and predicts what the pipeline did.
    const exported = lines.find((l) => l.type === 'exported') as { path: string };
    assert.equal(exported.path, path.join(out, 'model.json'));
    const { tf } = await initBackend({ prefer: 'wasm' });
    const model = await tf.loadLayersModel(fileModelLoader(tf, exported.path));
    const mnist = new MnistDataset();
    const n = mnist.size('test');
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    const x = tf.tensor(mnist.inputs('test', idx), [n, 784]);
    const y = tf.tensor(mnist.labels('test', idx), [n], 'int32');
    const probs = model.predict(x) as ReturnType<typeof tf.tensor>;
    const mlp = { loss: 'categoricalCrossentropy', numClasses: 10 } as const;
    const loadedAccuracy = correctCount(tf, mlp, probs, y)! / n;
    console.log(
      `exported model, loaded with tf.loadLayersModel: ${(loadedAccuracy * 100).toFixed(2)}%`,
    );
    assert.ok(Math.abs(loadedAccuracy - accuracy) <= 0.001, `${loadedAccuracy} vs ${accuracy}`);
  });

  it('says clearly what is wrong with bad arguments', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [CLI, 'train', ...args], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.once('exit', (code) => resolve({ code, stderr }));
      });
    const a = await run(['--model', 'mnist-mlp']);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /say where to train: --local N, --plan plan.json or --discover SECONDS/);
    const b = await run(['--model', 'resnet-9000', '--local', '1']);
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /resnet-9000/);
    const c = await run([
      '--model',
      'mnist-mlp',
      '--local',
      '1',
      '--microbatches',
      '16',
      '--batch',
      '8',
    ]);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /--microbatches 16 is more than the batch of 8/);
  });

  it('trains from a plan file made by pipefitter plan, keeping its split', async () => {
    const dir = tempDir('pf-plan-');
    const planFile = path.join(dir, 'plan.json');
    const cluster = path.join(import.meta.dirname, '../fixtures/clusters/lab4.json');
    planWithCli(planFile, [
      '--model',
      'mnist-mlp',
      '--cluster',
      cluster,
      '--stages',
      '2',
      '--batch',
      '32',
    ]);
    const plan = JSON.parse(fs.readFileSync(planFile, 'utf8')) as {
      stages: { layers: [number, number] }[];
    };
    const lines = trainPlanLocally('mnist-mlp', planFile, 5);
    const started = lines.find((l) => l.type === 'started') as Extract<
      RunEvent,
      { type: 'started' }
    >;
    assert.deepEqual(
      started.stages.map((s) => s.layers),
      plan.stages.map((s) => s.layers),
    );
    assert.equal(lines.filter((l) => l.type === 'step').length, 5);
    const logs = lines
      .filter((l): l is { type: 'log'; message: string } => l.type === 'log')
      .map((l) => l.message);
    for (const k of [0, 1])
      assert.ok(
        logs.some((m) => new RegExp(`^stage ${k} on local-\\d .*wasm`).test(m)),
        `stage ${k} said which backend it trains on:\n${logs.join('\n')}`,
      );
  });
});
