import type { Host, PreloadBridge } from '../../native/api/types.js';
import { createIpcHost } from './ipcHost.js';
import { createWsHost } from './wsHost.js';

declare global {
  interface Window {
    pipefitter?: PreloadBridge;
  }
}

/**
 * The only place that knows two hosts exist. Everything else gets a Host and cannot tell which.
 * Browser mode: the token arrives once in the URL (like Jupyter); it is taken out of the address bar so
 * it does not end up in screenshots or bookmarks, and the server's cookie carries it from then on.
 */
export function selectHost(): Host {
  if (window.pipefitter) return createIpcHost(window.pipefitter);
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  if (token) {
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? `?${rest}` : '') + location.hash);
  }
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = token ? `?token=${encodeURIComponent(token)}` : '';
  return createWsHost(`${proto}//${location.host}/api${q}`);
}
