import type { Dtype, TensorKind } from '../common/schemas.js';

/** What moves between neighbouring stages: activations forward, gradients back (common/names.ts). */
export type { TensorKind };

export interface WireTensor {
  shape: number[];
  dtype: Dtype;
  data: Float32Array | Int32Array;
}

/**
 * A stage's link to its neighbours. `send` resolves once the tensor is handed over (it may wait:
 * that is the backpressure); `recv` resolves when the neighbour's tensor for (kind, step, mb) is here.
 * `chunk` is the chunk that sends, or the one that receives (an interleaved stage holds several; the
 * transport knows which neighbour and chunk the next or previous virtual stage is).
 */
export interface StageTransport {
  send(kind: TensorKind, step: number, mb: number, t: WireTensor, chunk?: number): Promise<void>;
  recv(kind: TensorKind, step: number, mb: number, chunk?: number): Promise<WireTensor>;
}

export function tensorKey(kind: TensorKind, step: number, mb: number, chunk = 0): string {
  return `${kind}:${chunk}:${step}:${mb}`;
}

/**
 * Tensors that arrived before the schedule asked for them, and receives waiting for a tensor. A neighbour
 * that follows the schedule sends at most a step's worth ahead (and a validation pass's activations);
 * `limit` holds a neighbour that does not to that: past it, `deliver` refuses the tensor.
 */
export class Mailbox {
  /** Most tensors held unclaimed at once. */
  limit = Infinity;
  private readonly arrived = new Map<string, WireTensor>();
  private readonly waiting = new Map<
    string,
    { resolve: (t: WireTensor) => void; reject: (e: Error) => void }
  >();
  private failure: Error | null = null;

  /** Hands a tensor to its receive, or keeps it; false when it was refused (over `limit`). */
  deliver(kind: TensorKind, step: number, mb: number, t: WireTensor, chunk = 0): boolean {
    // After a failure nothing will ever take it.
    if (this.failure) return true;
    const key = tensorKey(kind, step, mb, chunk);
    const w = this.waiting.get(key);
    if (w) {
      this.waiting.delete(key);
      w.resolve(t);
      return true;
    }
    if (!this.arrived.has(key) && this.arrived.size >= this.limit) return false;
    this.arrived.set(key, t);
    return true;
  }

  take(kind: TensorKind, step: number, mb: number, chunk = 0): Promise<WireTensor> {
    if (this.failure) return Promise.reject(this.failure);
    const key = tensorKey(kind, step, mb, chunk);
    const t = this.arrived.get(key);
    if (t) {
      this.arrived.delete(key);
      return Promise.resolve(t);
    }
    return new Promise((resolve, reject) => this.waiting.set(key, { resolve, reject }));
  }

  /** Fails every pending and future receive (a neighbour died, the run was stopped). */
  fail(err: Error): void {
    this.failure = err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
    this.arrived.clear();
  }

  get pending(): number {
    return this.arrived.size;
  }
}
