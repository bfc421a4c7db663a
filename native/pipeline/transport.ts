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
 */
export interface StageTransport {
  send(kind: TensorKind, step: number, mb: number, t: WireTensor): Promise<void>;
  recv(kind: TensorKind, step: number, mb: number): Promise<WireTensor>;
}

export function tensorKey(kind: TensorKind, step: number, mb: number): string {
  return `${kind}:${step}:${mb}`;
}

/**
 * Tensors that arrived before the schedule asked for them, and receives waiting for a tensor. Bounded by
 * the schedule itself: a neighbour sends only what its action list says, at most one step's worth.
 */
export class Mailbox {
  private readonly arrived = new Map<string, WireTensor>();
  private readonly waiting = new Map<
    string,
    { resolve: (t: WireTensor) => void; reject: (e: Error) => void }
  >();
  private failure: Error | null = null;

  deliver(kind: TensorKind, step: number, mb: number, t: WireTensor): void {
    const key = tensorKey(kind, step, mb);
    const w = this.waiting.get(key);
    if (w) {
      this.waiting.delete(key);
      w.resolve(t);
    } else this.arrived.set(key, t);
  }

  take(kind: TensorKind, step: number, mb: number): Promise<WireTensor> {
    if (this.failure) return Promise.reject(this.failure);
    const key = tensorKey(kind, step, mb);
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
