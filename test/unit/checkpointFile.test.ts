import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CheckpointCollector } from '../../native/coordinator/checkpointCollector.js';
import {
  checkpointPath,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  readCheckpoint,
  writeCheckpoint,
  type StageState,
} from '../../native/pipeline/checkpointFile.js';
import { tempDir } from '../helpers/agents.js';

const state: StageState = {
  runId: 'run-1',
  stage: 1,
  step: 40,
  optimizer: 'adam',
  weights: [
    { name: 'dense/kernel', shape: [3, 2], data: Float32Array.from([1, -2, 3.5, 4, 5e-8, -6]) },
    { name: 'dense/bias', shape: [2], data: Float32Array.from([0.25, NaN]) },
  ],
  optimizerState: [{ name: 'iter', shape: [], data: Float32Array.from([40]) }],
};

describe('checkpoint files', () => {
  it('round-trip a stage state exactly (NaN and tiny values included)', async () => {
    const file = checkpointPath(tempDir(), 1, 40);
    const { bytes, sha256 } = await writeCheckpoint(file, state);
    assert.equal(bytes, fs.statSync(file).size);
    const back = readCheckpoint(file, sha256);
    assert.equal(back.step, 40);
    assert.deepEqual(
      back.weights.map((w) => [w.name, w.shape, [...w.data]]),
      state.weights.map((w) => [w.name, w.shape, [...w.data]]),
    );
    assert.deepEqual([...back.optimizerState[0]!.data], [40]);
    assert.deepEqual(
      fs.readdirSync(path.dirname(file)),
      [path.basename(file)],
      'no temporary file is left',
    );
  });

  it('refuses a file cut short anywhere, with the reason', () => {
    const bytes = encodeCheckpoint(state);
    for (const cut of [0, 10, 30, bytes.length - 25, bytes.length - 1]) {
      assert.throws(
        () => decodeCheckpoint(bytes.subarray(0, cut)),
        (err: Error) =>
          err instanceof CheckpointError && /not a Pipefitter checkpoint|torn/.test(err.message),
        `cut at ${cut}`,
      );
    }
    assert.throws(
      () => decodeCheckpoint(bytes.subarray(0, bytes.length - 4)),
      /4 tensor bytes|torn: \d+ of \d+/,
    );
  });

  it('refuses a changed byte, a foreign file and a checkpoint the run did not record', async () => {
    const bytes = Buffer.from(encodeCheckpoint(state));
    bytes[bytes.length - 3]! ^= 0x40;
    assert.throws(() => decodeCheckpoint(bytes), /changed after it was written/);
    assert.throws(() => decodeCheckpoint(Buffer.from('{"weights": []}')), /not a Pipefitter/);
    const file = checkpointPath(tempDir(), 0, 10);
    await writeCheckpoint(file, state);
    assert.throws(() => readCheckpoint(file, 'f'.repeat(64)), /not the one the run recorded/);
    assert.throws(() => readCheckpoint(`${file}.missing`), /cannot read checkpoint/);
  });

  it('a step is complete once every stage has reported it; older partial steps are dropped', () => {
    const c = new CheckpointCollector(2);
    const report = (stage: number, step: number) => ({
      type: 'event' as const,
      event: 'checkpoint' as const,
      stage,
      step,
      file: `s${stage}-${step}`,
      bytes: 10,
      sha256: 'a'.repeat(64),
      copyMs: stage + 1,
      writeMs: 5 - stage,
    });
    assert.equal(c.add(report(0, 10)), null);
    assert.equal(c.add(report(0, 20)), null, 'stage 0 is a checkpoint ahead');
    const ten = c.add(report(1, 10));
    assert.deepEqual(ten, {
      step: 10,
      stages: [
        { index: 0, file: 's0-10', bytes: 10, sha256: 'a'.repeat(64) },
        { index: 1, file: 's1-10', bytes: 10, sha256: 'a'.repeat(64) },
      ],
      copyMs: 2,
      writeMs: 5,
    });
    assert.equal(c.add(report(7, 20)), null, 'a stage the run does not have is ignored');
    assert.equal(c.add(report(1, 20))?.step, 20);
  });
});
