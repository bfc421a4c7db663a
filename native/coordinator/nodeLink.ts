import { EventEmitter } from 'node:events';
import * as zmq from 'zeromq';
import { ControlReplySchema, ResultSchemas, type ResultTypes } from '../protocol/controlSchemas.js';
import { TelemetrySampleSchema, type TelemetrySample } from '../protocol/inventorySchemas.js';
import { MAX_CONTROL_MESSAGE_BYTES, MAX_TELEMETRY_MESSAGE_BYTES } from '../protocol/limits.js';
import type { ControlType } from '../protocol/version.js';
import { PROTOCOL_VERSION, TelemetryTopic } from '../protocol/version.js';
import type { CurveKeyPair } from '../trust/keyPair.js';
import { SerialSender } from '../util/serialSender.js';
import type { Endpoint } from './nodeRecord.js';

/** A control request that got an error reply (or none). `code` is the agent's ErrorCode or 'timeout'. */
export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface LinkEvents {
  telemetry: [TelemetrySample];
  inventoryChanged: [];
  bye: [];
  refused: [string];
  /** A socket failed under us (never thrown: an event handler must not take the coordinator down). */
  socketError: [string];
}

/** What each control request carries besides the envelope (v, id, type). */
export type ControlPayloads = {
  [ControlType.Hello]: Record<string, never>;
  [ControlType.Join]: { publicKey: string };
  [ControlType.Ping]: { sentAt: number };
  [ControlType.Inventory]: Record<string, never>;
  [ControlType.Benchmark]: { force?: boolean };
  [ControlType.StageSpawn]: { runId: string; stageIndex: number; backend?: string; gpu?: number };
  [ControlType.StageStop]: { runId: string };
  [ControlType.StageStatus]: { runId: string; stageIndex: number; waitMs?: number };
};

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  type: ControlType;
  timer: NodeJS.Timeout;
}

/**
 * The coordinator's connection to one agent: a CURVE DEALER for requests and a SUB for telemetry, both
 * authenticated with the same client key. Requests are matched to replies by id, each with a timeout.
 */
