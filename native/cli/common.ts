import path from 'node:path';
import { defaultStateRoot } from '../agent/stateDir.js';
import { isValidToken, loadOrCreateToken, readTokenFile } from '../trust/token.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { MAX_CHUNKS } from '../common/names.js';
import type { ScheduleKind } from '../common/schemas.js';
import { intOption, UsageError, type Command } from './command.js';

export const trustOptions = {
  'state-dir': {
    type: 'string',
    valueName: 'dir',
    description: 'where keys, token and caches live (default $PIPEFITTER_HOME or ~/.pipefitter)',
  },
  token: {
    type: 'string',
    valueName: 'token',
    description: "the lab's join token (default $PIPEFITTER_TOKEN, else <state-dir>/token)",
  },
  'token-file': {
    type: 'string',
    valueName: 'file',
    description: 'read the lab token from this file',
  },
  cluster: {
    type: 'string',
    valueName: 'name',
    description: 'lab namespace: agents of another cluster are ignored (default "default")',
  },
  'beacon-port': {
    type: 'string',
    valueName: 'port',
    description: 'UDP port for discovery beacons (default 47800)',
  },
} satisfies Command['options'];

export function stateDirFrom(values: Record<string, unknown>): string {
  return path.resolve((values['state-dir'] as string | undefined) ?? defaultStateRoot());
}

/**
 * The lab token: --token, --token-file, $PIPEFITTER_TOKEN, or the state dir's token file, made on first
 * run. A freshly made token is announced once on stderr with how to use it on the lab's other machines.
 */
export function resolveToken(values: Record<string, unknown>, stateDir: string): string {
  const given = (values.token as string | undefined) ?? (process.env.PIPEFITTER_TOKEN || undefined);
  if (given !== undefined) {
    if (!isValidToken(given))
      throw new UsageError(
        'the token must look like pf1.<32 hex digits> (see <state-dir>/token on the first machine)',
      );
    return given;
  }
  const file = values['token-file'] as string | undefined;
  if (file) return readTokenFile(file);
  const source = loadOrCreateToken(stateDir);
  if (source.created) {
    process.stderr.write(
      `Created this lab's join token: ${source.token}\n` +
        `  kept in ${source.file}. Start agents on the lab's other machines with:\n` +
        `  pipefitter agent --token ${source.token}\n`,
    );
  }
  return source.token;
}

/**
 * A coordinator for a command that looks at the lab (nodes, runs): the trust options, `--cluster`,
 * `--beacon-port` and `--peer` addresses, a peer that cannot be added said on stderr; started.
 */
export async function startLabCoordinator(values: Record<string, unknown>): Promise<Coordinator> {
  const stateDir = stateDirFrom(values);
  const token = resolveToken(values, stateDir);
  const coordinator = new Coordinator({
    stateDir,
    token,
    cluster: values.cluster as string | undefined,
    beaconPort: intOption(values['beacon-port'], 'beacon-port', 1, 65535),
    peers: values.peer as string[] | undefined,
  });
  coordinator.on('peerError', (peer, message) =>
    process.stderr.write(`peer ${peer}: ${message}\n`),
  );
  await coordinator.start();
  return coordinator;
}

/**
 * `--chunks V` as `plan` and `train` take it: 1 to MAX_CHUNKS, and only with the interleaved schedule
 * (`schedule` null: not chosen yet, the planner compares them all).
 */
export function chunksOption(value: unknown, schedule: ScheduleKind | null): number | undefined {
  const chunks = intOption(value, 'chunks', 1, MAX_CHUNKS);
  if (chunks !== undefined && schedule !== null && schedule !== 'interleaved-1f1b')
    throw new UsageError(
      `--chunks applies to --schedule interleaved-1f1b only (${schedule} holds one chunk a stage)`,
    );
  return chunks;
}
