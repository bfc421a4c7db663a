import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  joinOptimizerState,
  splitOptimizerState,
} from '../../native/pipeline/optimizerStateSlices.js';
import type { NamedArray } from '../../native/pipeline/checkpointFile.js';

const arr = (name: string, v: number): NamedArray => ({
  name,
  shape: [1],
  data: Float32Array.of(v),
});
const names = (xs: NamedArray[]) => xs.map((x) => x.name);

describe('optimizer state re-sliced for another layout', () => {
  it('adam: two stages of 2 and 1 variables become one stage of 3 and back', () => {
    const stageA = [
      arr('iter', 7),
      arr('a/m', 1),
      arr('b/m', 2),
      arr('a/v', 3),
      arr('b/v', 4),
      arr('β1', 5),
      arr('β2', 6),
    ];
    const stageB = [arr('iter', 7), arr('c/m', 8), arr('c/v', 9), arr('β1', 5), arr('β2', 6)];
    const a = splitOptimizerState('adam', stageA);
    const b = splitOptimizerState('adam', stageB);
    assert.deepEqual(a.perVariable.map(names), [
      ['a/m', 'a/v'],
      ['b/m', 'b/v'],
    ]);
    const all = [...a.perVariable, ...b.perVariable];
    assert.deepEqual(names(joinOptimizerState('adam', a, all)), [
      'iter',
      'a/m',
      'b/m',
      'c/m',
      'a/v',
      'b/v',
      'c/v',
      'β1',
      'β2',
    ]);
    assert.deepEqual(names(joinOptimizerState('adam', a, all.slice(1))), [
      'iter',
      'b/m',
      'c/m',
      'b/v',
      'c/v',
      'β1',
      'β2',
    ]);
  });

  it('momentum keeps one array a variable, sgd none; a state of the wrong length is refused', () => {
    const m = splitOptimizerState('momentum', [arr('iter', 1), arr('a/acc', 2), arr('b/acc', 3)]);
    assert.deepEqual(names(joinOptimizerState('momentum', m, m.perVariable.slice(1))), [
      'iter',
      'b/acc',
    ]);
    const s = splitOptimizerState('sgd', [arr('iter', 4)]);
    assert.deepEqual(names(joinOptimizerState('sgd', s, [])), ['iter']);
    assert.throws(
      () => splitOptimizerState('adam', [arr('iter', 1), arr('a/m', 2)]),
      /not an optimizer state of adam/,
    );
    assert.throws(
      () => splitOptimizerState('sgd', [arr('iter', 1), arr('x', 2)]),
      /not an optimizer state of sgd/,
    );
  });
});
