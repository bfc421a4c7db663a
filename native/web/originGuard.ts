import crypto from 'node:crypto';
import os from 'node:os';

/**
 * Which Host headers count as "ourselves". A page on another site can make a browser send requests to
 * 127.0.0.1 (and DNS rebinding can even make them same-origin under an attacker's name), so every request
 * must name us in Host, and a browser's Origin must be exactly our own.
 */
export function allowedHosts(bindHost: string, port: number): Set<string> {
  const names = new Set<string>();
  const add = (h: string) => names.add(`${h.includes(':') ? `[${h}]` : h}:${port}`.toLowerCase());
  const loopback = ['127.0.0.1', 'localhost', '::1'];
  if (loopback.includes(bindHost)) loopback.forEach(add);
  else if (bindHost === '0.0.0.0' || bindHost === '::') {
    loopback.forEach(add);
    add(os.hostname());
    for (const addrs of Object.values(os.networkInterfaces()))
      for (const a of addrs ?? []) add(a.address);
  } else add(bindHost);
  return names;
}

export function hostAllowed(hostHeader: string | undefined, allowed: Set<string>): boolean {
  return hostHeader !== undefined && allowed.has(hostHeader.toLowerCase());
}

/** Origin, when a browser sends one, must be this very server: http://<our Host>. */
export function originAllowed(
  origin: string | undefined,
  hostHeader: string | undefined,
  allowed: Set<string>,
): boolean {
  if (origin === undefined) return true;
  if (!hostAllowed(hostHeader, allowed)) return false;
  return origin.toLowerCase() === `http://${hostHeader!.toLowerCase()}`;
}

export function tokensEqual(given: string | null | undefined, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name)
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null; // "%zz": not a token we could have set
      }
  }
  return null;
}

export function generateWebToken(): string {
  return crypto.randomBytes(24).toString('hex');
}
