import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../util/fsAtomic.js';

/** Where Pipefitter keeps its keys, token and caches: --state-dir, else $PIPEFITTER_HOME, else ~/.pipefitter. */
export function defaultStateRoot(): string {
  return process.env.PIPEFITTER_HOME || path.join(os.homedir(), '.pipefitter');
}

/**
 * A stable node id, made once and kept in the state dir. Cloning a home directory clones it too; the
 * coordinator reports two live agents with one id as a conflict rather than merging them.
 */
export function loadOrCreateNodeId(dir: string): string {
  const file = path.join(dir, 'node-id');
  try {
    const id = fs.readFileSync(file, 'utf8').trim();
    if (/^[0-9a-f-]{8,64}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = crypto.randomUUID();
  writeFileAtomic(file, id + '\n', 0o644);
  return id;
}
