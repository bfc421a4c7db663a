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

/**
 * `--local N`: N agents on this machine, on loopback only, for one command's lifetime. Each has its own
 * state dir under a temporary directory (removed at stop) and shares the caller's token.
 */
export class LocalAgents {
  readonly agents: LocalAgent[] = [];
  private readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'pipefitter-local-'));

  async start(n: number, token: string): Promise<LocalAgent[]> {
    const beaconPort = 40000 + Math.floor(Math.random() * 20000);
    const started = await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const name = `local-${i + 1}`;
        const [cmd, args] = selfCommand(
          'agent',
          '--json',
          '--exit-with-stdin',
          '--name',
          name,
          '--state-dir',
          path.join(this.root, name),
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
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}
