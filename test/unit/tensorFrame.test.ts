import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeTensor,
  encodeTensor,
  type TensorHeader,
} from '../../native/protocol/tensorFrame.js';
import { PROTOCOL_VERSION } from '../../native/protocol/version.js';

const header: TensorHeader = {
  v: PROTOCOL_VERSION,
  kind: 'act',
  step: 3,
  mb: 1,
  dtype: 'float32' as const,
  shape: [2, 3],
};

describe('tensor frames', () => {
  it('round-trips a float32 tensor without copying the data on send', () => {
    const data = Float32Array.from([1, 2, 3, 4, 5, 6.5]);
    const frames = encodeTensor(header, data);
    assert.equal(frames[1].buffer, data.buffer, 'the data frame is a view of the tensor bytes');
    const d = decodeTensor(frames);
    assert.ok(d.ok);
    assert.deepEqual(d.tensor.header, header);
    assert.deepEqual([...d.tensor.data], [1, 2, 3, 4, 5, 6.5]);
  });

  it('round-trips int32 and copies only unaligned data', () => {
    const frames = encodeTensor(
      { ...header, dtype: 'int32', shape: [3] },
      Int32Array.from([7, -8, 9]),
    );
    const unaligned = Buffer.alloc(13);
    frames[1].copy(unaligned, 1);
    const d = decodeTensor([frames[0], unaligned.subarray(1)]);
    assert.ok(d.ok);
    assert.deepEqual([...d.tensor.data], [7, -8, 9]);
  });

  it('refuses what does not add up, with a reason', () => {
    const [head, body] = encodeTensor(header, new Float32Array(6));
    const cases: [Buffer[], RegExp][] = [
      [[head], /expected a header and a data frame, got 1/],
      [[head, body, body], /got 3 frames/],
      [[Buffer.from('{not json'), body], /not JSON/],
      [[Buffer.from(JSON.stringify({ ...header, v: 99 })), body], /invalid tensor header: v/],
      [
        [Buffer.from(JSON.stringify({ ...header, kind: 'weights' })), body],
        /invalid tensor header: kind/,
      ],
      [[Buffer.from(JSON.stringify({ ...header, shape: [2, -3] })), body], /shape/],
      [[Buffer.from(JSON.stringify({ ...header, extra: 1 })), body], /invalid tensor header/],
      [[head, body.subarray(4)], /needs 24 bytes, frame has 20/],
      [[Buffer.alloc(5000, 32), body], /longer than 4 KiB/],
    ];
    for (const [frames, why] of cases) {
      const d = decodeTensor(frames);
      assert.equal(d.ok, false);
      assert.match((d as { reason: string }).reason, why);
    }
  });

  it('carries the rest of the tensor address (chunk, replica), absent meaning 0, and bounds it', () => {
    const addressed = { ...header, chunk: 1, replica: 2 };
    const d = decodeTensor(encodeTensor(addressed, new Float32Array(6)));
    assert.ok(d.ok);
    assert.equal(d.tensor.header.chunk, 1);
    assert.equal(d.tensor.header.replica, 2);
    const [, body] = encodeTensor(header, new Float32Array(6));
    for (const bad of [{ chunk: -1 }, { replica: 4096 }, { chunk: 0.5 }]) {
      const r = decodeTensor([Buffer.from(JSON.stringify({ ...header, ...bad })), body]);
      assert.equal(r.ok, false, JSON.stringify(bad));
    }
  });
});
