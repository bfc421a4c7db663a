import type * as tfc from '@tensorflow/tfjs-core';
import type { Tf } from '../backend/tfTypes.js';
import { readFloatsInto, tensorFromFloats } from '../backend/hostCopy.js';
import { buildModel } from '../model/build.js';
import { isDenseStack } from '../model/denseStack.js';
import type { ModelSpec } from '../model/spec.js';
import { lossValue } from './loss.js';
import {
  denseForward,
  denseInputGrad,
  denseLayerWeightGrads,
  denseWeightGrads,
  freeTape,
  type DenseParams,
  type DenseTape,
  type DenseWeightTape,
} from './denseBackward.js';
import { makeOptimizer, type OptimizerSpec } from './optimizer.js';

export interface StageSlice {
  /** Layers [start, end) of the model. */
  start: number;
  end: number;
}

export interface NamedWeight {
  name: string;
  shape: number[];
  data: Float32Array;
}

/**
 * One pipeline stage's compute: its slice of the model, the inputs it stashed per micro-batch, the
 * gradients it accumulates over a step, and its optimizer. TensorFlow.js keeps no tape between calls,
 * so B(mb) recomputes the stage's forward from the stashed input inside one gradient computation
 * (engine.gradients with the upstream gradient as dy). The last stage folds the loss into B, so its F
 * only stashes. Every tensor is disposed: memory does not grow with steps.
 */
export class StageExecutor {
  readonly isFirst: boolean;
  readonly isLast: boolean;
  private readonly model: ReturnType<typeof buildModel>;
  private readonly optimizer: ReturnType<typeof makeOptimizer>;
  private readonly stash = new Map<number, tfc.Tensor>();
  private accumulated: Map<string, tfc.Tensor> | null = null;
  /** The all-reduce's buffers, kept from step to step (hostCopy.ts says why). */
  private ringBuffer: Float32Array | null = null;
  private readonly bucketBuffers: Float32Array[] = [];
  private readonly vars: tfc.Variable[];
  /** Set when the stage is a stack of Dense layers: B then works from kept activations, no recompute. */
  private readonly dense: DenseParams[] | null;
  private readonly tapes = new Map<number, DenseTape>();
  /** Micro-batches whose B ran and whose W (zero-bubble schedules) has not: what W needs. */
  private readonly weightTapes = new Map<number, DenseWeightTape>();

  constructor(
    private readonly tf: Tf,
    readonly spec: ModelSpec,
    readonly slice: StageSlice,
    optimizer: OptimizerSpec,
  ) {
    this.isFirst = slice.start === 0;
    this.isLast = slice.end === spec.layers.length;
    this.model = buildModel(tf, spec, { start: slice.start, end: slice.end });
    this.vars = this.model.trainableWeights.map((w) => w.read() as tfc.Variable);
    this.optimizer = makeOptimizer(tf, optimizer);
    const layers = spec.layers.slice(slice.start, slice.end);
    this.dense = isDenseStack(layers)
      ? this.model.layers.map((l, i) => {
          const [kernel, bias] = l.trainableWeights.map((w) => w.read() as tfc.Variable);
          return {
            kernel: kernel!,
            bias: bias ?? null,
            activation: String(layers[i]!.config.activation ?? 'linear'),
          };
        })
      : null;
  }

  /** How B gets its gradients: from the kept activations (dense stacks) or by recomputing F. */
  get backwardMode(): 'stash' | 'recompute' {
    return this.dense ? 'stash' : 'recompute';
  }

  get weightCount(): number {
    return this.vars.reduce((n, v) => n + v.size, 0);
  }

  /** Weight arrays the stage's layers hold (getWeights' length), trainable or not. */
  get weightArrays(): number {
    return this.model.weights.length;
  }

  /** Trainable variables: what the optimizer keeps state for. */
  get variableCount(): number {
    return this.vars.length;
  }

  getWeights(): NamedWeight[] {
    return this.model.getWeights().map((w, i) => ({
      name: this.model.weights[i]!.originalName,
      shape: w.shape,
      data: w.dataSync() as Float32Array,
    }));
  }

