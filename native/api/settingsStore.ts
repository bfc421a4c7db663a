import path from 'node:path';
import { readJsonFile, writeFileAtomic } from '../util/fsAtomic.js';
import { SettingsSchema, type Settings } from './schemas.js';

const DEFAULTS: Settings = { localAgent: true };

/** App settings, kept in <state-dir>/app-settings.json; a damaged file falls back to the defaults. */
export class SettingsStore {
  private readonly file: string;
  private current: Settings;

  constructor(stateDir: string, overrides: Partial<Settings> = {}) {
    this.file = path.join(stateDir, 'app-settings.json');
    const saved = SettingsSchema.partial().safeParse(readJsonFile<unknown>(this.file) ?? {});
    this.current = { ...DEFAULTS, ...(saved.success ? saved.data : {}), ...overrides };
  }

  get(): Settings {
    return { ...this.current };
  }

  update(patch: Partial<Settings>): Settings {
    this.current = { ...this.current, ...patch };
    writeFileAtomic(this.file, JSON.stringify(this.current, null, 2) + '\n', 0o644);
    return this.get();
  }
}
