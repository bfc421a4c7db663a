import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import readline from 'node:readline';
import type { Readable } from 'node:stream';

/** The line a Pipefitter child prints on stdout once it serves (`{"event":"ready", …}`). */
export interface ReadyLine {
  event: 'ready';
  [field: string]: unknown;
}

const isReadyLine = (msg: unknown): msg is ReadyLine =>
  typeof msg === 'object' && msg !== null && (msg as { event?: unknown }).event === 'ready';

export interface ReadyLineHandlers {
  /** Every stdout line, as read. */
  onLine?(line: string): void;
  /** A line that is not JSON (a child's stray output). */
  onText?(line: string): void;
}

/**
 * Reads a child's JSON-lines stdout: `onReady` gets the first ready line, once. It keeps reading after
 * that, so the pipe never fills however much the child prints.
 */
export function watchReadyLine(
  stdout: Readable,
  onReady: (msg: ReadyLine) => void,
  handlers: ReadyLineHandlers = {},
): void {
  let ready = false;
  readline.createInterface({ input: stdout }).on('line', (line) => {
    handlers.onLine?.(line);
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      handlers.onText?.(line);
      return;
    }
    if (!ready && isReadyLine(msg)) {
      ready = true;
      onReady(msg);
    }
  });
}

export interface ChildEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnReadyOptions extends SpawnOptions {
  /** Give up after this long without a ready line; the child is killed (SIGKILL) then. */
  timeoutMs?: number;
  onLine?(line: string): void;
  onStderr?(chunk: string): void;
  /** The error to fail with: how the child ended before it was ready, or null when it timed out. */
  failure(end: ChildEnd | null): Error;
}

export interface ReadyChild<T extends { event: 'ready' }> {
  child: ChildProcess;
  ready: T;
  /** Settles when the child exits, whenever that is. */
  exited: Promise<ChildEnd>;
}

/**
 * Spawns a child (stdout piped) and resolves with its ready line. Fails with `failure(end)` if it exits
 * first, `failure(null)` after `timeoutMs` (the child killed), or the spawn error itself (a missing
 * executable).
 */
export function spawnUntilReady<T extends { event: 'ready' } = ReadyLine>(
  command: string,
  args: readonly string[],
  options: SpawnReadyOptions,
): Promise<ReadyChild<T>> {
  const { timeoutMs, onLine, onStderr, failure, ...spawnOptions } = options;
  const child = spawn(command, args, spawnOptions);
  if (onStderr) child.stderr?.on('data', (d: Buffer) => onStderr(d.toString()));
  const exited = new Promise<ChildEnd>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise<ReadyChild<T>>((resolve, reject) => {
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(failure(null));
          }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    watchReadyLine(
      child.stdout!,
      (msg) => {
        clearTimeout(timer);
        resolve({ child, ready: msg as unknown as T, exited });
      },
      { onLine },
    );
    void exited.then((end) => {
      clearTimeout(timer);
      reject(failure(end));
    });
  });
}
