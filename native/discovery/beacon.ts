import crypto from 'node:crypto';
import { MAX_BEACON_BYTES } from '../protocol/limits.js';

/**
 * ZRE-style beacon: a fixed binary header then length-prefixed strings.
 *   'PFB' signature (3 bytes) | version (u8) | control port (u16 BE) | flags (u8: bit 0 = signed)
 *   node id | cluster | name | advertised address (each u8 len + utf8; address empty = use the sender's)
 *   | curve public key (40 z85 chars) | [tag: 16 bytes, when flags has SIGNED]
 * The server key rides along so a coordinator can open a CURVE connection without a second round trip.
 * The tag is HMAC-SHA256 (truncated to 128 bits) of everything before it, keyed by the lab's beacon key
 * (derived from the token, like the lab key pair): a coordinator that holds the token drops a
 * stranger's beacon before it allocates anything for it.
 */
export const BEACON_SIGNATURE = Buffer.from('PFB', 'ascii');
export const BEACON_VERSION = 1;
export const DEFAULT_BEACON_PORT = 47800;
export const BEACON_FLAG_SIGNED = 0x01;
export const BEACON_TAG_BYTES = 16;

export interface Beacon {
  version: number;
  nodeId: string;
  cluster: string;
  name: string;
  controlPort: number;
  /** Address the agent asks to be reached at; empty means the datagram's source address. */
  address: string;
  publicKey: string;
}

export type BeaconDecodeResult =
  | { ok: true; beacon: Beacon; signed?: true }
  | { ok: false; reason: 'signature' | 'version' | 'truncated' | 'oversized' | 'invalid' };

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

function pushString(parts: Buffer[], value: string, what: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > 255) throw new Error(`beacon ${what} is longer than 255 bytes`);
  parts.push(Buffer.from([bytes.length]), bytes);
}

function beaconTag(key: Buffer, body: Buffer): Buffer {
  return crypto.createHmac('sha256', key).update(body).digest().subarray(0, BEACON_TAG_BYTES);
}

/** Encodes a beacon; with the lab's beacon key it carries the tag that proves the token. */
export function encodeBeacon(
  b: Omit<Beacon, 'version'> & { version?: number },
  beaconKey?: Buffer,
): Buffer {
  if (!Z85_KEY.test(b.publicKey))
    throw new Error('beacon public key must be a 40-character z85 CURVE key');
  const header = Buffer.alloc(7);
  BEACON_SIGNATURE.copy(header, 0);
  header.writeUInt8(b.version ?? BEACON_VERSION, 3);
  header.writeUInt16BE(b.controlPort, 4);
  header.writeUInt8(beaconKey ? BEACON_FLAG_SIGNED : 0, 6);
  const parts: Buffer[] = [header];
  pushString(parts, b.nodeId, 'node id');
  pushString(parts, b.cluster, 'cluster');
  pushString(parts, b.name, 'name');
  pushString(parts, b.address, 'address');
  parts.push(Buffer.from(b.publicKey, 'ascii'));
  if (beaconKey) parts.push(beaconTag(beaconKey, Buffer.concat(parts)));
  const out = Buffer.concat(parts);
  if (out.length > MAX_BEACON_BYTES)
    throw new Error(`beacon of ${out.length} bytes exceeds ${MAX_BEACON_BYTES}`);
  return out;
}

/** Decodes a datagram. Never throws: anything that is not our beacon is reported with a reason. */
export function decodeBeacon(buf: Buffer): BeaconDecodeResult {
  if (buf.length > MAX_BEACON_BYTES) return { ok: false, reason: 'oversized' };
  if (buf.length < 7 || !buf.subarray(0, 3).equals(BEACON_SIGNATURE)) {
    return { ok: false, reason: buf.length < 3 ? 'truncated' : 'signature' };
  }
  const version = buf.readUInt8(3);
  if (version !== BEACON_VERSION) return { ok: false, reason: 'version' };
  const controlPort = buf.readUInt16BE(4);
  const flags = buf.readUInt8(6);
  let at = 7;
  const strings: string[] = [];
  for (let i = 0; i < 4; i++) {
    if (at >= buf.length) return { ok: false, reason: 'truncated' };
    const len = buf.readUInt8(at);
    at += 1;
    if (at + len > buf.length) return { ok: false, reason: 'truncated' };
    strings.push(buf.toString('utf8', at, at + len));
    at += len;
  }
  if (at + 40 > buf.length) return { ok: false, reason: 'truncated' };
  const publicKey = buf.toString('ascii', at, at + 40);
  at += 40;
  const signed = (flags & BEACON_FLAG_SIGNED) !== 0;
  if (signed) at += BEACON_TAG_BYTES;
  const [nodeId, cluster, name, address] = strings as [string, string, string, string];
  if (
    at !== buf.length ||
    (flags & ~BEACON_FLAG_SIGNED) !== 0 ||
    controlPort === 0 ||
    nodeId.length === 0 ||
    !Z85_KEY.test(publicKey)
  ) {
    return { ok: false, reason: 'invalid' };
  }
  const beacon = { version, nodeId, cluster, name, controlPort, address, publicKey };
  return signed ? { ok: true, beacon, signed: true } : { ok: true, beacon };
}

/**
 * True when a datagram that decoded as a beacon carries a tag made with this beacon key. Constant-time
 * compare; an unsigned beacon is never authentic.
 */
export function isAuthenticBeacon(buf: Buffer, beaconKey: Buffer): boolean {
  if (buf.length < 7 + BEACON_TAG_BYTES || (buf.readUInt8(6) & BEACON_FLAG_SIGNED) === 0)
    return false;
  const body = buf.subarray(0, buf.length - BEACON_TAG_BYTES);
  const tag = buf.subarray(buf.length - BEACON_TAG_BYTES);
  return crypto.timingSafeEqual(beaconTag(beaconKey, body), tag);
}
