import {
  BYTES_PER_ELEMENT,
  LOSS_KERNELS,
  OPTIMIZER_KERNELS_PER_VARIABLE,
  optimizerStateBytes,
  optimizerStepFlops,
  type OptimizerName,
} from '../model/cost.js';
import type { Link, Machine } from './cluster.js';
import { inFlightMicrobatches, type ScheduleKind } from './schedule.js';

/** The per-sample figures of one layer the planner needs (a subset of model/cost's LayerCost). */
export interface PlannerLayer {
  forwardFlops: number;
  backwardFlops: number;
  activationBytes: number;
  stashBytes: number;
  weightBytes: number;
  trainableParams: number;
  params: number;
  /**
   * False for layers the runtime cannot backpropagate from kept activations (anything but Dense with a
   * standard activation): a stage holding one, unless it is the last, recomputes its forward in B.
   */
  keepsActivations?: boolean;
  /** Kernels per micro-batch (model/cost's LayerCost.kernels); absent: none counted. */
  kernels?: { forward: number; backward: number };
  /** Trainable weight tensors; absent: none counted. */
  variables?: number;
  /** Elements a pooling's backward writes per sample (LayerCost.poolGradElements); absent: 0. */
  poolGradElements?: number;
  /** Elements per sample of its elementwise kernels (LayerCost.elementwise); absent: none. */
  elementwise?: { forward: number; backward: number };
  /** LayerCost.inputGradFlops; absent: 0. */
  inputGradFlops?: number;
  /** LayerCost.packedParams; absent: 0. */
  packedParams?: number;
  /** LayerCost.slicedParams; absent: 0. */
  slicedParams?: number;
  /** LayerCost.gatherElements; absent: 0. */
  gatherElements?: number;
  /** LayerCost.rowProducts: its FLOPs go at each product's rate; absent: at the combined rate. */
  rowProducts?: boolean;
}

/** Everything that fixes the cost of a stage, apart from its layers, machine and position. */
export interface PartitionProblem {
  layers: PlannerLayer[];
  /** One sample of the model input (what stage 0 reads and stashes). */
  inputBytes: number;
  machines: Machine[];
  /** The link between machines i and j (indices into machines). */
  link(i: number, j: number): Link;
  batch: number;
  microbatches: number;
  schedule: ScheduleKind;
  optimizer: OptimizerName;
}

export interface MemoryBreakdown {
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  total: number;
}

/**
 * Prefix sums over layers, so any stage [start, end) costs O(1) to evaluate: the DP looks at
 * O(stages × layers²) of them.
 */
export class StageCoster {
  readonly n: number;
  readonly microbatchSize: number;
  /** Prefix sums of forward + backward FLOPs per sample. */
  private readonly flops: Float64Array;
  /** Bytes one micro-batch sends after layer i (activations forward, gradients back). */
  readonly boundaryBytes: Float64Array;
  private readonly fwd: Float64Array;
  /**
   * Prefix sums per sample of the layers whose products go by the micro-batch's rows
   * (PlannerLayer.rowProducts), split by product: the forward, the weight gradient (what the
   * backward does beyond a forward's worth: dW = xᵀ·dy) and the rest of the backward (the input
   * gradient and the layer's own elementwise backward), each costed at its product's rate. Other
   * layers' FLOPs (`flops` less these) go at the combined rate.
   */
  private readonly rowForward: Float64Array;
  private readonly rowWeightGrad: Float64Array;
  private readonly rowInputGrad: Float64Array;
  /** The weight gradient of the other layers (for W's share). */
  private readonly otherWeightGrad: Float64Array;
  /** What a first stage skips (skippedByFirst) of the row-product layers. */
  private readonly skippedRowByFirst: Float64Array;
  private readonly weights: Float64Array;
  private readonly trainable: Float64Array;
  private readonly stash: Float64Array;
  private readonly params: Float64Array;
  /** Prefix counts of layers that force a forward recompute (see PlannerLayer.keepsActivations). */
  readonly recomputing: Float64Array;
  private readonly kernelsF: Float64Array;
  private readonly kernelsB: Float64Array;
  private readonly variables: Float64Array;
  private readonly poolGrad: Float64Array;
  private readonly elementsF: Float64Array;
  private readonly elementsB: Float64Array;
  private readonly packed: Float64Array;
  private readonly sliced: Float64Array;
  private readonly gather: Float64Array;
  /**
   * Per-sample FLOPs a first stage [0, end) skips: the input gradients of its layers up to the first
   * that has weights (autodiff and the dense path only differentiate towards the weights).
   */
  private readonly skippedByFirst: Float64Array;