export class NodeLink extends EventEmitter<LinkEvents> {
  private readonly dealer: zmq.Dealer;
  private readonly sender: SerialSender;
  private sub: zmq.Subscriber | null = null;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private closed = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly clientKeys: CurveKeyPair,
  ) {
    super();
    this.dealer = new zmq.Dealer({
      curveServerKey: endpoint.publicKey,
      curvePublicKey: clientKeys.publicKey,
      curveSecretKey: clientKeys.secretKey,
      maxMessageSize: MAX_CONTROL_MESSAGE_BYTES,
      linger: 0,
      // Queue nothing for a peer that is not connected: a dead agent must not collect stale pings.
      immediate: true,
      sendTimeout: 0,
      sendHighWaterMark: 100,
      reconnectInterval: 250,
      reconnectMaxInterval: 2000,
      heartbeatInterval: 1000,
      heartbeatTimeout: 3000,
    });
    try {
      this.dealer.connect(`tcp://${endpoint.host}:${endpoint.controlPort}`);
    } catch (err) {
      // An address ZeroMQ cannot parse: the socket must not outlive the failed link.
      this.dealer.close();
      throw err;
    }
    this.sender = new SerialSender(this.dealer, 100);
    this.watchAuth(this.dealer);
    void this.receiveReplies();
  }

  private watchAuth(socket: zmq.Socket): void {
    socket.events.on('handshake:error:auth', (e) => {
      this.emit(
        'refused',
        `the agent refused this coordinator's key (${e.error.message}): wrong or missing lab token`,
      );
    });
  }

  private async receiveReplies(): Promise<void> {
    try {
      for await (const frames of this.dealer) {
        const frame = frames[frames.length - 1];
        if (!frame) continue;
        let reply;
        try {
          reply = ControlReplySchema.parse(JSON.parse(frame.toString('utf8')));
        } catch {
          continue;
        }
        const p = reply.id === null ? undefined : this.pending.get(reply.id);
        if (!p) continue;
        this.pending.delete(reply.id!);
        clearTimeout(p.timer);
        if (!reply.ok) {
          p.reject(new RequestError(reply.error.code, reply.error.message));
          continue;
        }
        const result = ResultSchemas[p.type].safeParse(reply.result);
        if (result.success) p.resolve(result.data);
        else
          p.reject(
            new RequestError(
              'invalid-reply',
              `agent sent an invalid ${p.type} reply: ${result.error.issues[0]?.message ?? ''}`,
            ),
          );
      }
    } catch (err) {
      if (!this.closed) this.emit('socketError', `control socket: ${(err as Error).message}`);
    }
  }

  request<T extends ControlType>(
    type: T,
    payload: ControlPayloads[T],
    timeoutMs = 2000,
  ): Promise<ResultTypes[T]> {
    if (this.closed) return Promise.reject(new RequestError('closed', 'link closed'));
    const id = String(this.nextId++);
    return new Promise<ResultTypes[T]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestError('timeout', `no answer to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, type, timer });
      // With `immediate`, a send before the CURVE handshake completes is refused at once: say so, so the
      // caller can retry in a moment instead of waiting out the timeout.
      this.sender.send(JSON.stringify({ v: PROTOCOL_VERSION, id, type, ...payload }), () => {
        if (!this.pending.delete(id)) return;
        clearTimeout(timer);
        reject(
          new RequestError(
            'not-connected',
            `not connected to ${this.endpoint.host}:${this.endpoint.controlPort} yet`,
          ),
        );
      });
    });
  }

  /** Subscribes to the agent's telemetry once hello told us its port. */
  subscribe(telemetryPort: number): void {
    if (this.sub || this.closed) return;
    try {
      this.openSubscriber(telemetryPort);
    } catch (err) {
      // Out of sockets (EMFILE): requests still work; the next hello retries the subscription.
      this.sub = null;
      this.emit('socketError', `telemetry socket: ${(err as Error).message}`);
    }
  }

  private openSubscriber(telemetryPort: number): void {
    const sub = new zmq.Subscriber({
      curveServerKey: this.endpoint.publicKey,
      curvePublicKey: this.clientKeys.publicKey,
      curveSecretKey: this.clientKeys.secretKey,
      maxMessageSize: MAX_TELEMETRY_MESSAGE_BYTES,
      linger: 0,
      receiveHighWaterMark: 100,
      reconnectInterval: 250,
      reconnectMaxInterval: 2000,
    });
    try {
      sub.connect(`tcp://${this.endpoint.host}:${telemetryPort}`);
    } catch (err) {
      sub.close();
      throw err;
    }
    this.sub = sub;
    this.watchAuth(sub);
    sub.subscribe(TelemetryTopic.Sample, TelemetryTopic.InventoryChanged, TelemetryTopic.Bye);
    void (async () => {
      try {
        for await (const [topic, body] of sub) {
          if (!topic || !body) continue;
          const t = topic.toString();
          if (t === TelemetryTopic.InventoryChanged) {
            this.emit('inventoryChanged');
            continue;
          }
          if (t === TelemetryTopic.Bye) {
            this.emit('bye');
            continue;
          }
          try {
            const sample = TelemetrySampleSchema.safeParse(JSON.parse(body.toString('utf8')));
            if (sample.success) this.emit('telemetry', sample.data);
          } catch {
            // A malformed sample is dropped; the next one a second later will do.
          }
        }
      } catch (err) {
        if (!this.closed) this.emit('socketError', `telemetry socket: ${(err as Error).message}`);
      }
    })();
  }

  close(): void {
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new RequestError('closed', 'link closed'));
    }
    this.pending.clear();
    this.dealer.close();
    this.sub?.close();
  }
}
