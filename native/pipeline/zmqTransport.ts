import type * as zmq from 'zeromq';
import { encodeTensor } from '../protocol/tensorFrame.js';
import { neighbourOf } from '../planner/schedule.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { Mailbox, type StageTransport, type TensorKind, type WireTensor } from './transport.js';

/** Where this stage's tensors go: the next stage's replica that owns a micro-batch, and back. */
export interface TransportRoutes {
  /** This process's replica of its stage (the header says who sent it). */
  replica: number;
  /** This stage, the pipeline's stages, and the chunks each holds (virtual stage c·stages + stage). */
  stage: number;
  stages: number;
  chunks: number;
  /** Index into the next stage's DEALERs (its replicas) for micro-batch mb's activations. */
  nextOwner(mb: number): number;
  /** The routing id of the previous stage's replica that sent micro-batch mb (gradients go back there). */
  previous(mb: number): string | null;
}

/**
 * A stage's transport over ZeroMQ: activations leave on a DEALER to the next stage's replica that owns
 * the micro-batch (validation's to its replica 0), gradients go back through this stage's ROUTER to
 * the routing id of the previous stage's replica that sent it. Sends await the socket, so a full
 * high-water mark is backpressure, never an unbounded queue. Incoming tensors land in the mailbox.
 */
export class ZmqStageTransport implements StageTransport {
  readonly inbox = new Mailbox();
  private next: zmq.Dealer[] = [];
  private readonly sending = new Map<zmq.Dealer, Promise<void>>();

  constructor(
    private readonly routes: TransportRoutes,
    private readonly routerSend: (frames: (Buffer | string)[]) => Promise<void>,
  ) {}

  /** The DEALERs to the next stage's replicas, once their addresses are known (the `connect` step). */
  attachNext(dealers: zmq.Dealer[]): void {
    this.next = dealers;
  }

  /**
   * Sends chunk `chunk`'s tensor to the next virtual stage (activations) or the one before
   * (gradients); the header names the chunk that takes it there.
   */
  send(kind: TensorKind, step: number, mb: number, t: WireTensor, chunk = 0): Promise<void> {
    const { replica, stage, stages, chunks } = this.routes;
    const to = neighbourOf(kind === 'grad' ? 'previous' : 'next', stage, chunk, stages, chunks);
    const frames = encodeTensor(
      {
        v: PROTOCOL_VERSION,
        kind,
        step,
        mb,
        chunk: to?.chunk ?? 0,
        replica,
        dtype: t.dtype,
        shape: t.shape,
      },
      t.data,
    );
    if (kind === 'grad') {
      const prev = this.routes.previous(mb);
      if (!prev)
        return Promise.reject(
          new Error('the first stage has no previous stage to send gradients to'),
        );
      return this.routerSend([prev, ...frames]);
    }
    const dealer = this.next[kind === 'vact' ? 0 : this.routes.nextOwner(mb)];
    if (!dealer)
      return Promise.reject(new Error('the last stage has no next stage to send activations to'));
    // One send at a time on a DEALER (zeromq.js allows one in flight); order is preserved.
    const p = (this.sending.get(dealer) ?? Promise.resolve()).then(() => dealer.send(frames));
    this.sending.set(
      dealer,
      p.catch(() => {}),
    );
    return p;
  }

  recv(kind: TensorKind, step: number, mb: number, chunk = 0): Promise<WireTensor> {
    return this.inbox.take(kind, step, mb, chunk);
  }
}
