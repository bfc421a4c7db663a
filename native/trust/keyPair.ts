import path from 'node:path';
import * as zmq from 'zeromq';
import { readJsonFile, writeFileAtomic } from '../util/fsAtomic.js';

export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/** Loads this process's CURVE key pair from the state dir, creating it (mode 0600) on first use. */
export function loadOrCreateKeyPair(stateDir: string, fileName: string): CurveKeyPair {
  const file = path.join(stateDir, fileName);
  const existing = readJsonFile<CurveKeyPair>(file);
  if (
    existing &&
    typeof existing.publicKey === 'string' &&
    typeof existing.secretKey === 'string'
  ) {
    return existing;
  }
  const pair = zmq.curveKeyPair();
  writeFileAtomic(file, JSON.stringify(pair, null, 2) + '\n');
  return pair;
}
