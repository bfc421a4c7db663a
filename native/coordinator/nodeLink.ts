import { EventEmitter } from 'node:events';
import * as zmq from 'zeromq';
import { RequestTable } from '../common/requestTable.js';
import {
  ControlReplySchema,
  ResultSchemas,
  type ControlReply,
  type LinkPeer,
  type ResultTypes,
} from '../protocol/controlSchemas.js';
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
  [ControlType.StageSpawn]: {
    runId: string;
    stageIndex: number;
    replica?: number;
    backend?: string;
    gpu?: number;
    rows?: number;
  };
  [ControlType.StageStop]: { runId: string };
  [ControlType.StageStatus]: {
    runId: string;
    stageIndex: number;
    replica?: number;
    waitMs?: number;
  };
  [ControlType.RunStart]: { plan: unknown; settings: unknown; model: unknown; peers: string[] };
  [ControlType.RunList]: Record<string, never>;
  [ControlType.RunRecords]: { runId: string; from: number; waitMs?: number };
  [ControlType.RunStop]: { runId: string };
  [ControlType.RunFile]: { runId: string; name: 'model.json' | 'weights.bin'; offset: number };
  [ControlType.RunStandby]: {
    runId: string;
    driver: { nodeId: string; name: string };
    peers: string[];
  };
  [ControlType.RunCheckpoint]: { runId: string; step: number; stage: number; offset: number };
  [ControlType.RunResume]: { runId: string };
  [ControlType.RunReplan]: { runId: string };
  [ControlType.LinkEcho]: { data: string };
  [ControlType.LinkMeasure]: { peer: LinkPeer };
};

/**
 * The coordinator's connection to one agent: a CURVE DEALER for requests and a SUB for telemetry, both
 * authenticated with the same client key. Requests are matched to replies by id, each with a timeout.
 */
export class NodeLink extends EventEmitter<LinkEvents> {
  private readonly dealer: zmq.Dealer;
  private readonly sender: SerialSender;
  private sub: zmq.Subscriber | null = null;
  private readonly requests = new RequestTable<ControlReply>();
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
        if (reply.id !== null) this.requests.resolve(reply.id, reply);
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
    const reply = this.requests.request(
      (id) =>
        // With `immediate`, a send before the CURVE handshake completes is refused at once: say so, so
        // the caller can retry in a moment instead of waiting out the timeout.
        this.sender.send(JSON.stringify({ v: PROTOCOL_VERSION, id, type, ...payload }), () =>
          this.requests.reject(
            id,
            new RequestError(
              'not-connected',
              `not connected to ${this.endpoint.host}:${this.endpoint.controlPort} yet`,
            ),
          ),
        ),
      {
        timeoutMs,
        timeoutError: () =>
          new RequestError('timeout', `no answer to ${type} within ${timeoutMs} ms`),
      },
    );
    return reply.then((r) => NodeLink.result(type, r));
  }

  /** An error reply becomes the agent's code; a result is checked against its request type's schema. */
  private static result<T extends ControlType>(type: T, reply: ControlReply): ResultTypes[T] {
    if (!reply.ok) throw new RequestError(reply.error.code, reply.error.message);
    const result = ResultSchemas[type].safeParse(reply.result);
    if (result.success) return result.data as ResultTypes[T];
    throw new RequestError(
      'invalid-reply',
      `agent sent an invalid ${type} reply: ${result.error.issues[0]?.message ?? ''}`,
    );
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
    this.requests.close(() => new RequestError('closed', 'link closed'));
    this.dealer.close();
    this.sub?.close();
  }
}
