import fs from 'node:fs';

/**
 * A run file: one JSON record per line, only ever appended. Each record is written with a single
 * write of "json\n", so after a crash or SIGKILL at most the last line is torn; the reader keeps every
 * line that ends in a newline and parses, and drops a torn tail instead of failing the whole run.
 */
export class RunFileWriter {
  private fd: number;

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'a');
    // A torn tail from an earlier process must not swallow our first record: start on a fresh line.
    const size = fs.fstatSync(this.fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      const rfd = fs.openSync(file, 'r');
      try {
        fs.readSync(rfd, last, 0, 1, size - 1);
      } finally {
        fs.closeSync(rfd);
      }
      if (last[0] !== 0x0a) fs.writeSync(this.fd, '\n');
    }
  }

  append(record: unknown): void {
    if (this.fd < 0) throw new Error(`${this.file} is closed: nothing more can be recorded there`);
    fs.writeSync(this.fd, JSON.stringify(record) + '\n');
  }

  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

export interface ReadResult<T> {
  records: T[];
  /** Lines that did not parse or validate (a torn tail, or a line broken by a crash before a restart). */
  dropped: number;
}

/** Reads every complete, valid record; `validate` returns null for a record it refuses. */
export function readRunFile<T>(file: string, validate: (v: unknown) => T | null): ReadResult<T> {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  // The piece after the last newline is either empty or a torn write.
  const tail = lines.pop() ?? '';
  let dropped = tail.length > 0 ? 1 : 0;
  const records: T[] = [];
  for (const line of lines) {
    if (line.length === 0) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      dropped++;
      continue;
    }
    const v = validate(parsed);
    if (v === null) dropped++;
    else records.push(v);
  }
  return { records, dropped };
}
