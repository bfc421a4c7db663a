import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selfCommand } from '../util/selfCommand.js';
import { stopChild } from '../util/childProcess.js';
import { spawnUntilReady, type ReadyLine } from '../util/readyLine.js';

export interface LocalAgent {
  name: string;
  port: number;
  nodeId: string;
  child: ChildProcess;
}

const PREFIX = 'pipefitter-local-';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `pipefitter-local-*` dirs that a `--local` run left behind: their owner (the CLI that made
 * them) is dead, or, for a dir without an owner file (an older version's), it is over an hour old. An
 * agent that was itself SIGKILLed cannot remove its own dir; the next `--local` run does.
 */
export function sweepStaleLocalDirs(root = os.tmpdir()): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(root).filter((n) => n.startsWith(PREFIX));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = path.join(root, name);
    try {
      const st = fs.lstatSync(dir);
      if (!st.isDirectory() || st.uid !== process.getuid?.()) continue;
      let stale: boolean;
      try {
        const pid = Number(fs.readFileSync(path.join(dir, 'owner'), 'utf8').trim());
        stale = !Number.isInteger(pid) || pid <= 0 || !alive(pid);
      } catch {
        stale = Date.now() - st.mtimeMs > 3600_000;
      }
      if (stale) {
        fs.rmSync(dir, { recursive: true, force: true });
        removed.push(dir);
      }
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

/**
 * `--local N`: N agents on this machine, on loopback only, for one command's lifetime, sharing the
 * caller's token. Each has its own state dir under the temp dir (with its secret key), which the agent
 * removes when it exits (`--remove-state-dir`), and an agent exits when our pipe to it closes
 * (`--exit-with-stdin`): so a SIGKILLed CLI leaves no key behind. Each dir names its owner, our pid, so
 * a later run sweeps what an agent killed outright could not remove.
 */
export class LocalAgents {
  readonly agents: LocalAgent[] = [];
  private readonly dirs: string[] = [];

  async start(n: number, token: string): Promise<LocalAgent[]> {
    sweepStaleLocalDirs();
    const beaconPort = 40000 + Math.floor(Math.random() * 20000);
    const started = await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const name = `local-${i + 1}`;
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), PREFIX));
        fs.writeFileSync(path.join(dir, 'owner'), `${process.pid}\n`, { mode: 0o600 });
        this.dirs.push(dir);
        const [cmd, args] = selfCommand(
          'agent',
          '--json',
          '--exit-with-stdin',
          '--remove-state-dir',
          '--name',
          name,
          '--state-dir',
          dir,
          '--token',
          token,
          '--interface',
          'lo',
          '--port',
          '0',
          '--beacon-port',
          String(beaconPort),
        );
        let err = '';
        return spawnUntilReady<ReadyLine & { controlPort: number; nodeId: string }>(cmd, args, {
          stdio: ['pipe', 'pipe', 'pipe'],
          onStderr: (d) => (err = (err + d).slice(-2000)),
          failure: (end) =>
            new Error(
              `local agent ${name} exited (${end?.code}) before it was ready: ${err.trim()}`,
            ),
        }).then(({ child, ready }) => ({
          name,
          port: ready.controlPort,
          nodeId: ready.nodeId,
          child,
        }));
      }),
    );
    this.agents.push(...started);
    return started;
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => stopChild(a.child, 3000)));
    for (const dir of this.dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}