  constructor(readonly problem: PartitionProblem) {
    const L = problem.layers;
    this.n = L.length;
    this.microbatchSize = problem.batch / problem.microbatches;
    const prefix = (f: (l: PlannerLayer) => number) => {
      const a = new Float64Array(L.length + 1);
      L.forEach((l, i) => (a[i + 1] = a[i]! + f(l)));
      return a;
    };
    this.flops = prefix((l) => l.forwardFlops + l.backwardFlops);
    this.boundaryBytes = Float64Array.from(L, (l) => l.activationBytes * this.microbatchSize);
    this.fwd = prefix((l) => l.forwardFlops);
    const wg = (l: PlannerLayer) => Math.max(0, l.backwardFlops - l.forwardFlops);
    const row = (f: (l: PlannerLayer) => number) => (l: PlannerLayer) => (l.rowProducts ? f(l) : 0);
    this.rowForward = prefix(row((l) => l.forwardFlops));
    this.rowWeightGrad = prefix(row(wg));
    this.rowInputGrad = prefix(row((l) => l.backwardFlops - wg(l)));
    this.otherWeightGrad = prefix((l) => (l.rowProducts ? 0 : wg(l)));
    this.weights = prefix((l) => l.weightBytes);
    this.trainable = prefix((l) => l.trainableParams);
    this.stash = prefix((l) => l.stashBytes);
    this.params = prefix((l) => l.params);
    this.recomputing = prefix((l) => (l.keepsActivations === false ? 1 : 0));
    this.kernelsF = prefix((l) => l.kernels?.forward ?? 0);
    this.kernelsB = prefix((l) => l.kernels?.backward ?? 0);
    this.variables = prefix((l) => l.variables ?? 0);
    this.poolGrad = prefix((l) => l.poolGradElements ?? 0);
    this.elementsF = prefix((l) => l.elementwise?.forward ?? 0);
    this.elementsB = prefix((l) => l.elementwise?.backward ?? 0);
    this.packed = prefix((l) => l.packedParams ?? 0);
    this.sliced = prefix((l) => l.slicedParams ?? 0);
    this.gather = prefix((l) => l.gatherElements ?? 0);
    const firstTrainable = L.findIndex((l) => l.trainableParams > 0);
    const skipped = (f: (l: PlannerLayer) => number) =>
      prefix(f).map((_, end, a) =>
        firstTrainable < 0 ? 0 : a[Math.min(end, firstTrainable + 1)]!,
      );
    this.skippedByFirst = skipped((l) => l.inputGradFlops ?? 0);
    this.skippedRowByFirst = skipped(row((l) => l.inputGradFlops ?? 0));
  }

  /** Whether the stage runs B by recomputing its forward (it holds a layer that keeps no tape). */
  private recomputes(start: number, end: number): boolean {
    return this.recomputing[end]! > this.recomputing[start]!;
  }

  /**
   * A recomputing last stage's F only stashes its input: its forward runs in B, with the loss
   * (StageExecutor.forward/backwardLoss).
   */
  private forwardInB(start: number, end: number): boolean {
    return end === this.n && this.recomputes(start, end);
  }

