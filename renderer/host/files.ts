import type { MaxFileBytes } from '../../native/api/fileOperations.js';
import { HostError } from './makeApi.js';

/** The engine's limit on a file (fileOperations.ts); the type keeps the two equal. */
export const MAX_FILE_BYTES: MaxFileBytes = 67_108_864;

/**
 * A file the person chose, as a file operation's request. Refused here when it is over the limit, so
 * a huge file is neither read into the page nor sent.
 */
export async function readChosenFile(file: File): Promise<{ text: string; fileName: string }> {
  if (file.size > MAX_FILE_BYTES)
    throw new HostError(
      'too-large',
      `${(file.size / (1 << 20)).toFixed(0)} MiB; Pipefitter takes files up to 64 MiB`,
    );
  return { text: await file.text(), fileName: file.name };
}
