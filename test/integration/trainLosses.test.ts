import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadModelFile } from '../../native/model/importModelJson.js';
import { CLI, tempDir, TEST_TOKEN } from '../helpers/agents.js';
import type { TrainLine } from '../helpers/cliTraining.js';

const fixture = (name: string) => path.join('test/fixtures/models', name);

/** `pipefitter train … --local 2 --json`; its exit code, JSON lines and stderr. */
function train(args: string[]) {
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      'train',
      ...args,
      '--local',
      '2',
      '--json',
      '--state-dir',
      tempDir(),
      '--token',
      TEST_TOKEN,
    ],
    { encoding: 'utf8', timeout: 180_000 },
  );
  const lines = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as TrainLine);
  return { code: r.status, lines, stderr: r.stderr };
}

function stepLosses(lines: TrainLine[]): number[] {
  return lines.flatMap((l) => (l.type === 'step' ? [l.loss] : []));
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Loss fell: the mean of the last 5 steps is below the mean of the first 5. */
function assertFell(losses: number[], steps: number) {
  assert.equal(losses.length, steps);
  assert.ok(
    mean(losses.slice(-5)) < mean(losses.slice(0, 5)),
    `loss fell: ${losses.map((l) => l.toFixed(3)).join(' ')}`,
  );
}

describe('pipefitter train with a binary classifier from a model.json', () => {
  it('trains binary-mlp.json (binary_crossentropy in training_config) on plain synthetic data, loss falling, and exports it with its loss', () => {
    const out = tempDir('pf-bin-out-');
    const r = train([
      '--model',
      fixture('binary-mlp.json'),
      '--dataset',
      'synthetic',
      '--steps',
      '40',
      '--lr',
      '0.01',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const started = r.lines.find((l) => l.type === 'started');
    assert.ok(started && started.type === 'started' && started.stages.length === 2);
    assertFell(stepLosses(r.lines), 40);
    // The written model.json says which loss it was trained with, so it imports as binary again.
    const again = loadModelFile(path.join(out, 'model.json'));
    assert.equal(again.spec.loss, 'binaryCrossentropy');
  });

  it('trains the Keras 3 export (compile_config) on synthetic:8:2 and on a CSV with a 0/1 label', () => {
    const k3 = train([
      '--model',
      fixture('keras3-binary.json'),
      '--dataset',
      'synthetic:8:2',
      '--steps',
      '30',
      '--lr',
      '0.01',
      '--out',
      tempDir(),
    ]);
    assert.equal(k3.code, 0, k3.stderr);
    assertFell(stepLosses(k3.lines), 30);

    // 600 rows whose label is 1 when the first two features sum above zero.
    const csv = path.join(tempDir('pf-csv-'), 'binary.csv');
    let seed = 3;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const rows = Array.from({ length: 600 }, () => {
      const x = Array.from({ length: 8 }, rand);
      return `${x.map((v) => v.toFixed(4)).join(',')},${x[0]! + x[1]! > 0 ? 1 : 0}`;
    });
    const header = [...Array.from({ length: 8 }, (_, i) => `f${i}`), 'sick'].join(',');
    fs.writeFileSync(csv, `${header}\n${rows.join('\n')}\n`);
    const fromCsv = train([
      '--model',
      fixture('binary-mlp.json'),
      '--dataset',
      `csv:${csv}:sick`,
      '--batch',
      '32',
      '--epochs',
      '3',
      '--lr',
      '0.02',
      '--out',
      tempDir(),
    ]);
    assert.equal(fromCsv.code, 0, fromCsv.stderr);
    assertFell(stepLosses(fromCsv.lines), 45);
    const validations = fromCsv.lines.filter((l) => l.type === 'validation');
    assert.equal(validations.length, 3);
    const last = validations.at(-1)!;
    assert.ok(
      last.type === 'validation' && last.accuracy! > 0.7,
      `accuracy ${JSON.stringify(last)}`,
    );
  });

  it('refuses a dataset that does not fit the model before any agent or stage starts', () => {
    const cases: [string, RegExp][] = [
      [
        'synthetic:8:10',
        /dataset synthetic:8:10 has 10 classes \(classes 0–9\), but model binary-mlp has one output unit \(binary cross-entropy: labels 0 and 1\): use synthetic:8:2, or plain "synthetic"/,
      ],
      ['mnist', /dataset mnist has 784 values per sample, but model binary-mlp takes 8/],
    ];
    for (const [dataset, message] of cases) {
      const r = train([
        '--model',
        fixture('binary-mlp.json'),
        '--dataset',
        dataset,
        '--steps',
        '5',
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, message);
      assert.doesNotMatch(
        r.stderr,
        new RegExp(`--dataset ${dataset}\\b`),
        'never suggests what was done',
      );
      assert.equal(r.lines.length, 0, `nothing started: ${JSON.stringify(r.lines)}`);
    }
  });

  it('refuses a model.json whose loss is not supported, naming the loss', () => {
    const doc = JSON.parse(fs.readFileSync(fixture('binary-mlp.json'), 'utf8')) as {
      modelTopology: { training_config: { loss: unknown } };
    };
    doc.modelTopology.training_config.loss = 'hinge';
    const file = path.join(tempDir(), 'hinge.json');
    fs.writeFileSync(file, JSON.stringify(doc));
    const r = train(['--model', file, '--dataset', 'synthetic', '--steps', '5']);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /the model's loss "hinge" is not supported; supported losses: binaryCrossentropy, categoricalCrossentropy, sparseCategoricalCrossentropy, meanSquaredError/,
    );
    assert.equal(r.lines.length, 0);
  });
});
