import * as zmq from 'zeromq';
import { MAX_TELEMETRY_MESSAGE_BYTES } from '../protocol/limits.js';
import { SerialSender } from '../util/serialSender.js';

/** The agent's PUB socket: `[topic, JSON]` messages, only to subscribers the ZAP policy admits. */
export class TelemetryPublisher {
  readonly socket: zmq.Publisher;
  private readonly sender: SerialSender;

  constructor(secretKey: string, zapDomain: string) {
    this.socket = new zmq.Publisher({
      curveServer: true,
      curveSecretKey: secretKey,
      zapDomain,
      // Subscribers send only subscriptions; anything large is hostile.
      maxMessageSize: MAX_TELEMETRY_MESSAGE_BYTES,
      linger: 0,
      sendHighWaterMark: 100,
      heartbeatInterval: 1000,
      heartbeatTimeout: 3000,
    });
    this.sender = new SerialSender(this.socket, 100);
  }

  async bind(endpoint: string): Promise<number> {
    await this.socket.bind(endpoint);
    const last = this.socket.lastEndpoint ?? '';
    return Number(last.slice(last.lastIndexOf(':') + 1));
  }

  publish(topic: string, body: unknown): void {
    this.sender.send([topic, JSON.stringify(body)]);
  }

  close(): void {
    this.socket.close();
  }
}
