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

/** What travels between neighbours: which all-reduce, round and segment, and a piece of its values. */
export interface RingMessage {
  /** The all-reduce this belongs to (a step's bucket, say): a stale message is refused. */
  tag: number;
  /** 0 … n − 2: reduce-scatter; n − 1 … 2n − 3: all-gather. */
  round: number;
  segment: number;
  /** Where in the segment `data` starts: a segment travels in pieces of at most `chunkValues`. */
  offset: number;
  data: Float32Array;
}

export interface RingLink {
  /** Sends to the next rank; resolves once the link took it (backpressure, not delivery). */
  send(m: RingMessage): Promise<void>;
  /** The next message from the previous rank. */
  recv(): Promise<RingMessage>;
}

/**
 * Values a ring message carries at most (1 MiB). A segment goes in pieces, so that encrypting,
 * carrying, decrypting and adding one piece overlap with the next (NCCL pipelines its ring the same
 * way): sent whole, a 16 MiB segment was encrypted, then carried, then decrypted and only then added,
 * and a 33 MB gradient took 140–200 ms round two ranks on one computer where its bytes at the
 * loopback's measured rate take 65.
 */
export const RING_CHUNK_VALUES = 256 * 1024;

/** Where segment i of a vector of n elements cut in `parts` starts (segments differ by at most 1). */
export function segmentStart(n: number, parts: number, i: number): number {
  return Math.floor((i * n) / parts);
}

/** The pieces [from, to) of `chunk` values at most that [start, end) travels in; one, empty, for none. */
function piecesOf(start: number, end: number, chunk: number): [number, number][] {
  const out: [number, number][] = [];
  for (let a = start; ; a += chunk) {
    const b = Math.min(end, a + chunk);
    out.push([a, b]);
    if (b >= end) return out;
  }
}

/**
 * Sums `data` over every rank of the ring, in place. Every rank must call it with the same `tag`, the
 * same length and `chunkValues`, and its own `rank` of `size`. Vectors shorter than the ring work
 * (some segments are empty, and still go round, so every rank stays in step).
 */
export async function ringAllReduce(
  data: Float32Array,
  rank: number,
  size: number,
  link: RingLink,
  tag = 0,
  chunkValues = RING_CHUNK_VALUES,
): Promise<void> {
  if (!(Number.isInteger(size) && size >= 1)) throw new Error(`a ring needs ≥ 1 rank, got ${size}`);
  if (!(Number.isInteger(rank) && rank >= 0 && rank < size))
    throw new Error(`rank ${rank} is not one of 0 … ${size - 1}`);
  if (!(Number.isInteger(chunkValues) && chunkValues >= 1))
    throw new Error(`a ring message carries ≥ 1 value, got ${chunkValues}`);
  if (size === 1) return;
  const n = data.length;
  const seg = (i: number) => {
    const k = ((i % size) + size) % size;
    return { k, from: segmentStart(n, size, k), to: segmentStart(n, size, k + 1) };
  };
  const expect = async (round: number, segment: number, offset: number, length: number) => {
    const m = await link.recv();
    if (
      m.tag !== tag ||
      m.round !== round ||
      m.segment !== segment ||
      m.offset !== offset ||
      m.data.length !== length
    )
      throw new Error(
        `all-reduce ${tag}, round ${round}, value ${offset}: expected segment ${segment} (${length} values) from the previous rank, got all-reduce ${m.tag} round ${m.round} segment ${m.segment} at value ${m.offset} (${m.data.length} values)`,
      );
    return m.data;
  };
  /**
   * One round: segment `out` leaves piece by piece while segment `inn` arrives piece by piece, each
   * piece applied as it comes.
   */
  const exchange = async (
    round: number,
    out: ReturnType<typeof seg>,
    inn: ReturnType<typeof seg>,
    apply: (at: number, got: Float32Array) => void,
  ) => {
    const sent = (async () => {
      for (const [a, b] of piecesOf(out.from, out.to, chunkValues))
        await link.send({
          tag,
          round,
          segment: out.k,
          offset: a - out.from,
          data: data.slice(a, b),
        });
    })();
    try {
      for (const [a, b] of piecesOf(inn.from, inn.to, chunkValues))
        apply(a, await expect(round, inn.k, a - inn.from, b - a));
    } catch (err) {
      // A failed receive ends the round now, with its own error: the sends may wait on a peer that
      // stopped reading.
      sent.catch(() => {});
      throw err;
    }
    await sent;
  };
  // Reduce-scatter: after round s, segment (rank − s − 1) holds the sum over s + 2 ranks.
  for (let s = 0; s < size - 1; s++)
    await exchange(s, seg(rank - s), seg(rank - s - 1), (at, got) => {
      for (let i = 0; i < got.length; i++) data[at + i]! += got[i]!;
    });
  // All-gather: rank r holds the whole sum of segment r + 1; pass the sums round.
  for (let s = 0; s < size - 1; s++)
    await exchange(size - 1 + s, seg(rank + 1 - s), seg(rank - s), (at, got) => data.set(got, at));
}