  /** getWeights without a synchronous read-back, which a GPU backend (webgpu) cannot do in Node. */
  async readWeights(): Promise<NamedWeight[]> {
    const weights = this.model.getWeights();
    const data = await Promise.all(weights.map((w) => w.data()));
    return weights.map((w, i) => ({
      name: this.model.weights[i]!.originalName,
      shape: w.shape,
      data: data[i] as Float32Array,
    }));
  }

  setWeights(weights: { shape: number[]; data: Float32Array }[]): void {
    const current = this.model.weights;
    if (weights.length !== current.length)
      throw new Error(`stage expects ${current.length} weight arrays, got ${weights.length}`);
    const tensors = weights.map((w, i) => {
      const want = current[i]!.shape;
      if (w.shape.length !== want.length || w.shape.some((d, j) => d !== want[j])) {
        throw new Error(
          `weight ${current[i]!.originalName} has shape [${want.join(', ')}], got [${w.shape.join(', ')}]`,
        );
      }
      return this.tf.tensor(w.data, w.shape);
    });
    this.model.setWeights(tensors);
    tensors.forEach((t) => t.dispose());
  }

  /**
   * The optimizer's state (moments, step count; for Adam also its running β powers, which tfjs
   * would otherwise recompute as a power and round differently), read without a synchronous
   * read-back. With the weights it is all a stage needs to go on bit for bit.
   */
  async readOptimizerState(): Promise<NamedWeight[]> {
    const named = await this.optimizer.getWeights();
    const extra = adamPowers(this.optimizer);
    const all = [...named, ...extra.map(([name, v]) => ({ name, tensor: v }))];
    const data = await Promise.all(all.map((n) => n.tensor.data()));
    const out = all.map((n, i) => ({
      name: n.name,
      shape: n.tensor.shape,
      data: Float32Array.from(data[i]!),
    }));
    // saveIterations() makes a fresh scalar for 'iter'; the rest are the optimizer's own variables.
    named[0]?.tensor.dispose();
    return out;
  }

  /** Puts back what readOptimizerState read (same model, same optimizer). */
  async restoreOptimizerState(state: { name: string; shape: number[]; data: Float32Array }[]) {
    const powers = adamPowers(this.optimizer);
    const named = state.slice(0, state.length - powers.length);
    const tensors = named.map((w) => ({ name: w.name, tensor: this.tf.tensor(w.data, w.shape) }));
    await this.optimizer.setWeights(tensors);
    for (const t of tensors) t.tensor.dispose();
    powers.forEach(([, v], i) => {
      const w = state[named.length + i]!;
      const t = this.tf.tensor(w.data, w.shape);
      v.assign(t as tfc.Scalar);
      t.dispose();
    });
  }

  /** F(mb): stashes the input; returns the output for the next stage (the last stage returns null). */
  forward(mb: number, input: tfc.Tensor): tfc.Tensor | null {
    if (this.dense) {
      const { y, tape } = denseForward(this.tf, this.dense, input);
      this.tapes.set(mb, tape);
      // y is also in the tape (kept for B); the caller gets its own handle to dispose. The last stage
      // sends nothing: its B starts from the kept output.
      return this.isLast ? null : this.tf.clone(y);
    }
    this.stash.get(mb)?.dispose();
    this.stash.set(mb, input);
    if (this.isLast) return null;
    return this.tf.tidy(() => this.model.apply(input, { training: true }) as tfc.Tensor);
  }

  private accumulate(grads: tfc.Tensor[]): void {
    if (!this.accumulated) {
      this.accumulated = new Map(this.vars.map((v, i) => [v.name, grads[i]!]));
      return;
    }
    this.vars.forEach((v, i) => {
      const prev = this.accumulated!.get(v.name)!;
      this.accumulated!.set(v.name, this.tf.add(prev, grads[i]!));
      prev.dispose();
      grads[i]!.dispose();
    });
  }

