import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
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
  const proc = spawn(
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
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const ready = await new Promise<{ url: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`web not ready in 20 s:\n${log}`)), 20_000);
    readline.createInterface({ input: proc.stdout! }).on('line', (line) => {
      log += line + '\n';
      try {
        const msg = JSON.parse(line) as { event?: string; url: string; port: number };
        if (msg.event === 'ready') {
          clearTimeout(timer);
          resolve(msg);
        }
      } catch {
        // not JSON
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`web exited before ready:\n${log}`));
    });
  });
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
