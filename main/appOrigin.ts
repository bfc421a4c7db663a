/** The only origin our pages load from (a custom, standard, secure scheme: see appProtocol.ts). */
export const APP_ORIGIN = 'app://pipefitter';

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'none'",
].join('; ');

/**
 * Compares scheme and host, not `URL.origin`: main runs Node's URL, for which a custom scheme's origin
 * is always "null" (only Chromium knows app: is registered as standard).
 */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'app:' && u.host === 'pipefitter' && !u.username && !u.password;
  } catch {
    return false;
  }
}
