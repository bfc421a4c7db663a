import type { ChildProcess } from 'node:child_process';
import { spawnUntilReady, type ReadyLine } from '../../native/util/readyLine.js';
import { CLI, TEST_TOKEN, tempDir } from './agents.js';

export interface RunningWeb {
  proc: ChildProcess;
  url: string;
  port: number;
  token: string;
  stateDir: string;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts `pipefitter web` (browser mode) on 127.0.0.1 with a free port; no embedded agent unless asked. */
export async function startWeb(o: {
  beaconPort: number;
  args?: string[];
  localAgent?: boolean;
  /** Reuse a state dir (a restart of the same app); a fresh one otherwise. */
  stateDir?: string;
}): Promise<RunningWeb> {
  const stateDir = o.stateDir ?? tempDir('pf-web-');
  let log = '';
  const {
    child: proc,
    ready,
    exited,
  } = await spawnUntilReady<ReadyLine & { url: string; port: number }>(
    process.execPath,
    [
      CLI,
      'web',
      '--json',
      '--port',
      '0',
      ...(o.localAgent ? [] : ['--no-local-agent']),
      '--state-dir',
      stateDir,
      '--token',
      TEST_TOKEN,
      '--beacon-port',
      String(o.beaconPort),
      ...(o.args ?? []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeoutMs: 20_000,
      onStderr: (d) => (log += d),
      onLine: (line) => (log += line + '\n'),
      failure: (end) =>
        new Error(end ? `web exited before ready:\n${log}` : `web not ready in 20 s:\n${log}`),
    },
  );
  return {
    proc,
    url: ready.url,
    port: ready.port,
    token: new URL(ready.url).searchParams.get('token')!,
    stateDir,
    output: () => log,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}
