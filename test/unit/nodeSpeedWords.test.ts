import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { speedWords } from '../../renderer/components/nodeFacts.js';

describe('a machine’s measured speed in words', () => {
  it('says a single-threaded backend’s speed per core and for the machine’s cores', () => {
    assert.equal(speedWords('wasm', 29.1, 16), '29.1 GFLOP/s a core, 466 GFLOP/s on 16 cores');
    assert.equal(speedWords('cpu', 0.7, 2), '0.7 GFLOP/s a core, 1.4 GFLOP/s on 2 cores');
  });
  it('says a GPU’s or multi-threaded backend’s speed once', () => {
    assert.equal(speedWords('webgpu', 812, 16), '812 GFLOP/s');
    assert.equal(speedWords('tensorflow', 140, 16), '140 GFLOP/s');
    assert.equal(speedWords('wasm', 29.1, 1), '29.1 GFLOP/s');
  });
});