  /**
   * B(mb) for a middle or first stage: recompute forward from the stash, backpropagate `dy`.
   * Returns the input gradient for the previous stage (null on the first stage). With
   * `deferWeights` (a schedule with W) a dense stage leaves the weight gradients to `weightGrad(mb)`;
   * a recomputing stage has them in the same autodiff call and accumulates them here anyway.
   */
  backward(mb: number, dy: tfc.Tensor, deferWeights = false): tfc.Tensor | null {
    if (this.dense) {
      const tape = this.tapes.get(mb);
      if (!tape)
        throw new Error(`B(${mb}) without F(${mb}): nothing stashed for micro-batch ${mb}`);
      this.tapes.delete(mb);
      return this.denseBackwardOf(mb, tape, dy, deferWeights);
    }
    const x = this.takeStash(mb);
    const xs = this.isFirst ? this.vars : [x, ...this.vars];
    const { value, grads } = this.tf
      .engine()
      .gradients(() => this.model.apply(x, { training: true }) as tfc.Tensor, xs, dy);
    value.dispose();
    x.dispose();
    const dx = this.isFirst ? null : grads[0]!;
    this.accumulate(this.isFirst ? grads : grads.slice(1));
    return dx;
  }

  /**
   * B(mb) on the last stage: loss of this micro-batch, scaled by its share of the mini-batch so the
   * accumulated gradient equals the full batch's mean-loss gradient. Returns the scaled loss (a
   * scalar the caller reads and disposes: reading it here would stall a GPU once per micro-batch)
   * and dx.
   */
  backwardLoss(
    mb: number,
    labels: tfc.Tensor,
    share: number,
    deferWeights = false,
  ): { loss: tfc.Scalar; dx: tfc.Tensor | null } {
    if (this.dense) {
      const tape = this.tapes.get(mb);
      if (!tape) throw new Error(`B(${mb}) without F(${mb}): nothing kept for micro-batch ${mb}`);
      this.tapes.delete(mb);
      // Only the loss is differentiated automatically, with respect to the kept outputs.
      const probs = tape.outputs.at(-1)!;
      const { value, grads } = this.tf
        .engine()
        .gradients(
          () => this.tf.mul(lossValue(this.tf, this.spec, probs, labels), share) as tfc.Scalar,
          [probs],
        );
      const dx = this.denseBackwardOf(mb, tape, grads[0]!, deferWeights);
      grads[0]!.dispose();
      return { loss: value, dx };
    }
    const x = this.takeStash(mb);
    const xs = this.isFirst ? this.vars : [x, ...this.vars];
    const { value, grads } = this.tf
      .engine()
      .gradients(
        () =>
          this.tf.mul(
            lossValue(
              this.tf,
              this.spec,
              this.model.apply(x, { training: true }) as tfc.Tensor,
              labels,
            ),
            share,
          ) as tfc.Scalar,
        xs,
      );
    x.dispose();
    const dx = this.isFirst ? null : grads[0]!;
    this.accumulate(this.isFirst ? grads : grads.slice(1));
    return { loss: value, dx };
  }

  /** A dense stack's backward from the kept tape: both halves now, or the weights kept for W. */
  private denseBackwardOf(
    mb: number,
    tape: DenseTape,
    dy: tfc.Tensor,
    deferWeights: boolean,
  ): tfc.Tensor | null {
    const { dx, kept } = denseInputGrad(this.tf, this.dense!, tape, dy, !this.isFirst);
    if (deferWeights) this.weightTapes.set(mb, kept);
    else this.accumulate(denseWeightGrads(this.tf, this.dense!, kept));
    return dx;
  }

  /**
   * W(mb): the weight gradients of a micro-batch whose B ran with `deferWeights`, accumulated. A stage
   * that recomputes did them in B: nothing to do.
   */
  weightGrad(mb: number): void {
    if (!this.dense) return;
    const kept = this.weightTapes.get(mb);
    if (!kept)
      throw new Error(`W(${mb}) without B(${mb}): no input gradient kept for micro-batch ${mb}`);
    this.weightTapes.delete(mb);
    this.accumulate(denseWeightGrads(this.tf, this.dense, kept));
  }

