import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  RING_CHUNK_VALUES,
  ringAllReduce,
  segmentStart,
} from '../../native/pipeline/ringAllReduce.js';
import { ZmqRingLink } from '../../native/pipeline/zmqRingLink.js';

/** n ranks' links over real ZeroMQ sockets on loopback, each connected to the next. */
async function ring(n: number, maxSegmentBytes?: number): Promise<ZmqRingLink[]> {
  const links = await Promise.all(
    Array.from({ length: n }, () => ZmqRingLink.open({ maxSegmentBytes })),
  );
  links.forEach((l, r) => {
    const next = links[(r + 1) % n]!;
    l.connectNext(next.endpoint, next.publicKey);
  });
  return links;
}

/** A seeded vector, different per rank, values of both signs and several magnitudes. */
function vector(rank: number, length: number): Float32Array {
  let x = (rank + 1) * 2654435761;
  return Float32Array.from({ length }, () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return (x / 2 ** 31 - 0.5) * 10 ** ((x % 5) - 2);
  });
}

describe('ring all-reduce over ZeroMQ', () => {
  it('equals a plain sum for 2–8 ranks, odd sizes and vectors shorter than the ring, whole or in pieces', async () => {
    for (const n of [2, 3, 4, 5, 8]) {
      const links = await ring(n);
      try {
        for (const [length, chunk] of [
          [0, RING_CHUNK_VALUES],
          [1, RING_CHUNK_VALUES],
          [n - 1, RING_CHUNK_VALUES],
          [7, RING_CHUNK_VALUES],
          [1001, RING_CHUNK_VALUES],
          [65_537, RING_CHUNK_VALUES],
          // Segments of several pieces, the last one short, and pieces of one value.
          [65_537, 1000],
          [3 * n + 1, 1],
        ] as const) {
          const data = links.map((_, r) => vector(r, length));
          const expected = new Float64Array(length);
          for (const d of data) for (let i = 0; i < length; i++) expected[i]! += d[i]!;
          await Promise.all(
            links.map((l, r) => ringAllReduce(data[r]!, r, n, l, length + chunk, chunk)),
          );
          for (let r = 0; r < n; r++)
            for (let i = 0; i < length; i++) {
              const tol = 1e-5 * Math.max(1, Math.abs(expected[i]!)) * n;
              assert.ok(
                Math.abs(data[r]![i]! - expected[i]!) <= tol,
                `${n} ranks, length ${length}, rank ${r}, element ${i}: ${data[r]![i]} vs ${expected[i]}`,
              );
            }
          // Every rank ends with the same values, bit for bit (the same sums travel round).
          for (let r = 1; r < n; r++) assert.deepEqual(data[r], data[0]);
        }
      } finally {
        for (const l of links) l.close();
      }
    }
  });

  it('cuts a vector into segments that differ by at most one value and cover it', () => {
    for (const [n, parts] of [
      [10, 3],
      [2, 5],
      [0, 4],
      [65_537, 8],
    ] as const) {
      const sizes = Array.from(
        { length: parts },
        (_, i) => segmentStart(n, parts, i + 1) - segmentStart(n, parts, i),
      );
      assert.equal(segmentStart(n, parts, parts), n);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${n} in ${parts}: ${sizes}`);
    }
  });

  it('refuses a message of another all-reduce, and a segment over the bound, in words', async () => {
    const [a, b] = await ring(2);
    try {
      // Rank 0 runs all-reduce 1 while rank 1 runs all-reduce 2: each refuses the other's message.
      const results = await Promise.allSettled([
        ringAllReduce(new Float32Array(4), 0, 2, a!, 1),
        ringAllReduce(new Float32Array(4), 1, 2, b!, 2),
      ]);
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.match(
          (r as PromiseRejectedResult).reason.message,
          /expected segment \d \(2 values\) from the previous rank, got all-reduce \d/,
        );
      }
      await assert.rejects(
        ringAllReduce(new Float32Array(4), 2, 2, a!),
        /rank 2 is not one of 0 … 1/,
      );
      await assert.rejects(
        ringAllReduce(new Float32Array(4), 0, 2, a!, 0, 0),
        /a ring message carries ≥ 1 value, got 0/,
      );
    } finally {
      a!.close();
      b!.close();
    }
    const [small, other] = await ring(2, 64);
    try {
      await assert.rejects(
        small!.send({ tag: 0, round: 0, segment: 0, offset: 0, data: new Float32Array(17) }),
        /a ring segment of 68 bytes is over 64/,
      );
    } finally {
      small!.close();
      other!.close();
    }
  });
});
