/** How long one request waits, and what it fails with when nothing comes back in time. */
export interface RequestOptions {
  /** Omitted: the request waits until its reply or close(). */
  timeoutMs?: number;
  timeoutError?: () => Error;
}

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

/**
 * Requests waiting for their replies over one connection, matched by id: each id is answered at most
 * once (a late, unknown or repeated reply finds nothing), a request may time out on its own, and
 * close() fails every one still waiting and every one asked for afterwards. Environment-free: the
 * coordinator's ZeroMQ links and the browser's WebSocket host share it.
 */
export class RequestTable<T> {
  private readonly pending = new Map<string, Pending<T>>();
  private nextId = 1;
  private closedWith: (() => Error) | null = null;

  /**
   * Sends a request under a fresh id and waits for the reply to that id. `send` runs after the id is
   * registered, so a reply (or a failed send, through reject) can never arrive before it is awaited.
   */
  request(send: (id: string) => void, options: RequestOptions = {}): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith());
    const id = String(this.nextId++);
    return new Promise<T>((resolve, reject) => {
      const { timeoutMs, timeoutError } = options;
      const timer =
        timeoutMs === undefined
          ? null
          : setTimeout(() => {
              this.pending.delete(id);
              reject(timeoutError?.() ?? new Error(`no answer within ${timeoutMs} ms`));
            }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        send(id);
      } catch (err) {
        this.reject(id, err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Answers the request with this id; false when none is waiting for it. */
  resolve(id: string, value: T): boolean {
    const p = this.take(id);
    p?.resolve(value);
    return p !== undefined;
  }

  /** Fails the request with this id (an error reply, a send that failed); false when none waits. */
  reject(id: string, err: Error): boolean {
    const p = this.take(id);
    p?.reject(err);
    return p !== undefined;
  }

  /** Fails every waiting request with error(); later requests fail with it at once. */
  close(error: () => Error): void {
    this.closedWith = error;
    this.failAll(error);
  }

  /** Fails every waiting request with error() but keeps taking new ones (a connection that will return). */
  failAll(error: () => Error): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const p of waiting) {
      if (p.timer !== null) clearTimeout(p.timer);
      p.reject(error());
    }
  }

  get size(): number {
    return this.pending.size;
  }

  private take(id: string): Pending<T> | undefined {
    const p = this.pending.get(id);
    if (!p) return undefined;
    this.pending.delete(id);
    if (p.timer !== null) clearTimeout(p.timer);
    return p;
  }
}
