import type * as zmq from 'zeromq';
import { encodeTensor } from '../protocol/tensorFrame.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { Mailbox, type StageTransport, type TensorKind, type WireTensor } from './transport.js';

/**
 * A stage's transport over ZeroMQ: activations leave on the DEALER to the next stage, gradients go
 * back through this stage's ROUTER to the previous stage's routing id. Sends await the socket, so a
 * full high-water mark is backpressure, never an unbounded queue. Incoming tensors land in the mailbox.
 */
export class ZmqStageTransport implements StageTransport {
  readonly inbox = new Mailbox();
  private sending: Promise<void> = Promise.resolve();

  constructor(
    private next: zmq.Dealer | null,
    private readonly prevRoutingId: string | null,
    private readonly routerSend: (frames: (Buffer | string)[]) => Promise<void>,
  ) {}

  /** The DEALER to the next stage, once its address is known (the `connect` step). */
  attachNext(dealer: zmq.Dealer): void {
    this.next = dealer;
  }

  send(kind: TensorKind, step: number, mb: number, t: WireTensor): Promise<void> {
    const frames = encodeTensor(
      { v: PROTOCOL_VERSION, kind, step, mb, chunk: 0, replica: 0, dtype: t.dtype, shape: t.shape },
      t.data,
    );
    if (kind === 'grad') {
      if (!this.prevRoutingId)
        return Promise.reject(
          new Error('the first stage has no previous stage to send gradients to'),
        );
      return this.routerSend([this.prevRoutingId, ...frames]);
    }
    if (!this.next)
      return Promise.reject(new Error('the last stage has no next stage to send activations to'));
    // One send at a time on the DEALER (zeromq.js allows one in flight); order is preserved.
    const p = this.sending.then(() => this.next!.send(frames));
    this.sending = p.catch(() => {});
    return p;
  }

  recv(kind: TensorKind, step: number, mb: number): Promise<WireTensor> {
    return this.inbox.take(kind, step, mb);
  }
}
