// Runs the same computation on the cpu backend (the reference) and on wasm, from identical inputs,
// and measures how far apart the results are.
import assert from 'node:assert/strict';
import type { Tensor } from '@tensorflow/tfjs-core';
import type { Tf } from '../../native/backend/tfTypes.js';
import { mulberry32 } from '../../native/util/random.js';

/** Deterministic inputs in [-1, 1) (mulberry32), identical on every backend. */
export function randomValues(size: number, seed: number): Float32Array {
  const rand = mulberry32(seed);
  return Float32Array.from({ length: size }, () => rand() * 2 - 1);
}

/** Largest difference relative to the reference's largest magnitude. */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return scale === 0 ? diff : diff / scale;
}

type Result = Tensor | Tensor[];

function read(
  tf: Tf,
  backend: string,
  f: () => Result,
): { shape: number[]; values: Float32Array }[] {
  tf.setBackend(backend);
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => ({ shape: t.shape, values: Float32Array.from(t.dataSync()) }));
  tf.dispose(list);
  return values;
}

/**
 * Asserts that `f` gives the same shapes on wasm as on cpu and values within `tolerance` relative
 * (per output), and leaves wasm active. `f` must build its inputs itself (from randomValues).
 */
export function assertSameOnWasm(tf: Tf, f: () => Result, tolerance = 1e-4): void {
  const want = read(tf, 'cpu', f);
  const got = read(tf, 'wasm', f);
  assert.equal(got.length, want.length);
  want.forEach((w, i) => {
    assert.deepEqual(got[i]!.shape, w.shape, `output ${i} shape`);
    const err = relativeError(got[i]!.values, w.values);
    assert.ok(err <= tolerance, `output ${i} ${w.shape.join('×')}: relative error ${err}`);
  });
}
