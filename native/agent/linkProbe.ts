import crypto from 'node:crypto';
import * as zmq from 'zeromq';
import {
  ControlReplySchema,
  LinkEchoResultSchema,
  type LinkMeasurement,
  type LinkPeer,
} from '../protocol/controlSchemas.js';
import { MAX_CONTROL_MESSAGE_BYTES, MAX_LINK_ECHO_CHARS } from '../protocol/limits.js';
import { ControlType, PROTOCOL_VERSION } from '../protocol/version.js';
import type { CurveKeyPair } from '../trust/keyPair.js';

export interface LinkProbeOptions {
  /** Small round trips timed (the best one counts). */
  smallRounds: number;
  /** Large payloads timed (the best one counts). */
  largeRounds: number;
  /** Characters of the large payload (base64), at most MAX_LINK_ECHO_CHARS. */
  largeChars: number;
  /** The whole measurement, connection included, gives up after this long. */
  timeoutMs: number;
}

export const DEFAULT_LINK_PROBE: LinkProbeOptions = {
  smallRounds: 10,
  largeRounds: 3,
  largeChars: 256 * 1024,
  timeoutMs: 3000,
};

/**
 * Times the link from this agent to `peer` over the peer's own control socket, as stages' tensors
 * would cross it: CURVE-encrypted ZeroMQ between the two machines. Latency is half the best small
 * round trip; the rate is a large payload's time beyond that round trip, so what it charges per
 * byte excludes what every message pays anyway. Sequential requests on one DEALER: nothing here
 * can queue up, and the socket is closed whatever happens.
 */
export async function measureLinkTo(
  peer: LinkPeer,
  keys: CurveKeyPair,
  options: Partial<LinkProbeOptions> = {},
): Promise<LinkMeasurement> {
  const o = { ...DEFAULT_LINK_PROBE, ...options };
  const largeChars = Math.min(o.largeChars, MAX_LINK_ECHO_CHARS) & ~3;
  const deadline = Date.now() + o.timeoutMs;
  const where = `${peer.host}:${peer.controlPort}`;
  let refused: string | null = null;
  const dealer = new zmq.Dealer({
    curveServerKey: peer.publicKey,
    curvePublicKey: keys.publicKey,
    curveSecretKey: keys.secretKey,
    maxMessageSize: MAX_CONTROL_MESSAGE_BYTES,
    linger: 0,
    sendHighWaterMark: 2,
    receiveHighWaterMark: 2,
  });
  dealer.events.on('handshake:error:auth', (e) => {
    refused = e.error.message;
  });
  let seq = 0;
  const echo = async (data: string): Promise<number> => {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`measuring the link to ${where} took over ${o.timeoutMs} ms`);
    dealer.sendTimeout = left;
    dealer.receiveTimeout = left;
    const id = `link-${++seq}`;
    const started = performance.now();
    await dealer.send(
      JSON.stringify({ v: PROTOCOL_VERSION, id, type: ControlType.LinkEcho, data }),
    );
    // Replies come in order on one DEALER; one of another id is a late answer to nothing of ours.
    for (;;) {
      const frames = await dealer.receive();
      const seconds = (performance.now() - started) / 1000;
      const reply = ControlReplySchema.safeParse(parseJson(frames.at(-1)?.toString() ?? ''));
      if (!reply.success || reply.data.id !== id) continue;
      if (!reply.data.ok)
        throw new Error(`${where} refused link.echo: ${reply.data.error.message}`);
      const result = LinkEchoResultSchema.safeParse(reply.data.result);
      if (!result.success || result.data.chars !== data.length)
        throw new Error(`${where} answered link.echo with the wrong size`);
      return seconds;
    }
  };
  try {
    dealer.connect(`tcp://${peer.host}:${peer.controlPort}`);
    const small = crypto.randomBytes(48).toString('base64');
    const large = crypto.randomBytes((largeChars / 4) * 3).toString('base64');
    // The first round trip carries the CURVE handshake, the first large one the buffers' growth.
    await echo(small);
    await echo(large);
    let rtt = Infinity;
    for (let i = 0; i < o.smallRounds; i++) rtt = Math.min(rtt, await echo(small));
    let big = Infinity;
    for (let i = 0; i < o.largeRounds; i++) big = Math.min(big, await echo(large));
    return {
      latencySeconds: sig(Math.max(rtt / 2, 1e-7)),
      bytesPerSecond: sig(largeChars / Math.max(big - rtt, 1e-6)),
    };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EAGAIN')
      throw new Error(
        refused
          ? `${where} refused this agent's key (${refused}): is it in another lab?`
          : `no answer from ${where} within ${o.timeoutMs} ms`,
      );
    throw err;
  } finally {
    dealer.close();
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

const sig = (x: number) => Number(x.toPrecision(3));
