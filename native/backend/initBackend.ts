import { BACKEND_NAMES } from '../common/names.js';
import { BackendNameSchema, type BackendName, type BackendPreference } from '../common/schemas.js';
import type { BackendReport } from '../protocol/inventorySchemas.js';
import { loadBackend, type LoadOptions, type LoadResult } from './loadBackend.js';
import type { Tf } from './tfTypes.js';

/**
 * Fallback order where nothing was measured (a process on its own: the bench, a reference run):
 * the first that loads and works is used. Stages started by an agent train on the backend the
 * agent measured fastest (backendChoice.ts), passed in as `prefer` with `measuredWhy`.
 */
export const BACKEND_ORDER: readonly BackendName[] = BACKEND_NAMES;

/** Environment variable that forces one backend for every Pipefitter process that reads it. */
export const BACKEND_ENV = 'PIPEFITTER_BACKEND';

export type { BackendPreference };

export interface InitBackendOptions {
  /** Force one backend ('auto' or absent: the best that works). Wins over the environment. */
  prefer?: BackendPreference;
  /** Where to read PIPEFITTER_BACKEND (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Why `prefer` was picked when it is the agent's measured choice (the run log says it). */
  measuredWhy?: string;
  /** Loader (tests substitute one to simulate machines they are not running on). */
  load?: (name: BackendName, opts: LoadOptions) => Promise<LoadResult>;
}

export interface BackendChoice {
  tf: Tf;
  name: BackendName;
  /** Who decided: the fallback order, the agent's measurement, the caller's option, or the environment. */
  chosenBy: 'auto' | 'measured' | 'option' | 'env';
  /** For 'measured': which backends were measured and how fast. */
  why?: string;
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
  const resolved = resolvePreference(opts.prefer, opts.env ?? process.env);
  const { order } = resolved;
  const measured = resolved.chosenBy === 'option' && opts.measuredWhy !== undefined;
  const chosenBy = measured ? 'measured' : resolved.chosenBy;
  const load = opts.load ?? loadBackend;
  // Only a person forcing webgpu gets a software adapter; a measurement never picks one anyway.
  const allowSoftware = resolved.chosenBy !== 'auto' && !measured;
  const reports: BackendReport[] = [];
  for (const name of order) {
    const result = await load(name, { allowSoftware });
    const adapter = result.adapter ? { adapter: result.adapter } : {};
    if (result.ok) {
      reports.push({ name, available: true, reason: null, detail: result.detail, ...adapter });
      return {
        tf: result.tf,
        name,
        chosenBy,
        reports,
        ...(measured ? { why: opts.measuredWhy } : {}),
      };
    }
    reports.push({ name, available: false, reason: result.reason, detail: null, ...adapter });
  }
  const why = reports.map((r) => `${r.name}: ${r.reason ?? 'failed'}`).join('; ');
  const forced =
    chosenBy === 'option' || chosenBy === 'measured'
      ? ' (forced by option)'
      : chosenBy === 'env'
        ? ` (forced by ${BACKEND_ENV})`
        : '';
  throw new NoBackendError(`no compute backend works${forced}: ${why}`, reports);
}

/** One line per backend for logs and the CLI: what was chosen, and why each before it was skipped. */
export function describeChoice(choice: Omit<BackendChoice, 'tf'>): string[] {
  const by = {
    auto: ' (first that works, nothing measured)',
    measured: ` (${choice.why ?? 'measured fastest'})`,
    env: ` (${BACKEND_ENV})`,
    option: ' (option)',
  }[choice.chosenBy];
  const lines = choice.reports.map((r) =>
    r.available
      ? `backend ${r.name}: chosen${by} — ${r.detail ?? ''}` +
        (r.adapter?.software
          ? ' — a software adapter (CPU rasteriser), used only because webgpu was forced'
          : '')
      : `backend ${r.name}: skipped — ${r.reason ?? 'failed'}`,
  );
  return lines;
}
