// The sandboxed preload: one named function per API operation on window.pipefitter, never ipcRenderer
// itself, so the page can only ask for what the API offers. Main validates every call again.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC_EVENT_CHANNEL, ipcChannel, OPERATION_NAMES } from '../native/api/operationNames.js';

const bridge: Record<string, unknown> = {};
for (const op of OPERATION_NAMES) {
  bridge[op] = (request: unknown) => ipcRenderer.invoke(ipcChannel(op), request);
}
bridge.onEvents = (listener: (batch: unknown) => void) => {
  if (typeof listener !== 'function') throw new TypeError('onEvents needs a function');
  const handler = (_e: IpcRendererEvent, batch: unknown) => listener(batch);
  ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
  return () => {
    ipcRenderer.off(IPC_EVENT_CHANNEL, handler);
  };
};

contextBridge.exposeInMainWorld('pipefitter', bridge);