  /**
   * Seconds of F's fixed costs on machine m: a launch per kernel, the weight slices it packs afresh,
   * and the read-back of the output it sends (none on the last stage). Zero where the machine's
   * overhead is not measured.
   */
  private forwardFixed(start: number, end: number, m: number): number {
    const o = this.problem.machines[m]!.overhead;
    if (!o || this.forwardInB(start, end)) return 0;
    const kernels = this.kernelsF[end]! - this.kernelsF[start]!;
    const elements = (this.elementsF[end]! - this.elementsF[start]!) * this.microbatchSize;
    return (
      kernels * o.kernelSeconds +
      elements * o.elementSeconds +
      this.passSeconds(start, end, m) +
      (end < this.n ? o.readbackSeconds : 0)
    );
  }

  /**
   * Seconds a micro-batch's embedding lookups over [start, end) take (LayerCost.gatherElements): the
   * gather a forward pass runs, or the scatter-add of its gradient; 0 where not measured.
   */
  private gatherSeconds(start: number, end: number, m: number, op: 'gather' | 'scatter'): number {
    const o = this.problem.machines[m]!.overhead;
    const rate = (op === 'gather' ? o?.gatherSecondsPerElement : o?.scatterSecondsPerElement) ?? 0;
    return (this.gather[end]! - this.gather[start]!) * this.microbatchSize * rate;
  }

  /**
   * What every forward pass over [start, end) costs beyond its kernels and elements, in F and again in
   * a recomputing B: the weight slices it packs afresh (LayerCost.slicedParams) and its embedding
   * lookups' gathers.
   */
  private passSeconds(start: number, end: number, m: number): number {
    const rate = this.problem.machines[m]!.overhead?.repackSecondsPerParam ?? 0;
    return (
      (this.sliced[end]! - this.sliced[start]!) * rate + this.gatherSeconds(start, end, m, 'gather')
    );
  }

  /**
   * Seconds of F and B beyond their FLOPs at the product rate, together: B launches its layers'
   * backward kernels (and their elementwise work), the forward's again where it recomputes, the
   * loss's on the last stage, reads back the gradient it sends (none on the first stage), and runs
   * its poolings' backward. What makes a stage of many small, recurrent or pooling layers slower
   * than its FLOPs say.
   */
  extraComputeSeconds(start: number, end: number, m: number): number {
    const o = this.problem.machines[m]!.overhead;
    if (!o) return 0;
    const again = this.recomputes(start, end);
    const kf = this.kernelsF[end]! - this.kernelsF[start]!;
    const kb =
      this.kernelsB[end]! -
      this.kernelsB[start]! +
      (again ? kf : 0) +
      (end === this.n ? LOSS_KERNELS : 0);
    const ef = this.elementsF[end]! - this.elementsF[start]!;
    const eb = this.elementsB[end]! - this.elementsB[start]! + (again ? ef : 0);
    const pooling = (this.poolGrad[end]! - this.poolGrad[start]!) * o.poolGradSecondsPerElement;
    const back =
      kb * o.kernelSeconds +
      (again ? this.passSeconds(start, end, m) : 0) +
      this.gatherSeconds(start, end, m, 'scatter') +
      (eb * o.elementSeconds + pooling) * this.microbatchSize +
      this.accumulateSeconds(start, end, m) +
      (start > 0 ? o.readbackSeconds : 0);
    return this.forwardFixed(start, end, m) + back;
  }

  /**
   * A micro-batch's share of summing the step's weight gradients: every micro-batch after the first
   * adds its gradients to those kept so far (StageExecutor.accumulate), an elementwise add over the
   * stage's trainable parameters at the measured rate ((m − 1)/m of them a micro-batch on average).
   */
  private accumulateSeconds(start: number, end: number, m: number): number {
    const o = this.problem.machines[m]!.overhead;
    if (!o) return 0;
    const mbs = this.problem.microbatches;
    return (this.trainable[end]! - this.trainable[start]!) * o.elementSeconds * ((mbs - 1) / mbs);
  }

