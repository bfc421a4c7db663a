import type { IpcMain, IpcMainInvokeEvent, WebContents } from 'electron';
import type { ApiServer } from '../native/api/server.js';
import { IPC_EVENT_CHANNEL, ipcChannel, OPERATION_NAMES } from '../native/api/operationNames.js';
import type { ApiResult } from '../native/api/schemas.js';
import { isAppUrl } from './appOrigin.js';

/**
 * One IPC handler per operation. Before the engine sees a call: the sender must be our window's main
 * frame showing our own page (not an iframe, not a page that navigated elsewhere); then the API server
 * validates the payload against the operation's schema. ipcMain is passed in so tests can drive the
 * checks without Electron.
 */
export function bridgeApi(
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>,
  api: ApiServer,
  window: () => WebContents | null,
): () => void {
  const senderAllowed = (e: IpcMainInvokeEvent): boolean => {
    const wc = window();
    const frame = e.senderFrame;
    return (
      wc !== null &&
      e.sender === wc &&
      frame !== null &&
      frame === wc.mainFrame &&
      isAppUrl(frame.url)
    );
  };
  for (const op of OPERATION_NAMES) {
    ipcMain.handle(ipcChannel(op), async (e, request: unknown): Promise<ApiResult> => {
      if (!senderAllowed(e))
        return {
          ok: false,
          error: { code: 'forbidden', message: `${op}: refused a call from an unknown frame` },
        };
      return api.call(op, request);
    });
  }
  const unsubscribe = api.subscribe((batch) => {
    const wc = window();
    if (wc && !wc.isDestroyed()) wc.send(IPC_EVENT_CHANNEL, batch);
  });
  return () => {
    unsubscribe();
    for (const op of OPERATION_NAMES) ipcMain.removeHandler(ipcChannel(op));
  };
}