  /** Forward only (validation): the stage's output, nothing stashed. */
  infer(input: tfc.Tensor): tfc.Tensor {
    return this.tf.tidy(() => this.model.apply(input, { training: false }) as tfc.Tensor);
  }

  /**
   * ALLREDUCE: the gradients accumulated here, flattened in variable order, summed by `sum` over the
   * stage's replicas (in place), and put back, so that STEP applies the whole mini-batch's gradient.
   * A replica that had no micro-batch this step contributes zeros.
   */
  async allReduceGradients(sum: (flat: Float32Array) => Promise<void>): Promise<void> {
    const acc = this.accumulated;
    // One buffer for every step's gradients: a fresh one of this size cost up to 77 ms a step here.
    const flat = (this.ringBuffer ??= new Float32Array(this.weightCount));
    if (acc)
      await readFloatsInto(
        this.tf,
        this.vars.map((v) => acc.get(v.name)!),
        flat,
      );
    else flat.fill(0);
    await sum(flat);
    if (acc) for (const g of acc.values()) g.dispose();
    const summed = this.tensorsOf(flat, this.vars);
    this.accumulated = new Map(this.vars.map((v, i) => [v.name, summed[i]!]));
  }

  /** The trainable weights, flattened in variable order (local SGD's outer step works on them). */
  async readTrainable(): Promise<Float32Array> {
    const flat = new Float32Array(this.weightCount);
    await readFloatsInto(this.tf, this.vars, flat);
    return flat;
  }

  /** Sets the trainable weights from readTrainable's layout. */
  writeTrainable(flat: Float32Array): void {
    this.tensorsOf(flat, this.vars).forEach((t, i) => {
      this.vars[i]!.assign(t);
      t.dispose();
    });
  }

  /**
   * `flat` cut back into one tensor per variable of `vars`, in order, each holding its own values
   * (callers go on writing theirs: the ring's buffer, the outer step's anchor).
   */
  private tensorsOf(flat: Float32Array, vars: tfc.Variable[]): tfc.Tensor[] {
    let offset = 0;
    return vars.map((v) => {
      const t = tensorFromFloats(this.tf, flat.subarray(offset, offset + v.size), v.shape);
      offset += v.size;
      return t;
    });
  }

  /**
   * Whether ALLREDUCE can overlap the ring with the last micro-batch's weight gradients: a dense stack
   * computes them layer by layer (`allReduceBuckets`); a recomputing stage has them all at once.
   */
  get bucketsAllReduce(): boolean {
    return this.dense !== null;
  }

