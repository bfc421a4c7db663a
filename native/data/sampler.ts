import { mixSeed, mulberry32 } from '../util/random.js';

/**
 * Which samples each step trains on: a seeded Fisher–Yates shuffle per epoch. Every stage computes the
 * same order from (seed, epoch) alone, so the first stage's inputs and the last stage's labels agree
 * without labels ever crossing the network.
 */
export class EpochSampler {
  readonly stepsPerEpoch: number;

  constructor(
    readonly datasetSize: number,
    readonly batchSize: number,
    readonly seed: number,
    readonly shuffle = true,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new Error(`batch size must be a positive integer, got ${batchSize}`);
    if (datasetSize < batchSize)
      throw new Error(
        `the dataset has ${datasetSize} samples, fewer than one batch of ${batchSize}`,
      );
    // The last partial batch is dropped, so every step has the same micro-batch sizes.
    this.stepsPerEpoch = Math.floor(datasetSize / batchSize);
  }

  private orderCache: { epoch: number; order: Uint32Array } | null = null;

  order(epoch: number): Uint32Array {
    if (this.orderCache?.epoch === epoch) return this.orderCache.order;
    const order = new Uint32Array(this.datasetSize);
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (this.shuffle) {
      const rand = mulberry32(mixSeed(this.seed, epoch));
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
      }
    }
    this.orderCache = { epoch, order };
    return order;
  }

  /** Sample indices of one step's mini-batch. */
  batch(epoch: number, step: number): Uint32Array {
    if (step < 0 || step >= this.stepsPerEpoch)
      throw new Error(`step ${step} is outside epoch of ${this.stepsPerEpoch} steps`);
    return this.order(epoch).subarray(step * this.batchSize, (step + 1) * this.batchSize);
  }

  /** The indices of micro-batch mb of m within a step (sizes differ by at most one). */
  microBatch(epoch: number, step: number, mb: number, m: number): Uint32Array {
    const b = this.batch(epoch, step);
    const [from, to] = microBatchRange(b.length, mb, m);
    return b.subarray(from, to);
  }
}

export function microBatchRange(batch: number, mb: number, m: number): [number, number] {
  if (mb < 0 || mb >= m) throw new Error(`micro-batch ${mb} out of ${m}`);
  const base = Math.floor(batch / m);
  const extra = batch % m;
  const from = mb * base + Math.min(mb, extra);
  return [from, from + base + (mb < extra ? 1 : 0)];
}
