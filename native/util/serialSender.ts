import type * as zmq from 'zeromq';

/**
 * zeromq.js allows one send in flight per socket. This queues sends in order, bounded: past `max` waiting
 * messages new ones are dropped and counted, so a stalled peer can never grow memory without limit.
 */
export class SerialSender {
  private chain: Promise<void> = Promise.resolve();
  private waiting = 0;
  dropped = 0;

  constructor(
    private readonly socket: zmq.Writable,
    private readonly max = 1000,
  ) {}

  /** Queues a message; `onFail` runs if it is dropped (queue full, or the socket refused it). */
  send(frames: zmq.MessageLike | zmq.MessageLike[], onFail?: (err: Error) => void): boolean {
    if (this.waiting >= this.max) {
      this.dropped++;
      onFail?.(new Error('send queue full'));
      return false;
    }
    this.waiting++;
    this.chain = this.chain
      .then(() => this.socket.send(frames as zmq.MessageLike[]))
      .catch((err: Error) => {
        this.dropped++;
        onFail?.(err);
      })
      .finally(() => {
        this.waiting--;
      });
    return true;
  }

  /** Resolves when everything queued so far has been handed to the socket. */
  flushed(): Promise<void> {
    return this.chain;
  }
}
