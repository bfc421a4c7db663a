import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import { stageProcessEnv } from '../backend/gpuPinning.js';
import type { StageHostBoot } from '../pipeline/stageProtocol.js';
import { selfCommand } from '../util/selfCommand.js';
import { stopChild } from '../util/childProcess.js';

/** Dawn's notices on every device it opens: not news to anyone reading a stage's log. */
const DAWN_NOISE = /artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit/;

interface StageProcess {
  runId: string;
  stageIndex: number;
  replica: number;
  child: ChildProcess;
  lastError: string | null;
}

export interface StageStatus {
  state: 'running' | 'exited' | 'unknown';
  code: number | null;
  signal: string | null;
  lastError: string | null;
}

/** How many ended stages are remembered (for `status`), oldest forgotten first. */
const MAX_ENDED = 64;
const key = (runId: string, stageIndex: number, replica: number) =>
  `${runId}\u0000${stageIndex}\u0000${replica}`;

/**
 * The agent's stage-host children: one process per pipeline stage, so a machine hosts several stages
 * (one per GPU, pinned with CUDA_VISIBLE_DEVICES). A child reads its boot line on stdin and exits when
 * stdin closes, so stages never outlive their agent, whatever kills it.
 */
export class StageProcesses {
  private readonly procs = new Set<StageProcess>();
  private readonly ended = new Map<string, StageStatus>();

  async spawn(
    boot: StageHostBoot,
    gpu: number | undefined,
    onLog: (line: string) => void,
    busId: string | null = null,
  ): Promise<{ port: number; pid: number }> {
    const [cmd, args] = selfCommand('__stage-host');
    const env = gpu === undefined ? process.env : stageProcessEnv({ gpu, busId });
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    const entry: StageProcess = {
      runId: boot.runId,
      stageIndex: boot.stageIndex,
      replica: boot.replica,
      child,
      lastError: null,
    };
    this.procs.add(entry);
    // How it ended is kept: a coordinator that lost the stage's connection asks (`status`).
    child.once('exit', (code, signal) => {
      this.procs.delete(entry);
      const k = key(entry.runId, entry.stageIndex, entry.replica);
      this.ended.delete(k);
      this.ended.set(k, { state: 'exited', code, signal, lastError: entry.lastError });
      if (this.ended.size > MAX_ENDED) this.ended.delete(this.ended.keys().next().value!);
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      for (const line of d.toString().split('\n'))
        if (line.trim() && !DAWN_NOISE.test(line)) {
          entry.lastError = line.trim().slice(0, 500);
          onLog(`stage ${boot.stageIndex} of ${boot.runId}: ${line}`);
        }
    });
    child.stdin!.on('error', () => {});
    child.stdin!.write(JSON.stringify(boot) + '\n');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`stage host for stage ${boot.stageIndex} did not start within 30 s`));
      }, 30_000);
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const msg = JSON.parse(line) as { event?: string; port?: number };
          if (msg.event === 'ready' && typeof msg.port === 'number') {
            clearTimeout(timer);
            resolve({ port: msg.port, pid: child.pid! });
          }
        } catch {
          // a log line
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `stage host for stage ${boot.stageIndex} exited (${code ?? signal}) before it was ready: ${stderr.trim().split('\n').pop() ?? ''}`,
          ),
        );
      });
    });
  }

  /** Stops a run's stage hosts (all runs when runId is undefined); resolves when they have exited. */
  async stop(runId?: string): Promise<number> {
    const victims = [...this.procs].filter((p) => runId === undefined || p.runId === runId);
    await Promise.all(victims.map((p) => stopChild(p.child, 2000)));
    return victims.length;
  }

  /** Whether a run's stage still runs, or how it ended; waits up to `waitMs` for a running one to end. */
  async status(runId: string, stageIndex: number, waitMs = 0, replica = 0): Promise<StageStatus> {
    const live = [...this.procs].find(
      (p) => p.runId === runId && p.stageIndex === stageIndex && p.replica === replica,
    );
    if (live && waitMs > 0)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        live.child.once('exit', () => {
          clearTimeout(timer);
          // After our own 'exit' listener (registered first) has recorded the ending.
          setImmediate(resolve);
        });
      });
    if (live && this.procs.has(live))
      return { state: 'running', code: null, signal: null, lastError: null };
    return (
      this.ended.get(key(runId, stageIndex, replica)) ?? {
        state: 'unknown',
        code: null,
        signal: null,
        lastError: null,
      }
    );
  }

  get count(): number {
    return this.procs.size;
  }
}
