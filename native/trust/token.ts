import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../util/fsAtomic.js';
import { z85Encode } from '../util/z85.js';

export const TOKEN_FILE = 'token';
const TOKEN_PATTERN = /^pf1\.[0-9a-f]{32}$/;

/** A lab join token: 128 random bits, recognisable prefix so people can tell it from other secrets. */
export function generateToken(): string {
  return `pf1.${crypto.randomBytes(16).toString('hex')}`;
}

export function isValidToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

export interface TokenSource {
  token: string;
  /** True when this call created it: the caller shows it to the user once, like a kubeadm join token. */
  created: boolean;
  file: string;
}

/** Reads the lab token from a file, or makes and stores one on first run. */
export function loadOrCreateToken(
  stateDir: string,
  file = path.join(stateDir, TOKEN_FILE),
): TokenSource {
  try {
    const token = fs.readFileSync(file, 'utf8').trim();
    if (!isValidToken(token))
      throw new Error(`${file} does not hold a Pipefitter token (pf1.<32 hex>)`);
    return { token, created: false, file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = generateToken();
  writeFileAtomic(file, token + '\n');
  return { token, created: true, file };
}

export function readTokenFile(file: string): string {
  const token = fs.readFileSync(file, 'utf8').trim();
  if (!isValidToken(token))
    throw new Error(`${file} does not hold a Pipefitter token (pf1.<32 hex>)`);
  return token;
}

/**
 * The lab's beacon key: the HMAC key that signs every agent's beacon, derived from the token like the
 * lab key pair (its own label, so neither key says anything about the other).
 */
export function beaconKey(token: string): Buffer {
  return crypto.createHash('sha256').update(`pipefitter-beacon-key-v1\n${token}`).digest();
}

const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/**
 * The lab key pair: a CURVE key pair derived from the token, the same on every machine that holds it.
 * A coordinator with the token connects with this key; agents admit it at the CURVE handshake (ZAP), so
 * the token never crosses the wire and a stranger is refused before it can send or read a single message.
 */
export function labKeyPair(token: string): { publicKey: string; secretKey: string } {
  const seed = crypto.createHash('sha256').update(`pipefitter-lab-key-v1\n${token}`).digest();
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  // libsodium clamps the scalar itself, so the raw seed is the secret key as CURVE expects it.
  return { publicKey: z85Encode(spki.subarray(spki.length - 32)), secretKey: z85Encode(seed) };
}
