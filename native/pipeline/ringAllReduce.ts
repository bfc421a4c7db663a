/**
 * Ring all-reduce (Baidu's, Horovod's): n ranks each hold a vector; afterwards each holds the
 * element-wise sum. The vector is cut into n segments; in n − 1 reduce-scatter rounds each rank sends
 * one segment to the next rank and adds the one it receives from the previous rank, so that rank r
 * ends up with the whole sum of segment r + 1; in n − 1 all-gather rounds the summed segments go
 * round the ring. Every rank sends and receives 2(n − 1)/n of the vector, whatever n: the bandwidth
 * term NCCL's "bus bandwidth" normalises by.
 *
 * The ring only needs a link to the next rank and from the previous one (`RingLink`); messages on a
 * link arrive in order (ZeroMQ keeps a pair's order), and each carries its round and segment, checked
 * on arrival, so a confused peer is an error, never a wrong sum.
 */

/** What travels between neighbours: which all-reduce, round and segment, and the values. */
export interface RingMessage {
  /** The all-reduce this belongs to (a step's bucket, say): a stale message is refused. */
  tag: number;
  /** 0 … n − 2: reduce-scatter; n − 1 … 2n − 3: all-gather. */
  round: number;
  segment: number;
  data: Float32Array;
}

export interface RingLink {
  /** Sends to the next rank; resolves once the link took it (backpressure, not delivery). */
  send(m: RingMessage): Promise<void>;
  /** The next message from the previous rank. */
  recv(): Promise<RingMessage>;
}

/** Where segment i of a vector of n elements cut in `parts` starts (segments differ by at most 1). */
export function segmentStart(n: number, parts: number, i: number): number {
  return Math.floor((i * n) / parts);
}

/**
 * Sums `data` over every rank of the ring, in place. Every rank must call it with the same `tag`, the
 * same length, and its own `rank` of `size`. Vectors shorter than the ring work (some segments are
 * empty, and still go round, so every rank stays in step).
 */
export async function ringAllReduce(
  data: Float32Array,
  rank: number,
  size: number,
  link: RingLink,
  tag = 0,
): Promise<void> {
  if (!(Number.isInteger(size) && size >= 1)) throw new Error(`a ring needs ≥ 1 rank, got ${size}`);
  if (!(Number.isInteger(rank) && rank >= 0 && rank < size))
    throw new Error(`rank ${rank} is not one of 0 … ${size - 1}`);
  if (size === 1) return;
  const n = data.length;
  const seg = (i: number) => {
    const k = ((i % size) + size) % size;
    return { k, from: segmentStart(n, size, k), to: segmentStart(n, size, k + 1) };
  };
  const expect = async (round: number, segment: number, length: number) => {
    const m = await link.recv();
    if (m.tag !== tag || m.round !== round || m.segment !== segment || m.data.length !== length)
      throw new Error(
        `all-reduce ${tag}, round ${round}: expected segment ${segment} (${length} values) from the previous rank, got all-reduce ${m.tag} round ${m.round} segment ${m.segment} (${m.data.length} values)`,
      );
    return m.data;
  };
  // Reduce-scatter: after round s, segment (rank − s − 1) holds the sum over s + 2 ranks.
  for (let s = 0; s < size - 1; s++) {
    const out = seg(rank - s);
    const inn = seg(rank - s - 1);
    const [, got] = await Promise.all([
      link.send({ tag, round: s, segment: out.k, data: data.slice(out.from, out.to) }),
      expect(s, inn.k, inn.to - inn.from),
    ]);
    for (let i = 0; i < got.length; i++) data[inn.from + i]! += got[i]!;
  }
  // All-gather: rank r holds the whole sum of segment r + 1; pass the sums round.
  for (let s = 0; s < size - 1; s++) {
    const round = size - 1 + s;
    const out = seg(rank + 1 - s);
    const inn = seg(rank - s);
    const [, got] = await Promise.all([
      link.send({ tag, round, segment: out.k, data: data.slice(out.from, out.to) }),
      expect(round, inn.k, inn.to - inn.from),
    ]);
    data.set(got, inn.from);
  }
}
