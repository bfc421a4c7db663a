import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnUntilReady } from '../../native/util/readyLine.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const CLI = path.join(ROOT, 'bin', 'pipefitter.js');

/**
 * Runs the CLI to its end and resolves with its stdout (in network namespace `netns`, where given);
 * a failure or a run past `timeoutMs` rejects with its stderr.
 */
export function runCli(
  args: string[],
  opts: { netns?: string; timeoutMs?: number } = {},
): Promise<string> {
  const cmd = [process.execPath, CLI, ...args];
  const [file, ...rest] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...cmd] : cmd;
  return new Promise((resolve, reject) =>
    execFile(file!, rest, { timeout: opts.timeoutMs ?? 30_000 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out),
    ),
  );
}
export const TEST_TOKEN = 'pf1.0123456789abcdef0123456789abcdef';

export function tempDir(prefix = 'pf-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A UDP port for one test's beacons, so parallel or leftover runs never hear each other. */
export function testBeaconPort(): number {
  return 40000 + Math.floor(Math.random() * 20000);
}

export interface AgentReady {
  event: 'ready';
  nodeId: string;
  name: string;
  controlPort: number;
  telemetryPort: number;
  pid: number;
}

export interface RunningAgent {
  proc: ChildProcess;
  ready: AgentReady;
  stateDir: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

export interface AgentSpec {
  name: string;
  beaconPort: number;
  token?: string;
  stateDir?: string;
  port?: number;
  args?: string[];
  /** Run inside a network namespace (multi-host tests): prefix the command with `ip netns exec NS`. */
  netns?: string;
  iface?: string;
  /** More environment for the agent (and the stage processes it starts). */
  env?: Record<string, string>;
}

/** Starts a real `pipefitter agent` process on loopback and waits for its ready line. */
export async function startAgent(spec: AgentSpec): Promise<RunningAgent> {
  const stateDir = spec.stateDir ?? tempDir(`pf-agent-${spec.name}-`);
  const args = [
    CLI,
    'agent',
    '--json',
    '--no-benchmark',
    '--name',
    spec.name,
    '--state-dir',
    stateDir,
    '--token',
    spec.token ?? TEST_TOKEN,
    '--interface',
    spec.iface ?? 'lo',
    '--port',
    String(spec.port ?? 0),
    '--beacon-port',
    String(spec.beaconPort),
    ...(spec.args ?? []),
  ];
  const [cmd, argv] = spec.netns
    ? ['ip', ['netns', 'exec', spec.netns, process.execPath, ...args]]
    : [process.execPath, args];
  let log = '';
  const { child, ready, exited } = await spawnUntilReady<AgentReady>(cmd, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(spec.env ? { env: { ...process.env, ...spec.env } } : {}),
    timeoutMs: 20_000,
    onStderr: (d) => (log += d),
    onLine: (line) => (log += line + '\n'),
    failure: (end) =>
      new Error(
        end
          ? `agent ${spec.name} exited (${end.code ?? end.signal}) before ready:\n${log}`
          : `agent ${spec.name} not ready in 20 s:\n${log}`,
      ),
  });
  return { proc: child, ready, stateDir, exited, output: () => log };
}

/**
 * An agent on each namespace host of a test LAN, named host-1, host-2, …, on the default control port
 * (each namespace has its own port space) and bound to the host's interface.
 */
export function startHostAgents(
  hosts: readonly { ns: string; iface: string }[],
  beaconPort: number,
): Promise<RunningAgent[]> {
  return Promise.all(
    hosts.map((h, i) =>
      startAgent({ name: `host-${i + 1}`, beaconPort, netns: h.ns, iface: h.iface, port: 47801 }),
    ),
  );
}

export async function stopAgent(
  a: RunningAgent,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (a.proc.exitCode === null && a.proc.signalCode === null) a.proc.kill(signal);
  return a.exited;
}

/** Polls until `pred` returns a truthy value, or fails after `timeoutMs` with `what`. Returns the elapsed ms. */
export async function waitUntil(
  pred: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const started = Date.now();
  while (!pred()) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}
