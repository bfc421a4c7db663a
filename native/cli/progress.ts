/** A one-line progress display for terminals: rewritten in place, at most ten times a second. */
export class ProgressLine {
  private last = 0;
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(text: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    if (this.out.isTTY) this.out.write(`\r\x1b[2K${text}`);
    else if (force) this.out.write(text + '\n');
    this.shown = true;
  }

  /** Prints a line above the progress line. */
  log(text: string): void {
    if (this.out.isTTY && this.shown) this.out.write('\r\x1b[2K');
    this.out.write(text + '\n');
  }

  end(): void {
    if (this.out.isTTY && this.shown) this.out.write('\n');
  }
}

export function bar(fraction: number, width = 24): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.floor(f * width);
  return `[${'='.repeat(full)}${full < width ? '>' : ''}${' '.repeat(Math.max(0, width - full - 1))}]`;
}

export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '--:--';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
