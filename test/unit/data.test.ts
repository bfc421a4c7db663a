import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CsvDataset } from '../../native/data/csv.js';
import { encodeIdx, parseIdx, readIdxFile } from '../../native/data/idx.js';
import { MnistDataset, mnistDirectory } from '../../native/data/mnist.js';
import { openDataset } from '../../native/data/openDataset.js';
import { EpochSampler, microBatchRange } from '../../native/data/sampler.js';
import { SyntheticDataset } from '../../native/data/synthetic.js';

describe('IDX reader', () => {
  it('round-trips every data type', () => {
    for (const dtype of ['uint8', 'int8', 'int16', 'int32', 'float32', 'float64'] as const) {
      const values = dtype === 'uint8' ? [0, 1, 255, 7, 8, 9] : [0, -1, 100, 7, -8, 9];
      const a = parseIdx(encodeIdx(dtype, [2, 3], values));
      assert.equal(a.dtype, dtype);
      assert.deepEqual(a.shape, [2, 3]);
      assert.deepEqual([...a.data], values);
    }
  });

  it('names what is wrong with a bad file', () => {
    assert.throws(() => parseIdx(Buffer.from([1, 0, 8, 1, 0, 0, 0, 1, 5])), /not an IDX file/);
    assert.throws(() => parseIdx(Buffer.from([0, 0, 0x42, 1])), /unknown IDX data type 0x42/);
    assert.throws(() => parseIdx(Buffer.from([0, 0, 8, 2, 0, 0])), /truncated header/);
    assert.throws(
      () => parseIdx(encodeIdx('uint8', [4], [1, 2, 3, 4]).subarray(0, 10)),
      /needs 12 bytes, file has 10/,
    );
    assert.throws(() => readIdxFile('/nonexistent/file'), /no such file/);
  });

  it('reads the real MNIST files', () => {
    const labels = readIdxFile(path.join(mnistDirectory(), 't10k-labels-idx1-ubyte'));
    assert.deepEqual(labels.shape, [10000]);
    assert.deepEqual([...labels.data.subarray(0, 10)], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
  });
});

describe('MNIST dataset', () => {
  it('has 60,000 training and 10,000 test images scaled to [0, 1]', () => {
    const d = new MnistDataset();
    assert.equal(d.size('train'), 60000);
    assert.equal(d.size('test'), 10000);
    const x = d.inputs('test', [0, 1]);
    assert.equal(x.length, 2 * 784);
    assert.ok(Math.max(...x) <= 1 && Math.min(...x) >= 0 && Math.max(...x) > 0.9);
    assert.deepEqual([...d.labels('test', [0, 1, 2])], [7, 2, 1]);
  });
});

describe('sampler', () => {
  it('gives every stage the same order for a seed and epoch, another for the next epoch', () => {
    const a = new EpochSampler(1000, 32, 42);
    const b = new EpochSampler(1000, 32, 42);
    assert.deepEqual(a.batch(0, 3), b.batch(0, 3));
    assert.notDeepEqual([...a.batch(1, 3)], [...a.batch(0, 3)]);
    assert.notDeepEqual([...new EpochSampler(1000, 32, 43).batch(0, 0)], [...a.batch(0, 0)]);
  });

  it('visits every sample once per epoch and drops the last partial batch', () => {
    const s = new EpochSampler(100, 30, 7);
    assert.equal(s.stepsPerEpoch, 3);
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) for (const v of s.batch(2, i)) seen.add(v);
    assert.equal(seen.size, 90);
    assert.deepEqual(
      [...s.order(2)].sort((x, y) => x - y),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.throws(() => s.batch(2, 3), /outside epoch/);
  });

  it('splits a batch into micro-batches that differ by at most one sample and cover it', () => {
    assert.deepEqual(microBatchRange(10, 0, 4), [0, 3]);
    assert.deepEqual(microBatchRange(10, 1, 4), [3, 6]);
    assert.deepEqual(microBatchRange(10, 2, 4), [6, 8]);
    assert.deepEqual(microBatchRange(10, 3, 4), [8, 10]);
    const s = new EpochSampler(64, 16, 1);
    const joined = [0, 1, 2, 3].flatMap((mb) => [...s.microBatch(0, 1, mb, 4)]);
    assert.deepEqual(joined, [...s.batch(0, 1)]);
  });

  it('refuses batches bigger than the data', () => {
    assert.throws(() => new EpochSampler(10, 32, 1), /fewer than one batch/);
  });
});

describe('synthetic and CSV datasets', () => {
  it('generates the same samples anywhere from the seed, with learnable labels', () => {
    const a = new SyntheticDataset([8], 3);
    const b = new SyntheticDataset([8], 3);
    assert.deepEqual(a.inputs('train', [5, 9]), b.inputs('train', [5, 9]));
    assert.deepEqual(a.labels('train', [5, 9]), b.labels('train', [5, 9]));
    const labels = a.labels(
      'train',
      Array.from({ length: 300 }, (_, i) => i),
    );
    assert.equal(new Set(labels).size, 3, 'all classes occur');
    assert.notDeepEqual(a.inputs('test', [5]), a.inputs('train', [5]));
  });

  it('reads a CSV with a header and named classes, splitting 80/20 deterministically', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pf-csv-')), 'iris.csv');
    const rows = Array.from(
      { length: 10 },
      (_, i) => `${i},${i * 2},${i % 2 ? 'versicolor' : 'setosa'}`,
    );
    fs.writeFileSync(file, `sepal,petal,species\n${rows.join('\n')}\n`);
    const d = new CsvDataset(file);
    assert.deepEqual(d.inputShape, [2]);
    assert.equal(d.numClasses, 2);
    assert.deepEqual(d.classNames, ['setosa', 'versicolor']);
    assert.equal(d.size('train'), 8);
    assert.equal(d.size('test'), 2);
    assert.deepEqual([...d.inputs('test', [0])], [4, 8]);
    assert.deepEqual([...d.labels('test', [0, 1])], [0, 1]);
    const byName = openDataset(`csv:${file}:species`);
    assert.equal(byName.numClasses, 2);
  });

  it('says what is wrong with a bad CSV', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-csv-'));
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, 'a,b,label\n1,2,0\n1,x,1\n');
    assert.throws(() => new CsvDataset(bad), /line 3, column 2: "x" is not a number/);
    fs.writeFileSync(bad, 'a,b,label\n1,2,0\n1,2\n');
    assert.throws(() => new CsvDataset(bad), /line 3 has 2 columns, expected 3/);
    assert.throws(() => new CsvDataset(bad, { labelColumn: 'kind' }), /no column named "kind"/);
    assert.throws(() => openDataset('imagenet'), /unknown dataset "imagenet"/);
  });
});
