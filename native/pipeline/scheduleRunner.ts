import type * as tfc from '@tensorflow/tfjs-core';
import type { Tf } from '../backend/tfTypes.js';
import { isComputeOp } from '../common/names.js';
import type { Action } from '../planner/schedule.js';
import type { StageExecutor } from './stageExecutor.js';
import type { StageTransport, WireTensor } from './transport.js';

/** Where a stage's micro-batch data comes from: inputs on the first stage, labels on the last. */
export interface StageData {
  input(step: number, mb: number): WireTensor;
  labels(step: number, mb: number): WireTensor;
  /** Fraction of the mini-batch in micro-batch mb (its loss weight). */
  share(mb: number): number;
}

export interface ActionTiming {
  op: Action['op'];
  mb: number;
  /** ms since the step started on this stage */
  start: number;
  end: number;
}

export interface StepResult {
  /** The mini-batch's mean loss (last stage only). */
  loss: number | null;
  timings: ActionTiming[];
  /** ms of F, B, W and STEP (busy), and of SEND/RECV (communication, waiting included). */
  busyMs: number;
  commMs: number;
  totalMs: number;
}

/** Removes and returns a micro-batch's pending tensor; a schedule that asks out of order is a bug. */
function take(pending: Map<number, WireTensor>, mb: number, outOfOrder: string): WireTensor {
  const t = pending.get(mb);
  if (!t) throw new Error(outOfOrder);
  pending.delete(mb);
  return t;
}

/**
 * Runs one stage's action list for one step: the same lists the simulator runs (planner/schedule.ts),
 * executed in order, with tensors moving through the transport.
 */
export class ScheduleRunner {
  /** The schedule computes weight gradients apart (W), so B leaves them to it. */
  private readonly deferWeights: boolean;

  constructor(
    private readonly tf: Tf,
    private readonly exec: StageExecutor,
    private readonly actions: Action[],
    private readonly transport: StageTransport,
    private readonly data: StageData,
    /**
     * Sums a vector over the stage's replicas, tagged (the ring; a stage of one replica has none):
     * what ALLREDUCE runs on.
     */
    private readonly ringSum: ((flat: Float32Array, tag: number) => Promise<void>) | null = null,
    /**
     * Overlap the ring with the last micro-batch's weight gradients (a dense stage): its B leaves
     * them to ALLREDUCE, which computes them bucket by bucket while the ring carries the ones done.
     * Only where the backend computes off the JavaScript thread (a GPU): wasm and cpu compute on it,
     * so the ring would only wait for them, and the buckets' extra rounds cost (measured: 5–8% slower
     * on deep-mlp with 2 wasm replicas).
     */
    overlapAllReduce = false,
  ) {
    this.deferWeights = actions.some((a) => a.op === 'W');
    if (ringSum && overlapAllReduce && exec.bucketsAllReduce && !this.deferWeights) {
      const lastB = actions.findLast((a) => a.op === 'B');
      this.overlapMb = lastB && 'mb' in lastB ? lastB.mb : null;
      this.overlap = true;
    }
  }

  private overlap = false;
  /** The micro-batch whose weight gradients ALLREDUCE computes (null: this replica has none). */
  private overlapMb: number | null = null;

  private async allReduce(step: number): Promise<void> {
    const sum = this.ringSum;
    if (!sum) throw new Error('ALLREDUCE in the schedule of a stage with no replicas');
    // Tags differ per step (and bucket): a message from another all-reduce is refused, not summed.
    if (this.overlap)
      await this.exec.allReduceBuckets(this.overlapMb, (flat, b) => sum(flat, step * 4096 + b));
    else await this.exec.allReduceGradients((flat) => sum(flat, step));
  }

  /** Whether B(mb) leaves its weight gradients for later (W, or the overlapped ALLREDUCE). */
  private defers(mb: number): boolean {
    return this.deferWeights || (this.overlap && mb === this.overlapMb);
  }

  private toTensor(w: WireTensor): tfc.Tensor {
    return this.tf.tensor(w.data, w.shape, w.dtype);
  }

  /** The only read-backs of a step: what goes on the wire (and the loss, once, at its end). */
  private static async fromTensor(t: tfc.Tensor): Promise<WireTensor> {
    const data = (await t.data()) as Float32Array | Int32Array;
    return { shape: t.shape, dtype: t.dtype === 'int32' ? 'int32' : 'float32', data };
  }

  async runStep(step: number): Promise<StepResult> {
    const received = new Map<number, WireTensor>(); // RECV_ACT results waiting for F
    const outputs = new Map<number, WireTensor>(); // F results waiting for SEND_ACT
    const grads = new Map<number, WireTensor>(); // RECV_GRAD results waiting for B
    const dxs = new Map<number, WireTensor>(); // B results waiting for SEND_GRAD
    const timings: ActionTiming[] = [];
    const losses: tfc.Scalar[] = [];
    let busyMs = 0;
    let commMs = 0;
    const t0 = performance.now();
    for (const a of this.actions) {
      const start = performance.now() - t0;
      const mb = 'mb' in a ? a.mb : -1;
      switch (a.op) {
        case 'RECV_ACT':
          received.set(a.mb, await this.transport.recv('act', step, a.mb));
          break;
        case 'F': {
          const input = this.exec.isFirst
            ? this.data.input(step, a.mb)
            : take(received, a.mb, `F(${a.mb}) before its activation arrived`);
          const out = this.exec.forward(a.mb, this.toTensor(input));
          if (out) {
            outputs.set(a.mb, await ScheduleRunner.fromTensor(out));
            out.dispose();
          }
          break;
        }
        case 'SEND_ACT': {
          const out = take(outputs, a.mb, `SEND_ACT(${a.mb}) before F(${a.mb})`);
          await this.transport.send('act', step, a.mb, out);
          break;
        }
        case 'RECV_GRAD':
          grads.set(a.mb, await this.transport.recv('grad', step, a.mb));
          break;
        case 'B': {
          let dx: tfc.Tensor | null;
          if (this.exec.isLast) {
            const labels = this.toTensor(this.data.labels(step, a.mb));
            const r = this.exec.backwardLoss(
              a.mb,
              labels,
              this.data.share(a.mb),
              this.defers(a.mb),
            );
            labels.dispose();
            losses.push(r.loss);
            dx = r.dx;
          } else {
            const dy = this.toTensor(take(grads, a.mb, `B(${a.mb}) before its gradient arrived`));
            dx = this.exec.backward(a.mb, dy, this.defers(a.mb));
            dy.dispose();
          }
          if (dx) {
            dxs.set(a.mb, await ScheduleRunner.fromTensor(dx));
            dx.dispose();
          }
          break;
        }
        case 'SEND_GRAD': {
          const dx = take(dxs, a.mb, `SEND_GRAD(${a.mb}) before B(${a.mb})`);
          await this.transport.send('grad', step, a.mb, dx);
          break;
        }
        case 'W':
          this.exec.weightGrad(a.mb);
          break;
        case 'ALLREDUCE':
          await this.allReduce(step);
          break;
        case 'STEP':
          this.exec.step();
          break;
      }
      const end = performance.now() - t0;
      if (isComputeOp(a.op)) busyMs += end - start;
      else commMs += end - start;
      timings.push({ op: a.op, mb, start, end });
    }
    let loss = 0;
    // Summed on the host in micro-batch order, as the losses were produced.
    for (const l of await Promise.all(losses.map((t) => t.data()))) loss += l[0]!;
    this.tf.dispose(losses);
    return {
      loss: this.exec.isLast ? loss : null,
      timings,
      busyMs,
      commMs,
      totalMs: performance.now() - t0,
    };
  }
}
