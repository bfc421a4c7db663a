import * as zmq from 'zeromq';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import type { RingLink, RingMessage } from './ringAllReduce.js';

/** The most one ring message may carry unless told otherwise: a 256 MiB segment. */
export const DEFAULT_MAX_SEGMENT_BYTES = 256 * 2 ** 20;
/** Messages received and not yet taken: past this the link stops reading (ZeroMQ then holds back). */
const MAX_QUEUED = 8;

interface Header {
  v: number;
  tag: number;
  round: number;
  segment: number;
  offset: number;
  length: number;
}

function parseHeader(frame: Buffer | undefined): Header {
  let h: unknown;
  try {
    h = JSON.parse(frame?.toString('utf8') ?? '');
  } catch {
    throw new Error('a ring message header that is not JSON');
  }
  const o = h as Partial<Header> | null;
  const int = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  if (
    !o ||
    !int(o.v) ||
    !int(o.tag) ||
    !int(o.round) ||
    !int(o.segment) ||
    !int(o.offset) ||
    !int(o.length)
  )
    throw new Error(`a malformed ring message header: ${frame?.toString('utf8').slice(0, 200)}`);
  if (o.v !== PROTOCOL_VERSION)
    throw new Error(`a ring message of protocol ${o.v}, not ${PROTOCOL_VERSION}`);
  return o as Header;
}

/**
 * A ring link over ZeroMQ with CurveZMQ encryption: this rank's PULL (a CURVE server) receives from the
 * previous rank, a PUSH connected to the next rank's PULL sends. A message is a JSON header and the
 * values as raw little-endian float32 bytes; its size is bounded (ZeroMQ drops a larger one before it
 * is allocated), and a header that does not match its bytes fails the receive, saying why.
 */
export class ZmqRingLink implements RingLink {
  private readonly pull: zmq.Pull;
  private push: zmq.Push | null = null;
  private readonly queue: RingMessage[] = [];
  private readonly waiting: { resolve: (m: RingMessage) => void; reject: (e: Error) => void }[] =
    [];
  private failure: Error | null = null;
  private sending: Promise<void> = Promise.resolve();
  private wake: (() => void) | null = null;
  /** This rank's CURVE public key: the previous rank connects with it. */
  readonly publicKey: string;

  private constructor(
    private readonly maxSegmentBytes: number,
    readonly endpoint: string,
    pull: zmq.Pull,
    publicKey: string,
  ) {
    this.pull = pull;
    this.publicKey = publicKey;
    void this.readLoop();
  }

  /**
   * Binds this rank's receiving end on `host` (an ephemeral port). With `zapDomain`, the process's ZAP
   * handler decides who may connect (a stage admits only its replicas' machines).
   */
  static async open(
    opts: {
      host?: string;
      maxSegmentBytes?: number;
      keys?: { publicKey: string; secretKey: string };
      zapDomain?: string;
    } = {},
  ): Promise<ZmqRingLink> {
    const keys = opts.keys ?? zmq.curveKeyPair();
    const max = opts.maxSegmentBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    const pull = new zmq.Pull({
      curveServer: true,
      curveSecretKey: keys.secretKey,
      ...(opts.zapDomain ? { zapDomain: opts.zapDomain } : {}),
      // Header and values, with room for the header.
      maxMessageSize: max + 4096,
      linger: 0,
    });
    await pull.bind(`tcp://${opts.host ?? '127.0.0.1'}:*`);
    return new ZmqRingLink(max, pull.lastEndpoint!, pull, keys.publicKey);
  }

  /**
   * Connects to the next rank's receiving end (its endpoint and CURVE public key), as `keys` (the
   * identity the next rank admits; absent: a fresh one).
   */
  connectNext(
    endpoint: string,
    serverPublicKey: string,
    keys: { publicKey: string; secretKey: string } = zmq.curveKeyPair(),
  ): void {
    this.push = new zmq.Push({
      curveServerKey: serverPublicKey,
      curvePublicKey: keys.publicKey,
      curveSecretKey: keys.secretKey,
      linger: 0,
      sendHighWaterMark: 4,
    });
    this.push.connect(endpoint);
  }

  send(m: RingMessage): Promise<void> {
    if (!this.push) return Promise.reject(new Error('the ring link has no next rank yet'));
    if (m.data.byteLength > this.maxSegmentBytes)
      return Promise.reject(
        new Error(`a ring segment of ${m.data.byteLength} bytes is over ${this.maxSegmentBytes}`),
      );
    const header = JSON.stringify({
      v: PROTOCOL_VERSION,
      tag: m.tag,
      round: m.round,
      segment: m.segment,
      offset: m.offset,
      length: m.data.length,
    });
    const bytes = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    // zeromq.js takes one send at a time on a socket; order is kept.
    const p = this.sending.then(() => this.push!.send([header, bytes]));
    this.sending = p.catch(() => {});
    return p;
  }

  recv(): Promise<RingMessage> {
    const m = this.queue.shift();
    if (m) {
      this.wake?.();
      return Promise.resolve(m);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private async readLoop(): Promise<void> {
    try {
      for await (const [head, body] of this.pull) {
        const h = parseHeader(head);
        if (!body || body.length !== h.length * 4)
          throw new Error(
            `a ring message says ${h.length} values but carries ${body?.length ?? 0} bytes`,
          );
        // Copied out: the frame's bytes need not be 4-byte aligned for a Float32Array view.
        const data = new Float32Array(h.length);
        Buffer.from(data.buffer).set(body);
        const m: RingMessage = {
          tag: h.tag,
          round: h.round,
          segment: h.segment,
          offset: h.offset,
          data,
        };
        const w = this.waiting.shift();
        if (w) w.resolve(m);
        else this.queue.push(m);
        while (this.queue.length >= MAX_QUEUED) await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
      }
    } catch (err) {
      if (this.pull.closed) return;
      this.failure = err as Error;
      for (const w of this.waiting.splice(0)) w.reject(this.failure);
    }
  }

  close(): void {
    this.push?.close();
    this.pull.close();
    const closed = new Error('the ring link is closed');
    this.failure ??= closed;
    for (const w of this.waiting.splice(0)) w.reject(closed);
  }
}
