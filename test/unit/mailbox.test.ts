import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Mailbox, type WireTensor } from '../../native/pipeline/transport.js';

const t = (x: number): WireTensor => ({ shape: [1], dtype: 'float32', data: Float32Array.of(x) });

describe('a stage mailbox', () => {
  it('keeps at most `limit` unclaimed tensors, and still hands over the ones a receive waits for', async () => {
    const box = new Mailbox();
    box.limit = 3;
    for (let mb = 0; mb < 3; mb++) assert.equal(box.deliver('act', 0, mb, t(mb)), true);
    assert.equal(box.deliver('act', 999, 0, t(9)), false, 'a fourth unclaimed tensor is refused');
    assert.equal(box.deliver('act', 0, 1, t(7)), true, 'a repeated key replaces, it does not grow');
    assert.equal(box.pending, 3);
    const waiting = box.take('grad', 0, 0);
    assert.equal(box.deliver('grad', 0, 0, t(5)), true, 'an awaited tensor is never refused');
    assert.equal((await waiting).data[0], 5);
    assert.equal((await box.take('act', 0, 1)).data[0], 7);
    assert.equal(box.deliver('act', 0, 3, t(3)), true, 'taking one makes room');
  });

  it('drops what arrives after it failed', async () => {
    const box = new Mailbox();
    box.fail(new Error('stage stopped'));
    assert.equal(box.deliver('act', 0, 0, t(1)), true);
    assert.equal(box.pending, 0);
    await assert.rejects(box.take('act', 0, 0), /stage stopped/);
  });

  it('keeps tensors of different chunks apart', async () => {
    const box = new Mailbox();
    const t = (v: number): WireTensor => ({
      shape: [1],
      dtype: 'float32',
      data: new Float32Array([v]),
    });
    box.deliver('act', 0, 0, t(1), 1);
    box.deliver('act', 0, 0, t(0));
    assert.equal((await box.take('act', 0, 0)).data[0], 0);
    assert.equal((await box.take('act', 0, 0, 1)).data[0], 1);
  });
});