  /**
   * Per-sample FLOPs B spends again on the forward: a stage that is not last and holds a layer that
   * cannot keep its activations recomputes its whole forward (tfjs keeps no tape between calls).
   */
  recomputeFlops(start: number, end: number): number {
    return this.recomputesInB(start, end) ? this.fwd[end]! - this.fwd[start]! : 0;
  }

  /** Whether B runs the stage's forward again (a recomputing stage that is not last). */
  private recomputesInB(start: number, end: number): boolean {
    return end < this.n && this.recomputes(start, end);
  }

  /** Floating-point operations of one micro-batch's forward + backward over [start, end). */
  stageFlops(start: number, end: number): number {
    const skipped = start === 0 ? this.skippedByFirst[end]! : 0;
    return (
      (this.flops[end]! - this.flops[start]! + this.recomputeFlops(start, end) - skipped) *
      this.microbatchSize
    );
  }

  /**
   * Seconds the step's first F (or, where the forward runs in B, the first B) spends preparing weights
   * the optimizer just changed (the backend's measured repack rate; 0 where not measured).
   */
  prepareSeconds(start: number, end: number, m: number): number {
    const rate = this.problem.machines[m]!.overhead?.repackSecondsPerParam ?? 0;
    return (this.packed[end]! - this.packed[start]!) * rate;
  }

  /**
   * Seconds one micro-batch's FLOPs over [start, end) take on machine m (forward, backward and any
   * recompute, less what a first stage skips), each product's at its own rate
   * (Machine.productRatios): at small micro-batches the weight gradient runs slower than the others.
   * The DP's inner loop calls this: no allocation.
   */
  flopSeconds(start: number, end: number, m: number): number {
    const machine = this.problem.machines[m]!;
    const all = this.stageFlops(start, end) / this.microbatchSize;
    const r = machine.productRatios;
    if (!r) return (all * this.microbatchSize) / (machine.gflops * 1e9);
    const again = this.recomputesInB(start, end) ? 2 : 1;
    const forward = (this.rowForward[end]! - this.rowForward[start]!) * again;
    const skipped = start === 0 ? this.skippedRowByFirst[end]! : 0;
    const input = this.rowInputGrad[end]! - this.rowInputGrad[start]! - skipped;
    const weight = this.rowWeightGrad[end]! - this.rowWeightGrad[start]!;
    const perSample =
      forward / r.forward +
      input / r.inputGrad +
      weight / r.weightGrad +
      (all - forward - input - weight);
    return (perSample * this.microbatchSize) / (machine.gflops * 1e9);
  }

  /** Seconds of forward + backward (with any recompute) for one micro-batch on machine m. */
  computeSeconds(start: number, end: number, m: number): number {
    return this.flopSeconds(start, end, m) + this.extraComputeSeconds(start, end, m);
  }

  forwardSeconds(start: number, end: number, m: number): number {
    if (this.forwardInB(start, end)) return 0;
    const machine = this.problem.machines[m]!;
    const rowF = this.rowForward[end]! - this.rowForward[start]!;
    const f = this.fwd[end]! - this.fwd[start]!;
    const perSample = rowF / (machine.productRatios?.forward ?? 1) + (f - rowF);
    return (
      (perSample * this.microbatchSize) / (machine.gflops * 1e9) + this.forwardFixed(start, end, m)
    );
  }

  backwardSeconds(start: number, end: number, m: number): number {
    return this.computeSeconds(start, end, m) - this.forwardSeconds(start, end, m);
  }

