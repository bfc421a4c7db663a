import path from 'node:path';
import { readJsonFile, writeFileAtomic } from '../util/fsAtomic.js';

interface TrustedKeysFile {
  keys: { publicKey: string; addedAt: number; note: string }[];
}

/** Coordinator public keys this agent trusts, persisted so a known coordinator needs no token next time. */
export class TrustedKeys {
  private readonly file: string;
  private readonly keys = new Map<string, { addedAt: number; note: string }>();

  constructor(stateDir: string) {
    this.file = path.join(stateDir, 'trusted-coordinators.json');
    const data = readJsonFile<TrustedKeysFile>(this.file);
    for (const k of data?.keys ?? [])
      this.keys.set(k.publicKey, { addedAt: k.addedAt, note: k.note });
  }

  has(publicKey: string): boolean {
    return this.keys.has(publicKey);
  }

  add(publicKey: string, note: string): void {
    if (this.keys.has(publicKey)) return;
    this.keys.set(publicKey, { addedAt: Date.now(), note });
    const keys = [...this.keys].map(([k, v]) => ({ publicKey: k, ...v }));
    writeFileAtomic(this.file, JSON.stringify({ keys }, null, 2) + '\n');
  }

  list(): string[] {
    return [...this.keys.keys()];
  }

  get size(): number {
    return this.keys.size;
  }
}
