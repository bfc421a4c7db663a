import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSync } from '../../native/common/schemas.js';
import { OuterStep } from '../../native/pipeline/localSgd.js';
import type { StageExecutor } from '../../native/pipeline/stageExecutor.js';
import { ZmqRingLink } from '../../native/pipeline/zmqRingLink.js';

/** Weights a replica holds, as the outer step reads and writes them. */
class Weights {
  constructor(public w: Float32Array) {}
  readTrainable = () => Promise.resolve(Float32Array.from(this.w));
  writeTrainable = (flat: Float32Array) => void (this.w = Float32Array.from(flat));
}

async function ring(n: number): Promise<ZmqRingLink[]> {
  const links = await Promise.all(Array.from({ length: n }, () => ZmqRingLink.open()));
  links.forEach((l, r) => {
    const next = links[(r + 1) % n]!;
    l.connectNext(next.endpoint, next.publicKey);
  });
  return links;
}

describe('local SGD', () => {
  it('parses every-step and local:H[:LR[:MOMENTUM]], refusing anything else in words', () => {
    assert.deepEqual(parseSync('every-step'), { kind: 'every-step' });
    assert.deepEqual(parseSync('local:10'), {
      kind: 'local',
      every: 10,
      outerLr: 1,
      outerMomentum: 0,
    });
    assert.deepEqual(parseSync('local:500:0.7:0.9'), {
      kind: 'local',
      every: 500,
      outerLr: 0.7,
      outerMomentum: 0.9,
    });
    for (const bad of ['local:0', 'local:', 'local:x', 'local:5:0', 'local:5:1:1', 'async', ''])
      assert.throws(() => parseSync(bad), /sync must be every-step or local:H/, bad);
  });

  it('the outer step moves every replica to the anchor minus the averaged change (Nesterov momentum)', async () => {
    const links = await ring(3);
    try {
      const start = Float32Array.from([1, 2, 3, 4, 5]);
      const replicas = [0, 1, 2].map(() => new Weights(Float32Array.from(start)));
      const outer = replicas.map(
        (r, rank) =>
          new OuterStep(r as unknown as StageExecutor, links[rank]!, rank, 3, {
            lr: 0.5,
            momentum: 0.9,
          }),
      );
      await Promise.all(outer.map((o) => o.begin()));
      // Each replica "trains": moves by its own amount.
      replicas.forEach((r, j) => (r.w = r.w.map((x) => x - (j + 1) * 0.3)));
      await Promise.all(outer.map((o) => o.sync(1)));
      // Average change 0.6; velocity 0.6; Nesterov update 0.9·0.6 + 0.6 = 1.14; times lr 0.5 = 0.57.
      for (const r of replicas)
        r.w.forEach((x, i) => assert.ok(Math.abs(x - (start[i]! - 0.57)) < 1e-5, `${x}`));
      // Bit-identical on every replica: they go on from the same weights.
      assert.deepEqual(replicas[1]!.w, replicas[0]!.w);
      assert.deepEqual(replicas[2]!.w, replicas[0]!.w);
      // A second round carries the momentum: change 0 now, velocity 0.54, update 0.486 · 0.5.
      await Promise.all(outer.map((o) => o.sync(2)));
      replicas[0]!.w.forEach((x, i) =>
        assert.ok(Math.abs(x - (start[i]! - 0.57 - 0.243)) < 1e-5, `${x}`),
      );
    } finally {
      links.forEach((l) => l.close());
    }
  });
});
