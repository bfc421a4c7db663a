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
  /** An interleaved stage's chunk; absent: chunk 0. */
  chunk?: number;
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
function take(pending: Map<string, WireTensor>, mb: string, outOfOrder: string): WireTensor {
  const t = pending.get(mb);
  if (!t) throw new Error(outOfOrder);
  pending.delete(mb);
  return t;
}

/** A micro-batch's tensor waiting in a chunk (an interleaved stage runs several chunks). */
const slot = (chunk: number, mb: number) => `${chunk}:${mb}`;

/**
 * Runs one stage's action list for one step: the same lists the simulator runs (planner/schedule.ts),
 * executed in order, with tensors moving through the transport. An interleaved stage holds one
 * executor per chunk, and each action names the chunk it works on.
 */
export class ScheduleRunner {
  /** The schedule computes weight gradients apart (W), so B leaves them to it. */
  private readonly deferWeights: boolean;
  /** Chunk 0's executor: the whole stage where it holds one chunk (replicas hold one). */
  private readonly exec: StageExecutor;
  private readonly execs: StageExecutor[];

  constructor(
    private readonly tf: Tf,
    execs: StageExecutor | StageExecutor[],
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
    this.execs = Array.isArray(execs) ? execs : [execs];
    this.exec = this.execs[0]!;
    for (const a of actions)
      if ((a.chunk ?? 0) >= this.execs.length)
        throw new Error(
          `the schedule works on chunk ${a.chunk} of a stage that holds ${this.execs.length}`,
        );
    if (ringSum && this.execs.length > 1)
      throw new Error('a stage of several chunks cannot have replicas (not built)');
    this.deferWeights = actions.some((a) => a.op === 'W');
    if (ringSum && overlapAllReduce && this.exec.bucketsAllReduce && !this.deferWeights) {
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
    // Keyed by slot(chunk, mb).
    const received = new Map<string, WireTensor>(); // RECV_ACT results waiting for F
    const outputs = new Map<string, WireTensor>(); // F results waiting for SEND_ACT
    const grads = new Map<string, WireTensor>(); // RECV_GRAD results waiting for B
    const dxs = new Map<string, WireTensor>(); // B results waiting for SEND_GRAD
    const timings: ActionTiming[] = [];
    const losses: tfc.Scalar[] = [];
    let busyMs = 0;
    let commMs = 0;
    // Sends are not waited for: the stage goes on computing while the tensor leaves (the transport
    // keeps each socket's order), as the simulator has it. A failed send fails the step at the next
    // action, or ends the receive that would otherwise wait for a reply that cannot come.
    const sending: Promise<void>[] = [];
    let sendError: Error | null = null;
    let failSend: (e: Error) => void = () => {};
    const sendFailed = new Promise<never>((_, reject) => (failSend = reject));
    sendFailed.catch(() => {});
    const send = async (p: Promise<void>) => {
      sending.push(
        p.catch((err: Error) => {
          sendError ??= err;
          failSend(err);
        }),
      );
      // The transport hands the tensor to its socket a promise hop later: one turn of the event loop
      // lets it go now, not after the next F or B, which hold the thread (wasm computes on it).
      await new Promise<void>((r) => setImmediate(r));
    };
    const recv = (kind: 'act' | 'grad', mb: number, c: number) =>
      Promise.race([this.transport.recv(kind, step, mb, c), sendFailed]);
    const t0 = performance.now();
    for (const a of this.actions) {
      if (sendError) throw sendError;
      const start = performance.now() - t0;
      const mb = 'mb' in a ? a.mb : -1;
      const c = a.chunk ?? 0;
      const exec = this.execs[c]!;
      const at = slot(c, mb);
      switch (a.op) {
        case 'RECV_ACT':
          received.set(at, await recv('act', a.mb, c));
          break;
        case 'F': {
          const input = exec.isFirst
            ? this.data.input(step, a.mb)
            : take(received, at, `F(${a.mb}) before its activation arrived`);
          const out = exec.forward(a.mb, this.toTensor(input));
          if (out) {
            outputs.set(at, await ScheduleRunner.fromTensor(out));
            out.dispose();
          }
          break;
        }
        case 'SEND_ACT': {
          const out = take(outputs, at, `SEND_ACT(${a.mb}) before F(${a.mb})`);
          await send(this.transport.send('act', step, a.mb, out, c));
          break;
        }
        case 'RECV_GRAD':
          grads.set(at, await recv('grad', a.mb, c));
          break;
        case 'B': {
          let dx: tfc.Tensor | null;
          if (exec.isLast) {
            const labels = this.toTensor(this.data.labels(step, a.mb));
            const r = exec.backwardLoss(a.mb, labels, this.data.share(a.mb), this.defers(a.mb));
            labels.dispose();
            losses.push(r.loss);
            dx = r.dx;
          } else {
            const dy = this.toTensor(take(grads, at, `B(${a.mb}) before its gradient arrived`));
            dx = exec.backward(a.mb, dy, this.defers(a.mb));
            dy.dispose();
          }
          if (dx) {
            dxs.set(at, await ScheduleRunner.fromTensor(dx));
            dx.dispose();
          }
          break;
        }
        case 'SEND_GRAD': {
          const dx = take(dxs, at, `SEND_GRAD(${a.mb}) before B(${a.mb})`);
          await send(this.transport.send('grad', step, a.mb, dx, c));
          break;
        }
        case 'W':
          exec.weightGrad(a.mb);
          break;
        case 'ALLREDUCE':
          await this.allReduce(step);
          break;
        case 'STEP':
          // One optimizer step for the stage: every chunk applies its accumulated gradients.
          for (const e of this.execs) e.step();
          break;
      }
      const end = performance.now() - t0;
      if (isComputeOp(a.op)) busyMs += end - start;
      else commMs += end - start;
      timings.push({ op: a.op, mb, ...(c > 0 ? { chunk: c } : {}), start, end });
    }
    await Promise.all(sending);
    if (sendError) throw sendError;
    let loss = 0;
    // Summed on the host in micro-batch order, as the losses were produced.
    for (const l of await Promise.all(losses.map((t) => t.data()))) loss += l[0]!;
    this.tf.dispose(losses);
    return {
      loss: this.execs.some((e) => e.isLast) ? loss : null,
      timings,
      busyMs,
      commMs,
      totalMs: performance.now() - t0,
    };
  }
}
