import path from 'node:path';
import type { RunHostClient } from './runHostClient.js';
import type { RunDriver, RunRecord } from './runSchemas.js';
import type { RunRecorder } from './runStore.js';

/** A driver out of reach does not end the copy: the run goes on there, and we read on when it answers. */
const NO_SILENCE_LIMIT = Number.POSITIVE_INFINITY;

/**
 * This process's copy of a run an agent drives: every record the driver wrote, from the copy's own
 * count on, with the same seq and time, so the run reads here exactly as there; the trained model is
 * fetched beside it when the driver records it. It follows until the run's end, however long the
 * driver is out of reach, or until `detach` (the app closes: the run goes on without us).
 */
export class DrivenRunCopy {
  /** Settles once the first record is copied (the run's summary exists here from then on). */
  readonly recorded: Promise<void>;
  /** Resolves when every stage trains; rejects with why when the run ends before that. */
  readonly started: Promise<void>;
  /** Resolves when the end record is copied, or the copy is detached or fails. */
  readonly ended: Promise<void>;
  private readonly abort = new AbortController();
  private settle!: {
    recorded: () => void;
    started: () => void;
    notStarted: (e: Error) => void;
  };

  /**
   * `opts.followMoves`: when the driver is lost and another agent takes the run over, follow it there
   * (the app; a standby follows only the driver it stands by for). `opts.onRecord` sees each record
   * once it is copied.
   */
  constructor(
    private readonly client: RunHostClient,
    private current: RunDriver,
    private readonly recorder: RunRecorder,
    private readonly log: (line: string) => void = () => {},
    private readonly opts: { followMoves?: boolean; onRecord?: (r: RunRecord) => void } = {},
  ) {
    let recorded!: () => void;
    this.recorded = new Promise((r) => (recorded = r));
    let started!: () => void;
    let notStarted!: (e: Error) => void;
    this.started = new Promise((res, rej) => ((started = res), (notStarted = rej)));
    this.started.catch(() => {});
    this.settle = { recorded, started, notStarted };
    this.ended = this.copy();
  }

  /** The agent driving the run, as far as this copy knows. */
  get driver(): RunDriver {
    return this.current;
  }

  /** Stops reading; the run goes on at its driver, and a later copy catches up from here. */
  detach(): void {
    this.abort.abort();
  }

  private async copy(): Promise<void> {
    const id = this.recorder.id;
    try {
      const records = this.opts.followMoves
        ? this.client.followAnywhere(this.current, id, this.recorder.count, {
            signal: this.abort.signal,
            giveUpMs: NO_SILENCE_LIMIT,
            onDriver: (d) => {
              this.log(`run ${id}: ${this.current.name} is lost; ${d.name} drives it now`);
              this.current = d;
            },
          })
        : this.client.follow(this.current.nodeId, id, this.recorder.count, {
            signal: this.abort.signal,
            silenceMs: NO_SILENCE_LIMIT,
          });
      for await (const record of records) {
        this.recorder.copy(await this.local(record));
        this.opts.onRecord?.(record);
        this.settle.recorded();
        // A run resumed after it ended goes on with `resumed` where a new one has `started`.
        if (
          record.kind === 'event' &&
          (record.event.type === 'started' || record.event.type === 'resumed')
        )
          this.settle.started();
        if (record.kind === 'end') {
          this.settle.notStarted(new Error(record.message ?? `the run ${record.status}`));
          return;
        }
      }
      this.settle.notStarted(new Error('stopped reading the run'));
    } catch (err) {
      this.log(`run ${id} on ${this.current.name}: ${(err as Error).message}`);
      this.settle.notStarted(err as Error);
    } finally {
      this.settle.recorded();
      this.recorder.close();
    }
  }

  /** The record as kept here: the meta names the driver; the model is fetched and points here. */
  private async local(record: RunRecord): Promise<RunRecord> {
    if (record.kind === 'meta') return { ...record, driver: this.current };
    if (record.kind !== 'model') return record;
    try {
      const file = await this.client.fetchModel(
        this.current.nodeId,
        this.recorder.id,
        path.join(this.recorder.dir, 'model'),
      );
      return { ...record, path: file };
    } catch (err) {
      this.log(
        `run ${this.recorder.id}: the trained model stays on ${this.current.name}: ${(err as Error).message}`,
      );
      return record;
    }
  }
}
