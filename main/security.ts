import { app, shell, type Session, type WebContents } from 'electron';
import { isAppUrl } from './appOrigin.js';

/** External links go to the system browser, and only http(s): never file:, javascript: or custom schemes. */
export function openExternalSafely(url: string): void {
  try {
    const u = new URL(url);
    if (u.protocol === 'https:' || u.protocol === 'http:') void shell.openExternal(u.toString());
  } catch {
    // not a URL: ignore
  }
}

/** Denies every permission (camera, notifications, geolocation…): the app needs none. */
export function lockDownSession(session: Session): void {
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
}

/** Every web contents, present and future: no navigation away, no new windows, no webviews. */
export function lockDownWebContents(): void {
  app.on('web-contents-created', (_e, contents: WebContents) => {
    contents.on('will-navigate', (event, url) => {
      if (!isAppUrl(url) || url !== contents.getURL()) {
        event.preventDefault();
        openExternalSafely(url);
      }
    });
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(({ url }) => {
      openExternalSafely(url);
      return { action: 'deny' };
    });
  });
}
