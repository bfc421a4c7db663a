import { BACKEND_NAMES } from '../common/names.js';
import { BackendNameSchema, type BackendName, type BackendPreference } from '../common/schemas.js';
import type { BackendReport } from '../protocol/inventorySchemas.js';
import { loadBackend, type LoadResult } from './loadBackend.js';
import type { Tf } from './tfTypes.js';

/** Preference order: the first that loads and works is the one a stage trains with. */
export const BACKEND_ORDER: readonly BackendName[] = BACKEND_NAMES;

/** Environment variable that forces one backend for every Pipefitter process that reads it. */
export const BACKEND_ENV = 'PIPEFITTER_BACKEND';

export type { BackendPreference };

export interface InitBackendOptions {
  /** Force one backend ('auto' or absent: the best that works). Wins over the environment. */
  prefer?: BackendPreference;
  /** Where to read PIPEFITTER_BACKEND (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Loader (tests substitute one to simulate machines they are not running on). */
  load?: (name: BackendName) => Promise<LoadResult>;
}

export interface BackendChoice {
  tf: Tf;
  name: BackendName;
  /** Who decided: the automatic order, the caller's option, or the environment variable. */
  chosenBy: 'auto' | 'option' | 'env';
  /** Every backend tried, in order: the skipped ones with why, the chosen one last. */
  reports: BackendReport[];
}

/** No backend could be used; `reports` says why for each one tried. */
export class NoBackendError extends Error {
  constructor(
    message: string,
    readonly reports: BackendReport[],
  ) {
    super(message);
    this.name = 'NoBackendError';
  }
}

/** Which backends to try, in order, and who asked; throws on a preference that names no backend. */
export function resolvePreference(
  prefer: BackendPreference | undefined,
  env: NodeJS.ProcessEnv,
): { order: readonly BackendName[]; chosenBy: BackendChoice['chosenBy'] } {
  if (prefer !== undefined && prefer !== 'auto') return { order: [prefer], chosenBy: 'option' };
  const fromEnv = env[BACKEND_ENV]?.trim();
  if (prefer === undefined && fromEnv && fromEnv !== 'auto') {
    const parsed = BackendNameSchema.safeParse(fromEnv);
    if (!parsed.success)
      throw new NoBackendError(
        `${BACKEND_ENV}=${fromEnv} names no backend; use one of auto, ${BACKEND_ORDER.join(', ')}`,
        [],
      );
    return { order: [parsed.data], chosenBy: 'env' };
  }
  return { order: BACKEND_ORDER, chosenBy: 'auto' };
}

/**
 * Picks this process's compute backend, makes it TensorFlow.js's active backend and returns the
 * namespace to train with. A forced backend (option or PIPEFITTER_BACKEND) that does not work is an
 * error rather than a silent fallback: whoever forced it wants to know.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendChoice> {
  const { order, chosenBy } = resolvePreference(opts.prefer, opts.env ?? process.env);
  const load = opts.load ?? loadBackend;
  const reports: BackendReport[] = [];
  for (const name of order) {
    const result = await load(name);
    if (result.ok) {
      reports.push({ name, available: true, reason: null, detail: result.detail });
      return { tf: result.tf, name, chosenBy, reports };
    }
    reports.push({ name, available: false, reason: result.reason, detail: null });
  }
  const why = reports.map((r) => `${r.name}: ${r.reason ?? 'failed'}`).join('; ');
  const forced =
    chosenBy === 'option'
      ? ' (forced by option)'
      : chosenBy === 'env'
        ? ` (forced by ${BACKEND_ENV})`
        : '';
  throw new NoBackendError(`no compute backend works${forced}: ${why}`, reports);
}

/** One line per backend for logs and the CLI: what was chosen, and why each before it was skipped. */
export function describeChoice(choice: Omit<BackendChoice, 'tf'>): string[] {
  const lines = choice.reports.map((r) =>
    r.available
      ? `backend ${r.name}: chosen${choice.chosenBy === 'auto' ? '' : choice.chosenBy === 'env' ? ` (${BACKEND_ENV})` : ' (option)'} — ${r.detail ?? ''}`
      : `backend ${r.name}: skipped — ${r.reason ?? 'failed'}`,
  );
  return lines;
}
