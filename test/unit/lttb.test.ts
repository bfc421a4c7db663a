import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { debiasedEma, EmaCache } from '../../renderer/charts/ema.js';
import { lowerBound, lttbIndices } from '../../renderer/charts/lttb.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('LTTB', () => {
  it('returns every point when the threshold is at least the length', () => {
    assert.deepEqual(lttbIndices([0, 1, 2], [5, 6, 7], 3), [0, 1, 2]);
    assert.deepEqual(lttbIndices([0, 1, 2], [5, 6, 7], 10), [0, 1, 2]);
  });

  it('keeps the first and last point and answers exactly threshold points', () => {
    const xs = range(1000);
    const ys = xs.map((x) => Math.sin(x / 50));
    const out = lttbIndices(xs, ys, 100);
    assert.equal(out.length, 100);
    assert.equal(out[0], 0);
    assert.equal(out.at(-1), 999);
    for (let i = 1; i < out.length; i++) assert.ok(out[i]! > out[i - 1]!, 'indices ascend');
  });

  it('keeps a lone spike that every-nth sampling would miss', () => {
    const xs = range(1000);
    const ys = xs.map((x) => (x === 537 ? 100 : 1));
    assert.ok(lttbIndices(xs, ys, 50).includes(537));
  });

  it('matches a hand-worked example', () => {
    // 10 points into 4: buckets [1..4], [5..8]; the first picks the point making the largest triangle
    // with point 0 and the next bucket's average, i.e. the peak at x=3; the second the dip at x=6.
    const xs = range(10);
    const ys = [0, 1, 2, 9, 1, 1, -5, 1, 1, 0];
    assert.deepEqual(lttbIndices(xs, ys, 4), [0, 3, 6, 9]);
  });

  it('skips non-finite values', () => {
    const out = lttbIndices([0, 1, 2, 3], [1, NaN, 2, Infinity], 10);
    assert.deepEqual(out, [0, 2]);
  });

  it('works on a sub-range (zoom)', () => {
    const xs = range(100);
    const out = lttbIndices(xs, xs, 5, 20, 40);
    assert.equal(out[0], 20);
    assert.equal(out.at(-1), 39);
    assert.equal(out.length, 5);
  });

  it('lowerBound finds the first x at or past a value', () => {
    assert.equal(lowerBound([0, 2, 4, 6], 3), 2);
    assert.equal(lowerBound([0, 2, 4, 6], 4), 2);
    assert.equal(lowerBound([0, 2, 4, 6], 7), 4);
    assert.equal(lowerBound([0, 2, 4, 6], -1), 0);
  });
});

describe('debiased EMA (TensorBoard smoothing)', () => {
  it('weight 0 is the raw series', () => {
    assert.deepEqual([...debiasedEma([3, 1, 4], 0)], [3, 1, 4]);
  });

  it('is debiased: a constant series stays constant from the first point', () => {
    for (const v of debiasedEma([5, 5, 5, 5], 0.9)) assert.ok(Math.abs(v - 5) < 1e-12);
  });

  it('matches the formula on a known input', () => {
    const out = debiasedEma([1, 0], 0.5);
    // step 1: 0.5*1 / (1-0.5) = 1; step 2: (0.25 + 0) / (1 - 0.25) = 1/3
    assert.ok(Math.abs(out[0]! - 1) < 1e-12);
    assert.ok(Math.abs(out[1]! - 1 / 3) < 1e-12);
  });

  it('passes NaN through without poisoning later points', () => {
    const out = debiasedEma([2, NaN, 2], 0.6);
    assert.ok(Number.isNaN(out[1]));
    assert.ok(Math.abs(out[2]! - 2) < 1e-12);
  });

  it('EmaCache extended point by point equals the whole-series EMA, and restarts on a new weight', () => {
    const ys = Array.from({ length: 500 }, (_, i) => Math.exp(-i / 100) + ((i * 7919) % 13) / 50);
    ys[17] = NaN;
    const cache = new EmaCache();
    let out: Float64Array = new Float64Array(0);
    for (let n = 1; n <= ys.length; n += 37) out = cache.update(ys, 0.9, n);
    out = cache.update(ys, 0.9, ys.length);
    const whole = debiasedEma(ys, 0.9);
    for (let i = 0; i < ys.length; i++)
      assert.ok(Object.is(out[i], whole[i]) || Math.abs(out[i]! - whole[i]!) < 1e-12, `index ${i}`);
    const other = cache.update(ys, 0.5, ys.length);
    assert.ok(Math.abs(other[499]! - debiasedEma(ys, 0.5)[499]!) < 1e-12);
  });
});
