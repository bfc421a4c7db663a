import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import readline from 'node:readline';
import { selfCommand } from '../util/selfCommand.js';
import type { LocalAgentStatus } from './schemas.js';
import { stopChild } from '../util/childProcess.js';
import { watchReadyLine } from '../util/readyLine.js';

export interface LocalAgentOptions {
  stateDir: string;
  token: string;
  cluster?: string;
  beaconPort?: number;
  /** Interface to bind and announce on; default all (what a lab machine wants). */
  interface?: string;
  /** Control port; default the agent's own (47801). 0 picks free ports. */
  port?: number;
  /** How to run `pipefitter`: [executable, args before "agent"]. Electron passes its own binary in node mode. */
  command?: [string, string[]];
  env?: NodeJS.ProcessEnv;
}

interface LocalAgentEvents {
  status: [LocalAgentStatus];
  log: [string];
}

/**
 * The workstation's own agent, run as a child process of the app (never in the app's process: a backend
 * probe or a benchmark must not stall the UI's engine), so a single machine shows itself with no set-up.
 */
export class LocalAgent extends EventEmitter<LocalAgentEvents> {
  private child: ChildProcess | null = null;
  private stopping = false;
  private _status: LocalAgentStatus = { enabled: false, state: 'off', nodeId: null, detail: null };

  constructor(private readonly opts: LocalAgentOptions) {
    super();
  }

  get status(): LocalAgentStatus {
    return this._status;
  }

  private set(s: Partial<LocalAgentStatus>): void {
    this._status = { ...this._status, ...s };
    this.emit('status', this._status);
  }

  start(): void {
    if (this.child) return;
    this.stopping = false;
    const [exe, pre] = this.opts.command ?? selfCommand();
    const args = [
      ...pre,
      'agent',
      '--json',
      '--exit-with-stdin',
      '--state-dir',
      this.opts.stateDir,
      '--token',
      this.opts.token,
    ];
    if (this.opts.cluster) args.push('--cluster', this.opts.cluster);
    if (this.opts.beaconPort !== undefined)
      args.push('--beacon-port', String(this.opts.beaconPort));
    if (this.opts.interface) args.push('--interface', this.opts.interface);
    if (this.opts.port !== undefined) args.push('--port', String(this.opts.port));
    this.set({ enabled: true, state: 'starting', nodeId: null, detail: null });
    const child = spawn(exe, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...this.opts.env },
    });
    this.child = child;
    const stderrTail: string[] = [];
    readline.createInterface({ input: child.stderr! }).on('line', (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 5) stderrTail.shift();
      this.emit('log', `local agent: ${line}`);
    });
    watchReadyLine(
      child.stdout!,
      (msg) =>
        this.set({
          state: 'running',
          nodeId: typeof msg.nodeId === 'string' ? msg.nodeId : null,
        }),
      { onText: (line) => this.emit('log', `local agent: ${line}`) },
    );
    child.on('error', (err) => this.set({ state: 'failed', detail: err.message }));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopping) return;
      const why = stderrTail.filter((l) => l.trim()).at(-1) ?? '';
      this.set({
        state: 'failed',
        nodeId: null,
        detail: `the local agent exited (${signal ?? `code ${code}`})${why ? `: ${why}` : ''}`,
      });
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.stopping = true;
    this.set({ enabled: false, state: 'off', nodeId: null, detail: null });
    if (!child || child.exitCode !== null) return;
    await stopChild(child, 3000);
    this.child = null;
  }
}
