import { EventEmitter } from 'node:events';
import * as zmq from 'zeromq';
import { RequestTable } from '../common/requestTable.js';
import { MAX_TENSOR_BYTES } from '../protocol/tensorFrame.js';
import { COORDINATOR_ROUTING_ID, type StageEvent } from '../pipeline/stageProtocol.js';
import type { CurveKeyPair } from '../trust/keyPair.js';
import { SerialSender } from '../util/serialSender.js';

interface StageLinkEvents {
  event: [StageEvent];
  lost: [string];
}

/** The coordinator's DEALER to one stage host: requests with replies, and the stage's event stream. */
export class StageLink extends EventEmitter<StageLinkEvents> {
  private readonly dealer: zmq.Dealer;
  private readonly sender: SerialSender;
  private readonly requests = new RequestTable<{ result: unknown; frames: Buffer[] }>();
  private closed = false;
  private connectedOnce = false;

  constructor(
    readonly host: string,
    readonly port: number,
    serverKey: string,
    keys: CurveKeyPair,
  ) {
    super();
    this.dealer = new zmq.Dealer({
      routingId: COORDINATOR_ROUTING_ID,
      curveServerKey: serverKey,
      curvePublicKey: keys.publicKey,
      curveSecretKey: keys.secretKey,
      maxMessageSize: MAX_TENSOR_BYTES + 64 * 1024,
      linger: 0,
      heartbeatInterval: 500,
      heartbeatTimeout: 2000,
    });
    this.sender = new SerialSender(this.dealer, 1000);
    this.dealer.events.on('handshake', () => (this.connectedOnce = true));
    // A stage host that dies drops its TCP connection: that is the run failing, said at once.
    this.dealer.events.on('disconnect', () => {
      if (this.connectedOnce && !this.closed)
        this.emit('lost', 'the stage process stopped answering');
    });
    this.dealer.connect(`tcp://${host}:${port}`);
    void this.receive();
  }

  private async receive(): Promise<void> {
    try {
      for await (const [head, ...rest] of this.dealer) {
        let msg: { type?: string; id?: string; ok?: boolean; result?: unknown; error?: string };
        try {
          msg = JSON.parse(head!.toString('utf8')) as typeof msg;
        } catch {
          continue;
        }
        if (msg.type === 'event') {
          // A listener that throws must not end this loop: the run would wait forever for events
          // this link no longer reads. It fails the run instead, in words.
          try {
            this.emit('event', msg as unknown as StageEvent);
          } catch (err) {
            this.emit(
              'lost',
              `handling its ${String((msg as { event?: string }).event)} event failed: ${(err as Error).message}`,
            );
          }
          continue;
        }
        if (!msg.id) continue;
        if (msg.ok) this.requests.resolve(msg.id, { result: msg.result, frames: rest });
        else this.requests.reject(msg.id, new Error(String(msg.error)));
      }
    } catch {
      // closed
    }
  }

  request(
    body: Record<string, unknown>,
    frames: Buffer[] = [],
    timeoutMs = 60_000,
  ): Promise<{ result: unknown; frames: Buffer[] }> {
    return this.requests.request(
      (id) =>
        this.sender.send([JSON.stringify({ ...body, id }), ...frames], (err) =>
          this.requests.reject(id, err),
        ),
      {
        timeoutMs,
        timeoutError: () =>
          new Error(`no answer to ${String(body.type)} within ${Math.round(timeoutMs / 1000)} s`),
      },
    );
  }

  close(): void {
    this.closed = true;
    this.requests.close(() => new Error('closed'));
    this.dealer.close();
  }
}