  /**
   * ALLREDUCE in buckets (DDP's, Horovod's tensor fusion): from the last layer back, runs of layers of
   * at least BUCKET_BYTES of gradients. If B(mb) left its weight gradients for later (the step's last
   * micro-batch), each bucket's are computed, added to what earlier micro-batches accumulated and
   * handed to `sum` at once, and the next bucket is computed while the ring carries this one. Every
   * replica calls this with the same buckets, in the same order (one with no micro-batch sums zeros).
   */
  async allReduceBuckets(
    mb: number | null,
    sum: (flat: Float32Array, bucket: number) => Promise<void>,
  ): Promise<void> {
    const dense = this.dense!;
    const kept = mb === null ? null : this.weightTapes.get(mb);
    if (mb !== null && !kept)
      throw new Error(`ALLREDUCE after B(${mb}) kept no weight gradients for micro-batch ${mb}`);
    if (mb !== null) this.weightTapes.delete(mb);
    // Each layer's variables (kernel, and bias if any), in the order of this.vars.
    const first: number[] = [];
    dense.reduce((n, l, i) => ((first[i] = n), n + (l.bias ? 2 : 1)), 0);
    const acc = this.accumulated;
    const reduced = new Map<string, tfc.Tensor>();
    let ring: Promise<void> = Promise.resolve();
    let bucket = 0;
    let pending: { vars: tfc.Variable[]; sums: tfc.Tensor[] } = { vars: [], sums: [] };
    const flush = async () => {
      const { vars, sums } = pending;
      pending = { vars: [], sums: [] };
      const b = bucket++;
      // Each bucket its buffer, kept for the next steps (buckets are the same every step).
      const size = sums.reduce((n, t) => n + t.size, 0);
      const flat =
        this.bucketBuffers[b]?.length === size
          ? this.bucketBuffers[b]!
          : (this.bucketBuffers[b] = new Float32Array(size));
      await readFloatsInto(this.tf, sums, flat);
      this.tf.dispose(sums);
      // One all-reduce at a time on the ring (its messages must not interleave), in bucket order.
      ring = ring.then(async () => {
        await sum(flat, b);
        this.tensorsOf(flat, vars).forEach((t, i) => reduced.set(vars[i]!.name, t));
      });
    };
    try {
      for (let i = dense.length - 1; i >= 0; i--) {
        const vars = this.vars.slice(first[i]!, first[i]! + (dense[i]!.bias ? 2 : 1));
        const grads = kept ? denseLayerWeightGrads(this.tf, dense[i]!, kept, i) : null;
        vars.forEach((v, j) => {
          const prev = acc?.get(v.name);
          const g = grads?.[j];
          pending.sums.push(
            prev && g
              ? this.tf.add(prev, g)
              : (g ?? (prev ? this.tf.clone(prev) : this.tf.zeros(v.shape))),
          );
          if (prev && g) g.dispose();
          pending.vars.push(v);
        });
        const bytes = pending.vars.reduce((n, v) => n + v.size * 4, 0);
        if (bytes >= BUCKET_BYTES || i === 0) await flush();
      }
    } finally {
      if (kept) freeTape(kept);
      if (acc) for (const g of acc.values()) g.dispose();
      this.accumulated = null;
    }
    await ring;
    this.accumulated = new Map(this.vars.map((v) => [v.name, reduced.get(v.name)!]));
  }

  /** STEP: apply the accumulated gradients once, then forget them. */
  step(): void {
    if (!this.accumulated) return;
    this.optimizer.applyGradients(
      [...this.accumulated].map(([name, tensor]) => ({ name, tensor })),
    );
    for (const g of this.accumulated.values()) g.dispose();
    this.accumulated = null;
  }

  private takeStash(mb: number): tfc.Tensor {
    const x = this.stash.get(mb);
    if (!x) throw new Error(`B(${mb}) without F(${mb}): nothing stashed for micro-batch ${mb}`);
    this.stash.delete(mb);
    return x;
  }

  dispose(): void {
    for (const t of this.stash.values()) t.dispose();
    this.stash.clear();
    for (const tape of this.tapes.values())
      for (const t of new Set([...tape.inputs, ...tape.outputs])) t.dispose();
    this.tapes.clear();
    for (const kept of this.weightTapes.values()) {
      for (const t of kept.dzs) t.dispose();
      for (const t of new Set([...kept.tape.inputs, ...kept.tape.outputs])) t.dispose();
    }
    this.weightTapes.clear();
    if (this.accumulated) for (const g of this.accumulated.values()) g.dispose();
    this.accumulated = null;
    this.optimizer.dispose();
    this.model.dispose();
  }
}

/** The least gradient bytes a bucket of `allReduceBuckets` holds (the last layers' may be more). */
const BUCKET_BYTES = 4 * 2 ** 20;

/** Adam's running products β₁ᵗ and β₂ᵗ (tfjs keeps them as variables; other optimizers have none). */
function adamPowers(optimizer: unknown): [string, tfc.Variable][] {
  const o = optimizer as { accBeta1?: tfc.Variable; accBeta2?: tfc.Variable };
  return o.accBeta1 && o.accBeta2
    ? [
        ['adam/accBeta1', o.accBeta1],
        ['adam/accBeta2', o.accBeta2],
      ]
    : [];
}
