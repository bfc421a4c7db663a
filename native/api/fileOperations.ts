/**
 * Operations whose request is a file the person chose, `{text, fileName}`. Browser mode sends them as
 * an HTTP upload (POST /api/upload/<op>, streamed, up to MAX_FILE_BYTES) rather than over the API's
 * WebSocket, whose messages stay small; Electron's IPC carries them as any other call.
 */
export const FILE_OPERATIONS = ['importModel', 'openPlan'] as const;
export type FileOperationName = (typeof FILE_OPERATIONS)[number];

export function isFileOperation(op: unknown): op is FileOperationName {
  return typeof op === 'string' && (FILE_OPERATIONS as readonly string[]).includes(op);
}

/**
 * The largest file an operation takes: 64 MiB (a real model.json is kilobytes to a few megabytes). A
 * literal, so the renderer can check a file's size against the type without importing a value.
 */
export const MAX_FILE_BYTES = 67_108_864;
export type MaxFileBytes = typeof MAX_FILE_BYTES;
