import * as zmq from 'zeromq';
import { encodeReply, errorReply, okReply, parseControlRequest } from '../protocol/controlCodec.js';
import type { ControlRequest } from '../protocol/controlSchemas.js';
import { MAX_CONTROL_FRAMES, MAX_CONTROL_MESSAGE_BYTES } from '../protocol/limits.js';
import { ErrorCode } from '../protocol/version.js';
import { SerialSender } from '../util/serialSender.js';

export type ControlHandler = (request: ControlRequest) => Promise<unknown>;

/** A request that failed in a way the client should be told about, with a stable code. */
export class ControlFailure extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ControlServerStats {
  served: number;
  rejected: number;
  dropped: number;
}

/**
 * The agent's ROUTER socket. Every request is parsed and validated before a handler sees it; handlers run
 * concurrently (a slow benchmark never blocks a ping) and any failure becomes an error reply.
 */
export class ControlServer {
  readonly socket: zmq.Router;
  readonly stats: ControlServerStats = { served: 0, rejected: 0, dropped: 0 };
  private closed = false;
  private readonly sender: SerialSender;

  constructor(
    secretKey: string,
    zapDomain: string,
    private readonly handle: ControlHandler,
  ) {
    this.socket = new zmq.Router({
      curveServer: true,
      curveSecretKey: secretKey,
      zapDomain,
      maxMessageSize: MAX_CONTROL_MESSAGE_BYTES,
      linger: 0,
      sendHighWaterMark: 1000,
      receiveHighWaterMark: 1000,
      heartbeatInterval: 1000,
      heartbeatTimeout: 3000,
    });
    this.sender = new SerialSender(this.socket);
  }

  async bind(endpoint: string): Promise<number> {
    await this.socket.bind(endpoint);
    const last = this.socket.lastEndpoint ?? '';
    return Number(last.slice(last.lastIndexOf(':') + 1));
  }

  async serve(): Promise<void> {
    try {
      for await (const frames of this.socket) {
        const [routing, ...body] = frames;
        if (!routing) continue;
        if (body.length === 0 || body.length > MAX_CONTROL_FRAMES - 1) {
          this.stats.rejected++;
          this.reply(
            routing,
            encodeReply(
              errorReply(null, ErrorCode.Malformed, `expected one JSON frame, got ${body.length}`),
            ),
          );
          continue;
        }
        const parsed = parseControlRequest(body[0]!);
        if (!parsed.ok) {
          this.stats.rejected++;
          this.reply(routing, encodeReply(errorReply(parsed.id, parsed.code, parsed.message)));
          continue;
        }
        void this.dispatch(routing, parsed.request);
      }
    } catch (err) {
      if (!this.closed) throw err;
    }
  }

  private async dispatch(routing: Buffer, request: ControlRequest): Promise<void> {
    let reply;
    try {
      reply = okReply(request.id, await this.handle(request));
      this.stats.served++;
    } catch (err) {
      this.stats.rejected++;
      const code = err instanceof ControlFailure ? err.code : ErrorCode.Internal;
      reply = errorReply(request.id, code, (err as Error).message);
    }
    this.reply(routing, encodeReply(reply));
  }

  private reply(routing: Buffer, payload: Buffer): void {
    if (this.closed) return;
    // A ROUTER drops what it cannot route; a peer that never reads must not stall the agent.
    if (!this.sender.send([routing, payload])) this.stats.dropped++;
  }

  close(): void {
    this.closed = true;
    this.socket.close();
  }
}
