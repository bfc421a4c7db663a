import fs from 'node:fs';
import path from 'node:path';
import { readRunFile, RunFileWriter } from './runFile.js';
import { RunRecordSchema, type RunRecord, type RunSummary } from './runSchemas.js';
import { applyRecord, isLive, summarize } from './summarize.js';

const RUN_FILE = 'run.jsonl';
const TRASH = '.trash';

export function parseRecord(v: unknown): RunRecord | null {
  const r = RunRecordSchema.safeParse(v);
  return r.success ? r.data : null;
}

/** A run being recorded: every record goes to disk before anyone else sees it. */
export interface RunRecorder {
  readonly id: string;
  readonly dir: string;
  append(record: DistributiveOmit<RunRecord, 'seq' | 't'>): RunRecord;
  /** A record of a run driven elsewhere, kept as it is (its seq must be the next one). */
  copy(record: RunRecord): void;
  /** How many records the run has. */
  readonly count: number;
  close(): void;
}

type DistributiveOmit<T, K extends keyof never> = T extends unknown ? Omit<T, K> : never;

/**
 * Every run under `<state-dir>/runs/<id>/run.jsonl`, with the trained model beside it. Opening the
 * store marks runs that were live when the app died as interrupted (appending an `end` record, so the
 * file itself says so). Delete is soft: a run moves to `.trash/` and can be restored until the store is
 * opened again, which empties the trash.
 */
export class RunStore {
  private readonly summaries = new Map<string, RunSummary>();

  /**
   * `interruptedWhy`: what a run still live in its file when the store opens says happened (its
   * driver, this process, had stopped).
   */
  constructor(
    readonly root: string,
    private readonly interruptedWhy = 'the app stopped while this run was live',
    /** This process's node id, when a run's driver may name it (an agent that took a run over). */
    private readonly selfId: string | null = null,
  ) {}

  open(): void {
    fs.mkdirSync(this.root, { recursive: true });
    fs.rmSync(path.join(this.root, TRASH), { recursive: true, force: true });
    for (const id of fs.readdirSync(this.root)) {
      const file = path.join(this.root, id, RUN_FILE);
      if (!fs.existsSync(file)) continue;
      const { records } = readRunFile(file, parseRecord);
      let s = summarize(records);
      if (!s) continue;
      // A run another agent drives went on without us: its reader catches up from the driver.
      if (isLive(s) && (!s.driver || s.driver.nodeId === this.selfId)) {
        const w = new RunFileWriter(file);
        const end: RunRecord = {
          kind: 'end',
          seq: records.length,
          t: Date.now(),
          status: 'interrupted',
          message: this.interruptedWhy,
        };
        w.append(end);
        w.close();
        s = applyRecord(s, end)!;
        // The last thing the run did, not the restart, is when it ended.
        const lastT = records.at(-1)!.t;
        s = { ...s, endedAt: lastT, durationMs: Math.max(0, lastT - s.startedAt) };
      }
      this.summaries.set(id, s);
    }
  }

  list(): RunSummary[] {
    return [...this.summaries.values()].sort((a, b) => b.startedAt - a.startedAt);
  }

  get(id: string): RunSummary | undefined {
    return this.summaries.get(id);
  }

  dirOf(id: string): string {
    return path.join(this.root, id);
  }

  read(id: string): RunRecord[] {
    const file = path.join(this.dirOf(id), RUN_FILE);
    if (!this.summaries.has(id) || !fs.existsSync(file)) throw new Error(`no run with id ${id}`);
    return readRunFile(file, parseRecord).records;
  }

  create(id: string, onRecord: (r: RunRecord, s: RunSummary) => void): RunRecorder {
    const dir = this.dirOf(id);
    fs.mkdirSync(dir, { recursive: true });
    return this.recorder(id, 0, onRecord);
  }

  /** Goes on recording a run already on disk (a driven run's copy, after a restart). */
  reopen(id: string, onRecord: (r: RunRecord, s: RunSummary) => void): RunRecorder {
    return this.recorder(id, this.read(id).length, onRecord);
  }

  private recorder(
    id: string,
    first: number,
    onRecord: (r: RunRecord, s: RunSummary) => void,
  ): RunRecorder {
    const dir = this.dirOf(id);
    const writer = new RunFileWriter(path.join(dir, RUN_FILE));
    let seq = first;
    const write = (record: RunRecord) => {
      writer.append(record);
      seq++;
      const s = applyRecord(this.summaries.get(id) ?? null, record);
      if (s) {
        this.summaries.set(id, s);
        onRecord(record, s);
      }
    };
    return {
      id,
      dir,
      get count() {
        return seq;
      },
      append: (partial) => {
        const record = { ...partial, seq, t: Date.now() } as RunRecord;
        write(record);
        return record;
      },
      copy: (record) => {
        if (record.seq !== seq)
          throw new Error(`run ${id}: record ${record.seq} arrived where ${seq} was due`);
        write(record);
      },
      close: () => writer.close(),
    };
  }

  /** Moves a finished run to the trash; `restore` brings it back until the store is reopened. */
  delete(id: string): void {
    const s = this.summaries.get(id);
    if (!s) throw new Error(`no run with id ${id}`);
    if (isLive(s)) throw new Error(`run "${s.name}" is still running: stop it first`);
    fs.mkdirSync(path.join(this.root, TRASH), { recursive: true });
    fs.renameSync(this.dirOf(id), path.join(this.root, TRASH, id));
    this.summaries.delete(id);
  }

  restore(id: string): RunSummary {
    const from = path.join(this.root, TRASH, id);
    if (!fs.existsSync(from)) throw new Error(`run ${id} is not in the trash any more`);
    fs.renameSync(from, this.dirOf(id));
    const s = summarize(this.read0(id));
    if (!s) throw new Error(`run ${id} has no readable records`);
    this.summaries.set(id, s);
    return s;
  }

  private read0(id: string): RunRecord[] {
    return readRunFile(path.join(this.dirOf(id), RUN_FILE), parseRecord).records;
  }
}
