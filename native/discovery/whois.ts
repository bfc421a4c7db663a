import dgram from 'node:dgram';
import { decodeBeacon, isAuthenticBeacon, type Beacon } from './beacon.js';

/**
 * Adding a machine by address: the coordinator sends a WHOIS datagram to the agent's control port number
 * over UDP, and the agent answers with its beacon (node id, CURVE public key) by unicast. The request is
 * padded to the reply's size so the agent can never be used to amplify traffic.
 */
export const WHOIS_SIGNATURE = Buffer.from('PFW', 'ascii');
export const WHOIS_BYTES = 256;

export function encodeWhois(): Buffer {
  const buf = Buffer.alloc(WHOIS_BYTES);
  WHOIS_SIGNATURE.copy(buf, 0);
  buf.writeUInt8(1, 3);
  return buf;
}

export function isWhois(buf: Buffer): boolean {
  return (
    buf.length === WHOIS_BYTES &&
    buf.subarray(0, 3).equals(WHOIS_SIGNATURE) &&
    buf.readUInt8(3) === 1
  );
}

/** Agent side: answers WHOIS on UDP <port> (the control port's number) with the given beacon. */
export class WhoisResponder {
  private socket: dgram.Socket | null = null;
  constructor(private readonly beacon: Buffer) {}

  async start(host: string, port: number): Promise<void> {
    const socket = dgram.createSocket('udp4');
    socket.on('message', (msg, rinfo) => {
      if (isWhois(msg)) socket.send(this.beacon, rinfo.port, rinfo.address, () => {});
    });
    socket.on('error', () => {});
    await new Promise<void>((resolve) => {
      // A UDP port already taken only costs "add by address"; beacons and control still work.
      socket.once('error', () => resolve());
      socket.bind(port, host, () => resolve());
    });
    socket.unref();
    this.socket = socket;
  }

  async stop(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve())).catch(() => {});
  }
}

/**
 * Coordinator side: asks host:port who is there. Resolves with its beacon or rejects with why not. With
 * the lab's beacon key, an answer not signed with it is refused: that agent does not hold our token.
 */
export async function whois(
  host: string,
  port: number,
  timeoutMs = 2000,
  beaconKey?: Buffer,
): Promise<Beacon> {
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<Beacon>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `nothing answers at ${host}:${port} (is the agent running there, and is the port open?)`,
            ),
          ),
        timeoutMs,
      );
      let tries = 0;
      const ask = () => {
        socket.send(encodeWhois(), port, host, (err) => {
          if (err) {
            clearTimeout(timer);
            reject(new Error(`cannot reach ${host}:${port}: ${err.message}`));
          }
        });
      };
      socket.on('message', (msg) => {
        const d = decodeBeacon(msg);
        if (!d.ok) return;
        clearTimeout(timer);
        clearInterval(retry);
        if (beaconKey && !isAuthenticBeacon(msg, beaconKey)) {
          reject(
            new Error(
              `the agent at ${host}:${port} answered, but its beacon is not signed with this lab's token: wrong or missing lab token (copy the token from <state-dir>/token on the lab's first machine)`,
            ),
          );
          return;
        }
        resolve(d.beacon);
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot reach ${host}:${port}: ${err.message}`));
      });
      ask();
      // UDP may drop the first datagram (ARP still resolving): ask a few times within the timeout.
      const retry = setInterval(() => (++tries < 4 ? ask() : clearInterval(retry)), timeoutMs / 4);
      timer.unref();
    });
  } finally {
    socket.close();
  }
}
