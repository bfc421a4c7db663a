import * as zmq from 'zeromq';
import type { CurveKeyPair } from '../../native/trust/keyPair.js';

/** A bare DEALER to an agent's control port, for sending frames the real client never would. */
export function rawDealer(
  host: string,
  port: number,
  serverKey: string,
  client: CurveKeyPair,
): zmq.Dealer {
  const d = new zmq.Dealer({
    curveServerKey: serverKey,
    curvePublicKey: client.publicKey,
    curveSecretKey: client.secretKey,
    linger: 0,
    receiveTimeout: 3000,
    sendHighWaterMark: 100_000,
    receiveHighWaterMark: 100_000,
  });
  d.connect(`tcp://${host}:${port}`);
  return d;
}

export async function requestJson(d: zmq.Dealer, body: unknown): Promise<Record<string, unknown>> {
  await d.send(JSON.stringify(body));
  const [reply] = await d.receive();
  return JSON.parse(reply!.toString()) as Record<string, unknown>;
}
