import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initBackend } from '../../native/backend/initBackend.js';
import { readFloatsInto, tensorFromFloats } from '../../native/backend/hostCopy.js';

describe('copies between tensors and a caller’s buffer', () => {
  it('reads float32 tensors one after another into a buffer, on wasm and on the cpu backend', async () => {
    const { tf } = await initBackend({ prefer: 'wasm' });
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const a = tf.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
      const b = tf.add(tf.tensor([10, 20, 30, 40]), 1);
      const out = new Float32Array(12).fill(-1);
      await readFloatsInto(tf, [a, b], out, 2);
      assert.deepEqual([...out], [-1, -1, 1, 2, 3, 4, 5, 6, 11, 21, 31, 41], backend);
      // A later allocation may grow the wasm heap and replace its buffer: reads still find the values.
      const big = tf.zeros([1 << 24]);
      const again = new Float32Array(6);
      await readFloatsInto(tf, [a], again);
      assert.deepEqual([...again], [1, 2, 3, 4, 5, 6], `${backend}, after the heap grew`);
      // What was read is the caller's: writing it leaves the tensor alone.
      out[2] = 99;
      assert.deepEqual([...(await a.data())], [1, 2, 3, 4, 5, 6], backend);
      await assert.rejects(
        readFloatsInto(tf, [a, b], new Float32Array(9)),
        /10 values from 0 do not fit in 9/,
      );
      const ints = tf.tensor([1, 2], [2], 'int32');
      await assert.rejects(readFloatsInto(tf, [ints], new Float32Array(2)), /expected float32/);
      tf.dispose([a, b, big, ints]);
    }
    await tf.setBackend('wasm');
  });

  it('makes tensors that keep their values when the caller writes its buffer again', async () => {
    const { tf } = await initBackend({ prefer: 'wasm' });
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      const buffer = new Float32Array([1, 2, 3, 4, 5, 6]);
      const t = tensorFromFloats(tf, buffer.subarray(2, 6), [2, 2]);
      buffer.fill(0);
      assert.deepEqual([...(await t.data())], [3, 4, 5, 6], backend);
      t.dispose();
    }
    await tf.setBackend('wasm');
  });
});