  /**
   * The weight-gradient share of the backward, which a zero-bubble schedule runs apart as W: what the
   * layers' backward costs beyond their forward (a Dense layer's xᵀ·dz). A stage that cannot keep its
   * activations (it recomputes, or its backward is one autodiff call) computes it inside B: none.
   * W also adds the gradients to the step's (accumulateSeconds), which B then leaves to it.
   */
  weightGradSeconds(start: number, end: number, m: number): number {
    if (this.recomputing[end]! > this.recomputing[start]!) return 0;
    const machine = this.problem.machines[m]!;
    const perSample =
      (this.rowWeightGrad[end]! - this.rowWeightGrad[start]!) /
        (machine.productRatios?.weightGrad ?? 1) +
      (this.otherWeightGrad[end]! - this.otherWeightGrad[start]!);
    return (
      (perSample * this.microbatchSize) / (machine.gflops * 1e9) +
      this.accumulateSeconds(start, end, m)
    );
  }

  /**
   * The optimizer update over the stage's parameters, once per step: elementwise work at the
   * machine's measured rate per parameter plus its kernels per weight tensor; by FLOPs at the product
   * rate where that is not measured (which, being memory-bound, it is about ten times slower than).
   */
  stepSeconds(start: number, end: number, m: number): number {
    const t = this.trainable[end]! - this.trainable[start]!;
    const machine = this.problem.machines[m]!;
    const o = machine.overhead;
    const opt = this.problem.optimizer;
    if (!o) return optimizerStepFlops(t, opt) / (machine.gflops * 1e9);
    const launches =
      (this.variables[end]! - this.variables[start]!) * OPTIMIZER_KERNELS_PER_VARIABLE[opt];
    return t * o.stepSecondsPerParam[opt] + launches * o.kernelSeconds;
  }

  paramCount(start: number, end: number): number {
    return this.params[end]! - this.params[start]!;
  }

  /** Bytes a stage's input tensor takes per sample: the model input, or the previous layer's output. */
  inputBytes(start: number): number {
    return start === 0 ? this.problem.inputBytes : this.problem.layers[start - 1]!.activationBytes;
  }

  /**
   * Peak memory of a stage at position k of p: weights, their gradient accumulators, optimizer state,
   * and the activations of every micro-batch the schedule holds at once (its input plus each layer's
   * stash, per sample, times the micro-batch size).
   */
  memory(start: number, end: number, k: number, p: number): MemoryBreakdown {
    const trainable = this.trainable[end]! - this.trainable[start]!;
    const weights = this.weights[end]! - this.weights[start]!;
    const gradients = trainable * BYTES_PER_ELEMENT;
    const optimizer = optimizerStateBytes(trainable, this.problem.optimizer);
    const perSample = this.inputBytes(start) + this.stash[end]! - this.stash[start]!;
    const inFlight = inFlightMicrobatches(this.problem.schedule, k, p, this.problem.microbatches);
    const activations = inFlight * this.microbatchSize * perSample;
    return {
      weights,
      gradients,
      optimizer,
      activations,
      total: weights + gradients + optimizer + activations,
    };
  }

  /** memory(...).total without the allocation: the DP's inner loop calls this. */
  memoryTotal(start: number, end: number, k: number, p: number): number {
    const trainable = this.trainable[end]! - this.trainable[start]!;
    const perSample = this.inputBytes(start) + this.stash[end]! - this.stash[start]!;
    const inFlight = inFlightMicrobatches(this.problem.schedule, k, p, this.problem.microbatches);
    return (
      this.weights[end]! -
      this.weights[start]! +
      trainable * BYTES_PER_ELEMENT +
      optimizerStateBytes(trainable, this.problem.optimizer) +
      inFlight * this.microbatchSize * perSample
    );
  }

  /** Seconds one micro-batch's activations (or gradients: the same size) occupy the link after layer end-1. */
  transferSeconds(end: number, from: number, to: number): number {
    const bytes = this.problem.layers[end - 1]!.activationBytes * this.microbatchSize;
    return bytes / this.problem.link(from, to).bytesPerSecond;
  }

  latency(from: number, to: number): number {
    return this.problem.link(from, to).latencySeconds;
  }

  totalFlops(start: number): number {
    return (this.flops[this.n]! - this.flops[start]!) * this.microbatchSize;
  }
}
