import type { Tensor } from '@tensorflow/tfjs-core';
import type { Tf } from './tfTypes.js';

/**
 * Copies between tensors and a caller's Float32Array without a fresh array per tensor where the
 * backend allows: memory a process has not touched before can cost far more than the copy (on this
 * 2-core VM, now and then about 2.7 ns a byte: reading a 28 MB gradient out took 3 ms or 77 ms from
 * one step to the next), and the all-reduce of every step read and wrote the whole gradient.
 */

/** What the wasm backend keeps per tensor and its heap: read, never written. */
interface WasmHeap {
  dataIdMap: { get(dataId: object): { memoryOffset?: number | null } | undefined };
  wasm: { HEAPU8: Uint8Array };
}

function wasmHeap(tf: Tf): WasmHeap | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as Partial<WasmHeap>;
  return b.dataIdMap && b.wasm?.HEAPU8 instanceof Uint8Array ? (b as WasmHeap) : null;
}

/**
 * The float32 tensors' values one after another into `out` from `offset` (their sizes must fit):
 * straight from the wasm heap, else through each tensor's read-back.
 */
export async function readFloatsInto(
  tf: Tf,
  tensors: readonly Tensor[],
  out: Float32Array,
  offset = 0,
): Promise<void> {
  const total = tensors.reduce((n, t) => n + t.size, 0);
  if (offset + total > out.length)
    throw new RangeError(`${total} values from ${offset} do not fit in ${out.length}`);
  const heap = wasmHeap(tf);
  for (const t of tensors) {
    if (t.dtype !== 'float32') throw new TypeError(`expected float32 values, got ${t.dtype}`);
    const at = heap?.dataIdMap.get(t.dataId)?.memoryOffset;
    if (heap && typeof at === 'number') {
      // The heap may have grown (and its buffer been replaced) since the last kernel: read it now.
      out.set(new Float32Array(heap.wasm.HEAPU8.buffer, at, t.size), offset);
    } else out.set((await t.data()) as Float32Array, offset);
    offset += t.size;
  }
}

/**
 * A tensor of `shape` holding `values`. The wasm backend copies what it is given into its heap at
 * once, so a view of the caller's array will do; other backends may keep the array they are given
 * (the caller goes on writing its own), so they get a copy.
 */
export function tensorFromFloats(tf: Tf, values: Float32Array, shape: number[]): Tensor {
  return tf.tensor(wasmHeap(tf) ? values : values.slice(), shape, 'float32');
}
