import { UI_CSP } from '../native/web/uiAssets.js';

/** The only origin our pages load from (a custom, standard, secure scheme: see appProtocol.ts). */
export const APP_ORIGIN = 'app://pipefitter';

/** The pages' Content-Security-Policy: the same one browser mode sends. */
export const CSP = UI_CSP;

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
